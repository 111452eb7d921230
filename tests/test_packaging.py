"""Packaging: the wheel builds, installs into a clean venv with its declared dependencies, and works."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest

import agora

ROOT = Path(__file__).resolve().parent.parent
VERSION = "1.2.3"

SMOKE = textwrap.dedent(
    """
    import sys, tempfile, os
    from pydantic import BaseModel
    import agora

    class Maze(BaseModel):
        size: int = 5

    assert agora.__file__.startswith(sys.prefix), agora.__file__
    missing = [name for name in agora.__all__ if not hasattr(agora, name)]
    assert not missing, missing
    generator = agora.bucketed(Maze()).add_bucket("size", [agora.Span(3, 9)])
    curriculum = generator.to_curriculum(num_active_tasks=8, seed=1).make()
    for _ in range(50):
        task = curriculum.get_task()
        assert 3 <= task.get_env_cfg().size <= 9
        task.complete(task.get_env_cfg().size / 9)
    path = os.path.join(tempfile.mkdtemp(), "ckpt.json")
    curriculum.save(path)
    twin = generator.to_curriculum(num_active_tasks=8, seed=1).make()
    twin.load(path)
    assert [twin.get_task().task_id for _ in range(20)] == [curriculum.get_task().task_id for _ in range(20)]
    print(agora.__version__, int(curriculum.stats()["num_completed"]))
    """
)

IGNORED = shutil.ignore_patterns(
    ".git", ".venv", "__pycache__", "*.egg-info", "dist", "build", ".*_cache", ".coverage*", "htmlcov",
    "_version.py", "agora-demo", "tests",
)  # fmt: skip


def run(*command: str | Path, cwd: Path, env: dict[str, str]) -> str:
    result = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_public_names_exist() -> None:
    assert agora.__all__
    assert [name for name in agora.__all__ if not hasattr(agora, name)] == []
    assert isinstance(agora.__version__, str)


@pytest.mark.slow
def test_wheel_installs_into_a_clean_venv(tmp_path: Path) -> None:
    # A clean environment: no source tree on the path, no coverage hooks from this process.
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "COV_CORE", "COVERAGE", "VIRTUAL"))
    }
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"

    # A copy of the source tree as its own git repository, tagged, so hatch-vcs derives the version.
    source = tmp_path / "source"
    shutil.copytree(ROOT, source, ignore=IGNORED)
    git = ("git", "-c", "user.name=agora-tests", "-c", "user.email=tests@example.invalid")
    run(*git, "init", "-q", cwd=source, env=env)
    run(*git, "add", "-A", cwd=source, env=env)
    run(*git, "commit", "-qm", "release", cwd=source, env=env)
    run(*git, "tag", f"v{VERSION}", cwd=source, env=env)

    dist = tmp_path / "dist"
    run(sys.executable, "-m", "build", "--wheel", "--outdir", dist, source, cwd=tmp_path, env=env)
    (wheel,) = dist.glob("*.whl")
    assert wheel.name == f"agora_rl-{VERSION}-py3-none-any.whl"
    names = zipfile.ZipFile(wheel).namelist()
    assert "agora/__init__.py" in names
    assert "agora/py.typed" in names
    assert "agora/_version.py" in names
    assert not [name for name in names if name.startswith(("tests/", "src/"))]

    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", venv, cwd=tmp_path, env=env)
    python = venv / "bin" / "python"
    run(python, "-m", "pip", "install", "-q", wheel, cwd=tmp_path, env=env)
    out = run(python, "-c", SMOKE, cwd=tmp_path, env=env)
    assert out.split() == [VERSION, "50"]
