"""Which tasks does a curriculum practise? A simulated agent with five kinds of task.

Each task is one of: ``learnable`` (success starts at 0.2 and rises with practice),
``impossible`` (always fails), ``mastered`` (always succeeds), ``noisy`` (succeeds half
the time, never changes) and ``forgetting`` (success decays over the run, whatever the
agent does). A good curriculum gives learnable and forgetting tasks more practice than
the stationary ones. The table is the evidence for the learning-progress defaults.
"""

from __future__ import annotations

import collections
from typing import Any

import numpy as np
from pydantic import BaseModel

from agora.algorithms.base import CurriculumAlgorithmConfig, DiscreteRandomConfig
from agora.algorithms.learning_progress import LearningProgressConfig
from agora.bench import progress
from agora.curriculum import Curriculum, CurriculumConfig
from agora.helpers import bucketed

__all__ = ["KINDS", "Kind", "kinds_config", "run", "samples_per_task", "success_probability"]

KINDS = ("learnable", "impossible", "mastered", "noisy", "forgetting")


class Kind(BaseModel):
    kind: str = "noisy"
    variant: int = 0


def kinds_config(
    algorithm: CurriculumAlgorithmConfig, kinds: tuple[str, ...] = KINDS, num_tasks: int = 40, seed: int = 0
) -> CurriculumConfig:
    """A fixed pool (no eviction) of tasks of the given kinds, refreshed every episode."""
    generator = bucketed(Kind()).add_bucket("kind", list(kinds)).add_bucket("variant", list(range(1000)))
    return CurriculumConfig(
        task_generator=generator,
        num_active_tasks=num_tasks,
        seed=seed,
        max_task_id=10**6,
        refresh_interval=1,
        min_presentations_for_eviction=10**9,
        algorithm_config=algorithm,
    )


def success_probability(kind: str, practice: int, progress: float) -> float:
    """Success chance of a task after ``practice`` episodes, at ``progress`` in [0, 1] of the run."""
    return {
        "learnable": min(1.0, 0.2 + practice / 1000),
        "impossible": 0.0,
        "mastered": 1.0,
        "noisy": 0.5,
        "forgetting": max(0.0, 1.0 - progress),
    }[kind]


def samples_per_task(curriculum: Curriculum[Any], episodes: int, seed: int) -> dict[str, float]:
    """Run the simulated agent; returns the mean number of episodes per task of each kind."""
    rng = np.random.default_rng(seed)
    practice: collections.Counter[int] = collections.Counter()
    samples: collections.Counter[str] = collections.Counter()
    for episode in range(episodes):
        task = curriculum.get_task()
        kind = task.get_env_cfg().kind
        practice[task.task_id] += 1
        samples[kind] += 1
        p = success_probability(kind, practice[task.task_id], episode / episodes)
        curriculum.update_task_performance(task.task_id, float(rng.random() < p))
    tasks = collections.Counter(curriculum.generated(t).config.kind for t in curriculum.active_task_ids())
    return {kind: samples[kind] / tasks[kind] for kind in tasks}


def mean_samples(
    algorithm: CurriculumAlgorithmConfig, kinds: tuple[str, ...], seeds: int, episodes: int = 6000
) -> dict[str, float]:
    runs = [
        samples_per_task(kinds_config(algorithm, kinds, seed=s).make(), episodes, s) for s in range(seeds)
    ]
    return {kind: float(np.mean([r[kind] for r in runs if kind in r])) for kind in kinds}


CANDIDATES: dict[str, CurriculumAlgorithmConfig] = {
    "uniform": DiscreteRandomConfig(),
    "LP, defaults": LearningProgressConfig(),
    "LP, paper (agora's earlier defaults)": LearningProgressConfig.paper(),
    "LP, paper, rand_task_rate=0.25": LearningProgressConfig.paper(rand_task_rate=0.25),
    "LP, defaults, proportional": LearningProgressConfig(lp_transform="proportional"),
}


def run(quick: bool = False) -> dict[str, Any]:
    seeds = 2 if quick else 20  # the pool's mix of kinds is random per seed: fewer seeds are noisy
    names = list(CANDIDATES)[:3] if quick else list(CANDIDATES)
    rows = []
    for name in names:
        progress(f"{name}: {seeds} seeds")
        stationary = mean_samples(CANDIDATES[name], ("learnable", "impossible", "mastered", "noisy"), seeds)
        drifting = mean_samples(CANDIDATES[name], ("forgetting", "mastered", "noisy"), seeds)
        edge = stationary["learnable"] / max(
            stationary["impossible"], stationary["mastered"], stationary["noisy"]
        )
        forget = drifting["forgetting"] / max(drifting["mastered"], drifting["noisy"])
        rows.append(
            [
                name,
                *(f"{stationary[k]:.0f}" for k in ("learnable", "impossible", "mastered", "noisy")),
                f"{edge:.2f}",
                f"{forget:.2f}",
            ]
        )
    return {
        "title": "Episodes per task by kind (40 tasks, 6,000 episodes, mean of seeds)",
        "columns": [
            "curriculum",
            "learnable",
            "impossible",
            "mastered",
            "noisy",
            "learnable / best other",
            "forgetting / best stationary",
        ],
        "rows": rows,
        "notes": [
            f"{seeds} seeds; pool of learnable/impossible/mastered/noisy tasks for the first columns, a "
            "second pool of forgetting/mastered/noisy tasks for the last one. Uniform gives ~150 each.",
        ],
    }
