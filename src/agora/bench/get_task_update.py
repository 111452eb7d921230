"""Per-episode cost of the curriculum API with uniform sampling, by pool size.

Times ``get_task`` plus ``update_task_performance`` (refreshes included, amortised over the
episodes), which is what a training loop pays per episode besides the environment. The cost
should not grow with the pool; the pool's memory does, linearly.
"""

from __future__ import annotations

import random
import time

from agora.algorithms import DiscreteRandomConfig
from agora.bench import BenchResult, progress
from agora.curriculum import CurriculumConfig
from agora.demo.env import GridTask
from agora.generators import SingleTaskGenerator

__all__ = ["run"]


def run(quick: bool) -> BenchResult:
    sizes = (1_000, 10_000) if quick else (1_000, 10_000, 100_000)
    episodes = 5_000 if quick else 50_000
    rows: list[list[object]] = []
    for size in sizes:
        progress(f"pool size {size:,}: {episodes:,} episodes")
        config = CurriculumConfig(
            task_generator=SingleTaskGenerator.Config(env=GridTask()),
            num_active_tasks=size,
            algorithm_config=DiscreteRandomConfig(),
        )
        curriculum = config.make()
        rng = random.Random(size)
        scores = [rng.random() for _ in range(episodes)]
        start = time.perf_counter()
        for score in scores:
            task = curriculum.get_task()
            curriculum.update_task_performance(task.task_id, score)
        elapsed = time.perf_counter() - start
        per_task = curriculum.pool.nbytes() / size
        rows.append([size, episodes, config.effective_refresh_interval, elapsed / episodes * 1e6, per_task])
    return BenchResult(
        title="get_task + update_task_performance, uniform sampling (DiscreteRandom)",
        columns=["pool size", "episodes", "refresh interval", "µs / episode", "pool bytes / task"],
        rows=rows,
        notes=["Refreshes (every `refresh interval` episodes) are included, amortised over the episodes."],
    )
