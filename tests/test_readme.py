"""The README's quickstart runs as written (with a stand-in episode)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest


def test_quickstart_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    readme = (Path(__file__).parents[1] / "README.md").read_text()
    code = re.search(r"## Quickstart\s+```python\n(.*?)```", readme, re.S)
    assert code is not None
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"run_episode": lambda config: config.start_distance < 10}
    exec(compile(code.group(1), "README.md", "exec"), namespace)
    assert (tmp_path / "curriculum.json").exists()
    curriculum = namespace["curriculum"]
    assert curriculum.stats()["num_completed"] == 10_000  # type: ignore[attr-defined]
