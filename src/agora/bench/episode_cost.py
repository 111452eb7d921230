"""Per-episode cost of each curriculum algorithm, by pool size (issue 3 and 16 targets).

One episode's curriculum work is ``get_task`` + ``update_task_performance`` with a random
score (for PLR also as its priority, the channel PLR is fed through). The distribution is
refreshed every ``refresh_interval`` episodes, so timings are taken over whole refresh
windows (each window includes exactly one refresh and its evictions) and the median window
is reported: the refresh cost is included, amortised.
Memory is the pool buffer per task and everything the curriculum allocates (tracemalloc).
"""

from __future__ import annotations

import statistics
import time
import tracemalloc
from typing import Any

import numpy as np
from pydantic import BaseModel

from agora.algorithms.base import CurriculumAlgorithmConfig
from agora.algorithms.learnability import LearnabilityConfig
from agora.algorithms.learning_progress import LearningProgressConfig
from agora.algorithms.plr import PLRConfig
from agora.algorithms.sequential import SequentialConfig, Stage
from agora.bench import progress
from agora.curriculum import Curriculum, CurriculumConfig
from agora.generators.base import TaskGeneratorConfig
from agora.generators.staged import StagedTaskGenerator
from agora.helpers import bucketed

__all__ = ["run"]


class BenchTask(BaseModel):
    """A small config with one bucketed field, standing in for an environment config."""

    level: int = 0
    size: int = 8


ALGORITHMS = ("learning_progress", "plr", "learnability", "sequential")
"""What the table compares; sequential never evicts, so it has no maximum-eviction run."""


def _generator() -> TaskGeneratorConfig[Any]:
    return bucketed(BenchTask()).add_bucket("level", list(range(10))).add_bucket("size", [8, 12, 16])


def _algorithm(name: str, num_tasks: int, churn: bool) -> CurriculumAlgorithmConfig:
    """Defaults, or (``churn``) every task evictable as soon as the curriculum allows."""
    if name == "learning_progress":
        return (
            LearningProgressConfig(sample_threshold=1, ema_timescale=1.0)
            if churn
            else LearningProgressConfig()
        )
    if name == "plr":
        return PLRConfig()
    if name == "learnability":
        return LearnabilityConfig(min_outcomes=1) if churn else LearnabilityConfig()
    if name == "sequential":
        # Stage 0 ends during the warm-up (its tasks get ~5 outcomes each); timed in stage 1,
        # with replays of stage 0.
        return SequentialConfig(stages=[Stage(episodes=2 * num_tasks), Stage()], replay_earlier=0.2)
    raise ValueError(f"unknown algorithm {name!r}: one of {', '.join(ALGORITHMS)}")


def make_curriculum(
    num_tasks: int, seed: int = 0, churn: bool = False, algorithm: str = "learning_progress"
) -> Curriculum[BenchTask]:
    """The benchmark curriculum; ``churn`` makes every task evictable after 1 or 2 outcomes.

    With learning progress's defaults a task may be evicted only after ``sample_threshold +
    1/ema_timescale`` (44) outcomes, which a pool of a million tasks reaches after tens of
    millions of episodes. ``churn`` measures eviction at its maximum rate (one per episode) instead.
    """
    generator = _generator()
    if algorithm == "sequential":
        generator = StagedTaskGenerator.Config(stages=[_generator(), _generator()])
    config = CurriculumConfig(
        task_generator=generator,
        num_active_tasks=num_tasks,
        seed=seed,
        min_presentations_for_eviction=1 if churn else 5,
        algorithm_config=_algorithm(algorithm, num_tasks, churn),
    )
    return config.make()


def _episodes(curriculum: Curriculum[BenchTask], scores: list[float]) -> None:
    get_task, update = curriculum.get_task, curriculum.update_task_performance
    if curriculum.config.algorithm_config.type == "plr":  # the learner's priority channel
        for score in scores:
            update(get_task().task_id, score, priority=score)
        return
    for score in scores:
        update(get_task().task_id, score)


