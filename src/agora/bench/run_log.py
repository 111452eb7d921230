"""Cost of a RunLog per episode: a curriculum's episode loop with and without one.

Both loops take each task's config, as the wrappers do, and play the same labelled, bucketed
task family (a discrete bucket and a continuous ``Span``) on a learning-progress curriculum;
the logged one calls :meth:`RunLog.episode` after each episode, with the defaults (an
``episodes`` record every 1,000 episodes, a ``pool`` record every 10,000). The two loops run
in alternating chunks so that load from other processes hits both alike; times are CPU time.
Run it with ``python -m agora.bench.run_log``.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from agora.bench import progress

__all__ = ["run"]


class _Maze(BaseModel):
    size: int = 5
    density: float = 0.1


def _curriculum(num_tasks: int) -> Any:
    from agora import LearningProgressConfig, Span, bucketed, merge

    easy = bucketed(_Maze(), label="easy").add_bucket("size", [5, 7]).add_bucket("density", [Span(0.0, 0.3)])
    hard = bucketed(_Maze(), label="hard").add_bucket("size", [9, 11]).add_bucket("density", [Span(0.2, 0.6)])
    family = merge([easy, hard])
    return family.to_curriculum(num_active_tasks=num_tasks, algorithm_config=LearningProgressConfig()).make()


def _play(curriculum: Any, episodes: int, run_log: Any, offset: int) -> float:
    """CPU seconds of ``episodes`` episodes: get a task and its config, score it, (log it)."""
    begin = time.process_time()
    for i in range(offset, offset + episodes):
        task = curriculum.get_task()
        task.get_env_cfg()  # what every wrapper does; it leaves the generated task in the cache
        score = float(i % 3 == 0)
        curriculum.update_task_performance(task.task_id, score)
        if run_log is not None:
            run_log.episode(curriculum, task, score)
    return time.process_time() - begin


def run(quick: bool = False) -> dict[str, Any]:
    from agora.runlog import RunLog, pool_summary

    num_tasks, chunk = 10_000, 2_000
    episodes = 20_000 if quick else 200_000
    plain, logged = _curriculum(num_tasks), _curriculum(num_tasks)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "run.jsonl"
        run_log = RunLog(path)
        progress(f"{episodes:,} episodes each, with and without a RunLog, in alternating chunks of {chunk:,}")
        seconds = {"plain": 0.0, "logged": 0.0}
        for index, offset in enumerate(range(0, episodes, chunk)):
            order = ("plain", "logged") if index % 2 == 0 else ("logged", "plain")
            for name in order:
                log = run_log if name == "logged" else None
                seconds[name] += _play(plain if log is None else logged, chunk, log, offset)
        size = path.stat().st_size
        records = path.read_text().count("\n")
        progress("one pool record")
        begin = time.process_time()
        repeats = 5
        for _ in range(repeats):
            pool_summary(logged, run_log.top, run_log.bins)
        pool_ms = 1000.0 * (time.process_time() - begin) / repeats
    us = {name: 1e6 * value / episodes for name, value in seconds.items()}
    rows = [
        ["episode loop", f"{us['plain']:.2f}", "-"],
        ["episode loop + RunLog.episode", f"{us['logged']:.2f}", f"{us['logged'] - us['plain']:+.2f}"],
    ]
    notes = [
        f"LearningProgressConfig defaults, {num_tasks:,} active tasks, two labels, a discrete and a Span "
        f"bucket; {episodes:,} episodes per loop, CPU time of alternating chunks of {chunk:,}.",
        f"RunLog defaults (an episodes record every {run_log.every:,} episodes, a pool record every "
        f"{run_log.pool_every:,}): {records} records, {size / 1024:.0f} KiB, "
        f"{size / episodes:.1f} bytes per episode; one pool record (top {run_log.top} tasks by sampling "
        f"probability, LP and success histograms) takes {pool_ms:.1f} ms of CPU.",
        "The difference of the two rows is a small difference of two totals and carries the machine's noise.",
    ]
    return {
        "title": "RunLog cost: microseconds of CPU per episode with and without a run log",
        "columns": ["loop", "us per episode", "RunLog cost (us)"],
        "rows": rows,
        "notes": notes,
    }


if __name__ == "__main__":
    result = run(quick=False)
    print(result["title"])
    for row in result["rows"]:
        print("  ".join(str(cell) for cell in row))
    print("\n".join(result["notes"]))
