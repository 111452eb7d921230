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

import numpy as np
import pytest

from agora.report import read_run_log
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
    first = recipe.train([*common, "--total-steps", "3072", "--run-log", str(tmp_path / "curriculum.jsonl")])
    assert first["step"] == 3072
    run_log = read_run_log(tmp_path / "curriculum.jsonl")
    assert run_log.processes == 2  # both workers' wrappers logged, and flushed at close
    assert run_log.total_episodes == sum(first["episodes_per_env"])
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


@pytest.mark.parametrize(("algorithm", "stat"), [("plr", "frac_seen"), ("learnability", "frac_judged")])
def test_minigrid_ppo_runs_the_other_curricula(tmp_path: Path, algorithm: str, stat: str) -> None:
    """PLR is scored by the trainer (value loss), learnability by the workers (success): either
    way every episode reaches the pool exactly once (twice would mean the workers' success scores
    were not dropped under PLR)."""
    require("minigrid")
    require("torch")
    recipe = load_example("minigrid_ppo")
    log = tmp_path / "run.jsonl"
    argv = ["--num-envs", "2", "--num-steps", "128", "--sizes", "5", "--eval-episodes", "1", "--tasks", "8"]
    out = recipe.train([*argv, "--curriculum", algorithm, "--total-steps", "2048", "--log", str(log)])
    assert all(n > 0 for n in out["episodes_per_env"])
    assert out["final/num_completed"] == sum(out["episodes_per_env"])
    last = json.loads(log.read_text().splitlines()[-1])
    assert f"curriculum/algorithm/{stat}" in last  # the algorithm's own statistics are logged


def test_minigrid_learner_scores_follow_episodes_across_rollouts() -> None:
    """Positive value loss per episode: the mean of max(A, 0) over its steps, an episode cut by
    the rollout's end continuing into the next rollout."""
    torch = require("torch")
    require("minigrid")
    recipe = load_example("minigrid_ppo")
    carry = np.zeros((2, 2))
    first = torch.tensor([[1.0, -1.0], [3.0, 2.0], [-2.0, 4.0]])  # (steps, envs)
    ids, scores = recipe.learner_scores(first, {(1, 0): 7}, carry)  # env 0's episode ends at step 1
    assert ids == [7]
    assert scores == pytest.approx([2.0])  # (1 + 3) / 2
    ids, scores = recipe.learner_scores(torch.tensor([[5.0, 0.0]]), {(0, 0): 8, (0, 1): 9}, carry)
    assert ids == [8, 9]
    assert scores == pytest.approx([5.0 / 2, 6.0 / 4])  # env 0: steps 2 (-2 -> 0) and 0'; env 1: all four
    assert not carry.any()


@pytest.mark.parametrize("argv", [["--resume"], ["--curriculum", "best"]])
def test_minigrid_ppo_rejects_bad_arguments(argv: list[str]) -> None:
    require("minigrid")
    recipe = load_example("minigrid_ppo")
    with pytest.raises(SystemExit):
        recipe.train(argv)


def run_puffer(recipe: ModuleType, tmp_path: Path, *argv: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    log = tmp_path / "puffer.jsonl"
    out = recipe.train(["--quiet", "--log", str(log), "--checkpoint", str(tmp_path / "ckpt"), *argv])
    return out, [json.loads(line) for line in log.read_text().splitlines()]


def check_every_env_reported(out: dict[str, Any], envs: int) -> None:
    """Every env completes one episode per MAX_STEPS steps: all of them must be in the pool."""
    episodes = out["final/agent_steps"] // (envs * 2) // 64  # 2 agents per env
    assert episodes >= 3
    assert envs * episodes <= out["final/num_completed"] <= envs * (episodes + 1)


def test_puffer_mettagrid_trains_logs_and_resumes(tmp_path: Path) -> None:
    require("pufferlib.pufferl")
    require("mettagrid")
    recipe = load_example("puffer_mettagrid")
    out, records = run_puffer(recipe, tmp_path, "--envs", "4", "--total-steps", "4096")
    assert out["final/agent_steps"] >= 4096
    check_every_env_reported(out, envs=4)
    logged = [r for r in records if "environment/env_curriculum/num_completed" in r]
    assert logged, "PuffeRL logged no curriculum statistics"
    assert any(key.startswith("environment/env_curriculum/label/side-") for key in logged[-1])

    saved = checkpoint_completions(recipe, tmp_path / "ckpt", algorithm="lp", seed=0, num_active_tasks=64)
    resumed, _ = run_puffer(recipe, tmp_path, "--envs", "4", "--total-steps", "6144", "--resume")
    assert resumed["final/agent_steps"] >= 6144
    assert resumed["final/agent_steps"] - out["final/agent_steps"] < 4096  # continued, not restarted
    assert resumed["final/num_completed"] > saved


def test_puffer_mettagrid_multiprocessing_workers_share_the_curriculum(tmp_path: Path) -> None:
    require("pufferlib.pufferl")
    require("mettagrid")
    recipe = load_example("puffer_mettagrid")
    argv = ["--envs", "4", "--workers", "2", "--backend", "multiprocessing", "--total-steps", "3072"]
    out, _ = run_puffer(recipe, tmp_path, *argv)
    check_every_env_reported(out, envs=4)


def test_torch_advantage_matches_a_reference_loop() -> None:
    torch = require("torch")
    require("pufferlib.pufferl")
    recipe = load_example("puffer_mettagrid")
    gen = torch.Generator().manual_seed(0)
    values, rewards, ratio = (torch.rand(3, 6, generator=gen) for _ in range(3))
    terminals = (torch.rand(3, 6, generator=gen) < 0.3).float()
    out = recipe.puff_advantage(values, rewards, terminals, ratio * 2, torch.zeros(3, 6), 0.9, 0.8, 1.0, 1.5)
    for row in range(3):
        last = 0.0
        for t in range(4, -1, -1):
            not_done = 1.0 - float(terminals[row, t + 1])
            r = float(ratio[row, t]) * 2
            delta = min(r, 1.0) * (float(rewards[row, t + 1]) + 0.9 * float(values[row, t + 1]) * not_done)
            delta -= min(r, 1.0) * float(values[row, t])
            last = delta + 0.9 * 0.8 * min(r, 1.5) * last * not_done
            assert float(out[row, t]) == pytest.approx(last, rel=1e-5)
        assert float(out[row, 5]) == 0.0
