"""A real small training run with a RunLog, for the report and inspect tests.

A simulated agent gets better at each maze size with practice, faster on small mazes, so
learning progress has something to find; the family has two labels, a discrete bucket and a
continuous ``Span`` bucket.
"""

from __future__ import annotations

import random
from pathlib import Path

from pydantic import BaseModel

import agora


class Corridor(BaseModel):
    length: int = 3
    slip: float = 0.0


def family() -> agora.TaskGeneratorSet.Config:
    short = agora.bucketed(Corridor(), label="short").add_bucket("length", [2, 3])
    long = agora.bucketed(Corridor(), label="long").add_bucket("length", [5, 8])
    for generator in (short, long):
        generator.add_bucket("slip", [agora.Span(0.0, 0.2), 0.5])
    return agora.merge([short, long])


def real_run(folder: Path, episodes: int = 3000, seed: int = 0) -> tuple[Path, Path]:
    """Train for ``episodes`` episodes with a RunLog; returns the log and a final checkpoint."""
    config = family().to_curriculum(
        num_active_tasks=60, refresh_interval=10, seed=seed, algorithm_config=agora.LearningProgressConfig()
    )
    curriculum = config.make()
    log = folder / "run.jsonl"
    run_log = agora.RunLog(log, every=100, pool_every=500)
    rng = random.Random(seed)
    skill: dict[int, float] = {}
    for _ in range(episodes):
        task = curriculum.get_task()
        length = task.get_env_cfg().length
        skill[length] = min(1.0, skill.get(length, 0.0) + 0.02 / length)
        score = float(rng.random() < skill[length])
        task.complete(score)
        run_log.episode(curriculum, task, score)
    run_log.record(curriculum)
    checkpoint = folder / "curriculum.json"
    curriculum.save(checkpoint)
    return log, checkpoint


def play(curriculum: agora.Curriculum[Corridor], run_log: agora.RunLog, episodes: int) -> dict[str, int]:
    """``episodes`` episodes scored 1 on short corridors; returns the episodes played per label."""
    played: dict[str, int] = {}
    for _ in range(episodes):
        task = curriculum.get_task()
        score = float(task.get_env_cfg().length < 5)
        task.complete(score)
        run_log.episode(curriculum, task, score)
        label = task.get_label() or ""
        played[label] = played.get(label, 0) + 1
    return played


def play_in_a_process(run_log: agora.RunLog, seed: int, episodes: int) -> None:
    """A worker process's run: its own curriculum, the RunLog it was sent."""
    curriculum = family().to_curriculum(num_active_tasks=20, seed=seed).make()
    play(curriculum, run_log, episodes)
    run_log.flush(curriculum)
