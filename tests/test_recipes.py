"""Smoke tests of the training recipes in examples/: a few thousand steps each, on CPU.

Each asserts that episodes complete in every worker, that every worker's scores reach the one
shared curriculum, that the curriculum's statistics are logged, and that a checkpoint of model
and curriculum resumes.
"""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from optional_deps import require

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def load_example(name: str) -> ModuleType:
    """Import ``examples/<name>.py`` as a module (kept in sys.modules for forked workers)."""
    spec = importlib.util.spec_from_file_location(name, EXAMPLES / f"{name}.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def checkpoint_completions(module: ModuleType, folder: Path, **kwargs: Any) -> float:
    with module.make_curriculum(**kwargs).make() as curriculum:
        curriculum.load(folder / "curriculum.json")
        return float(curriculum.stats()["num_completed"])


def test_minigrid_ppo_trains_logs_and_resumes(tmp_path: Path) -> None:
    require("minigrid")
    require("torch")
    recipe = load_example("minigrid_ppo")
    log, ckpt = tmp_path / "run.jsonl", tmp_path / "ckpt"
    common = ["--num-envs", "2", "--num-steps", "128", "--sizes", "5", "6", "--eval-episodes", "2"]
    common += ["--log", str(log), "--checkpoint", str(ckpt), "--eval-every", "4", "--tasks", "16"]
    first = recipe.train([*common, "--total-steps", "3072"])
    assert first["step"] == 3072
    assert all(n > 0 for n in first["episodes_per_env"])  # episodes complete in every worker
    assert first["final/num_completed"] == sum(first["episodes_per_env"])  # every score arrived
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(records) == 12
    assert all("curriculum/num_completed" in r and "loss/policy" in r for r in records)
    assert any(key.startswith("curriculum/label/doorkey-5/") for key in records[-1])
    assert {"eval/doorkey-5/success", "eval/doorkey-6/success"} <= records[-1].keys()

    saved = checkpoint_completions(recipe, ckpt, sizes=[5, 6], algorithm="lp", seed=1, num_active_tasks=16)
    resumed = recipe.train([*common, "--total-steps", "3584", "--resume"])
    assert resumed["step"] == 3584  # the model's step count continued
    assert resumed["final/num_completed"] == saved + sum(resumed["episodes_per_env"])


@pytest.mark.parametrize("argv", [["--resume"], ["--curriculum", "best"]])
def test_minigrid_ppo_rejects_bad_arguments(argv: list[str]) -> None:
    require("minigrid")
    recipe = load_example("minigrid_ppo")
    with pytest.raises(SystemExit):
        recipe.train(argv)