def episode_cost(
    num_tasks: int,
    windows: int,
    warmup_windows: int,
    seed: int = 0,
    churn: bool = False,
    algorithm: str = "learning_progress",
) -> dict[str, float]:
    # One-time imports (numpy.ma comes with the first eviction) and pydantic schema caches
    # stay out of the count.
    _episodes(make_curriculum(16, seed, churn=True, algorithm=algorithm), [0.5] * 64)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    curriculum = make_curriculum(num_tasks, seed, churn, algorithm)
    interval = curriculum.config.effective_refresh_interval
    rng = np.random.default_rng(seed)
    _episodes(curriculum, rng.random(interval * warmup_windows).tolist())
    allocated = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    evicted_before = curriculum.pool.counter("num_evicted")
    timings = []
    for _ in range(windows):
        scores = rng.random(interval).tolist()
        start = time.process_time()
        _episodes(curriculum, scores)
        timings.append((time.process_time() - start) / interval * 1e6)
    evictions = curriculum.pool.counter("num_evicted") - evicted_before
    return {
        "us_median": statistics.median(timings),
        "us_max": max(timings),
        "refresh_interval": interval,
        "evictions_per_1k": 1000 * evictions / (windows * interval),
        "pool_bytes_per_task": curriculum.pool.nbytes() / num_tasks,
        "total_bytes_per_task": allocated / num_tasks,
    }


def batch_cost(
    num_tasks: int, k: int, episodes: int, seed: int = 0, refresh: bool = True, rounds: int = 9
) -> dict[str, float]:
    """Single calls against get_tasks(k) + update_task_performance_many, µs per episode.

    Three curricula in the same state play the same scores: single calls, batches reported
    by id array (``batch.task_ids``) and batches reported by passing the ``TaskBatch`` back
    (its slots are checked instead of looked up). They run in alternating blocks of
    ``episodes`` (so drifts of the machine hit all three); medians over ``rounds`` blocks.
    Each path gets its scores as its callers have them: single calls Python floats, batches a
    numpy array (a vectorised trainer's returns). ``refresh=False`` leaves refreshes out of
    the timing (one refresh pre-draws every sample before it starts): what the calls cost.
    """
    rng = np.random.default_rng(seed)
    warmup = rng.random(episodes).tolist()
    arrays = [rng.random(episodes // k * k) for _ in range(rounds)]

    def fresh() -> Curriculum[BenchTask]:
        curriculum = make_curriculum(num_tasks, seed)
        if not refresh:
            total = episodes * (rounds + 1) + k
            curriculum = curriculum.config.model_copy(update={"refresh_interval": total}).make()
        _episodes(curriculum, warmup)
        return curriculum

    def batches(curriculum: Curriculum[BenchTask], scores: np.ndarray[Any, Any], pass_batch: bool) -> float:
        start = time.process_time()
        for begin in range(0, len(scores), k):
            tasks = curriculum.get_tasks(k)
            curriculum.update_task_performance_many(
                tasks if pass_batch else tasks.task_ids, scores[begin : begin + k]
            )
        return (time.process_time() - start) / len(scores) * 1e6

    single, by_ids, by_batch = fresh(), fresh(), fresh()
    single_us, ids_us, batch_us = [], [], []
    for scores in arrays:
        floats = scores.tolist()
        start = time.process_time()
        _episodes(single, floats)
        single_us.append((time.process_time() - start) / len(scores) * 1e6)
        ids_us.append(batches(by_ids, scores, pass_batch=False))
        batch_us.append(batches(by_batch, scores, pass_batch=True))
    return {
        "single_us": statistics.median(single_us),
        "ids_us": statistics.median(ids_us),
        "batch_us": statistics.median(batch_us),
        "ids_ratio": statistics.median([a / b for a, b in zip(single_us, ids_us, strict=True)]),
        "batch_ratio": statistics.median([a / b for a, b in zip(single_us, batch_us, strict=True)]),
    }


def run(quick: bool = False) -> dict[str, Any]:
    block, rounds = (5_000, 3) if quick else (25_000, 9)
    progress("batch API against single calls at 10,000 tasks")
    batch = batch_cost(10_000, k=256, episodes=block, rounds=rounds)
    calls = batch_cost(10_000, k=256, episodes=block, rounds=rounds, refresh=False)
    windows = 5 if quick else 9
    rows = []
    for algorithm in ALGORITHMS:
        sizes = [1_000, 10_000] if quick else [1_000, 10_000, 1_000_000]
        if algorithm == "learning_progress" and not quick:
            sizes = [1_000, 10_000, 100_000, 1_000_000]
        for size in sizes:
            progress(f"{algorithm}, {size:,} active tasks: defaults, then max eviction")
            default = episode_cost(size, windows=windows, warmup_windows=40, algorithm=algorithm)
            churn: dict[str, Any] = dict.fromkeys(("us_median", "us_max", "evictions_per_1k"), "-")
            if algorithm != "sequential":
                measured = episode_cost(
                    size, windows=windows, warmup_windows=40, churn=True, algorithm=algorithm
                )
                churn = {
                    "us_median": f"{measured['us_median']:.2f}",
                    "us_max": f"{measured['us_max']:.2f}",
                    "evictions_per_1k": f"{measured['evictions_per_1k']:.0f}",
                }
            rows.append(
                [
                    algorithm,
                    f"{size:,}",
                    f"{default['refresh_interval']:,}",
                    f"{default['us_median']:.2f}",
                    f"{default['evictions_per_1k']:.0f}",
                    churn["us_median"],
                    churn["us_max"],
                    churn["evictions_per_1k"],
                    f"{default['pool_bytes_per_task']:.0f}",
                    f"{default['total_bytes_per_task']:.0f}",
                ]
            )
    return {
        "title": "Curriculum algorithms: cost per episode (get_task + update_task_performance)",
        "columns": [
            "algorithm",
            "active tasks",
            "refresh interval",
            "µs/episode, defaults",
            "evictions/1k, defaults",
            "µs/episode, max eviction",
            "worst window, max eviction",
            "evictions/1k, max eviction",
            "pool bytes/task",
            "allocated bytes/task",
        ],
        "rows": rows,
        "notes": [
            "Bucketed generator (3 slice axes), uniform random scores, CPU time of one process; medians "
            "over windows of one refresh interval each (so refreshes and evictions are included), after "
            "40 warm-up windows (every task played about 10 times). PLR gets each score also as its "
            "priority (update_task_performance(task_id, score, priority=score)).",
            "Defaults and maximum eviction per algorithm: learning progress below; PLR: PLRConfig() "
            "(rank, staleness 0.3, proportionate replay, eviction of the lowest priorities), max eviction "
            "with min_presentations_for_eviction=1; learnability: LearnabilityConfig() (top 1000, 50/50), "
            "max eviction min_outcomes=1 and min_presentations_for_eviction=1; sequential: two stages of "
            "the same generator (StagedTaskGenerator), stage 0 done after 2 episodes per task (during the "
            "warm-up), timed in stage 1 with replay_earlier=0.2; it never evicts.",
            "Defaults: LearningProgressConfig(); a task becomes evictable after sample_threshold + "
            "1/(ema_timescale x slow_timescale_factor) = 28 outcomes (15 if settled), which random play "
            "over a large pool rarely reaches in the "
            "window (the few evictions below are of tasks sampled more than the average). Max eviction: "
            "sample_threshold=1, ema_timescale=1.0, min_presentations_for_eviction=1, so every task is "
            "evictable after 2 outcomes and the curriculum replaces up to one task per episode (the seed "
            "system's rate); each replacement costs a generator call for its label and bucket bins.",
            f"Batch API at 10,000 tasks, k=256, defaults, alternating blocks of {block:,} episodes "
            f"(medians of {rounds}), refreshes included: single calls {batch['single_us']:.2f} µs/episode; "
            f"get_tasks + update_task_performance_many(batch.task_ids, scores) {batch['ids_us']:.2f} "
            f"µs/episode ({batch['ids_ratio']:.2f}x cheaper); passing the TaskBatch itself instead of its "
            f"ids {batch['batch_us']:.2f} µs/episode ({batch['batch_ratio']:.2f}x). The calls alone, "
            f"refreshes left out of the timing: {calls['single_us']:.2f} against {calls['ids_us']:.2f} "
            f"({calls['ids_ratio']:.2f}x) and {calls['batch_us']:.2f} µs ({calls['batch_ratio']:.2f}x). "
            "Refreshes (eviction, a generator call per replacement task, drawing samples) cost the same "
            "in every path.",
            "Memory: pool bytes/task is the shared-memory-ready buffer (ids, id->slot table, free list, "
            "evicted-id ring, all per-task columns); allocated bytes/task is everything the curriculum "
            "allocated (tracemalloc), including the pre-drawn sample queue.",
        ],
    }


if __name__ == "__main__":
    import json
    import sys

    print(json.dumps(run(quick="--quick" in sys.argv), indent=2))
