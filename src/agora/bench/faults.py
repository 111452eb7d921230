"""Fault injection: SIGKILL a worker of a shared pool and check the documented guarantees.

Each run: this process owns a learning-progress pool in shared memory (small, so that it
evicts often); three forked workers play against it, and one of them is killed with SIGKILL,
either at a random moment (from here) or inside one of the journalled operations (it kills
itself on a random call of the step that changes the pool: applying a score, applying a
chunk of a batch, refilling the pool during an eviction). The others must finish (no hang),
the next lock holder must repair the pool (a consistent id map, free stack and counters),
``num_completed`` must stay within the bound docs/shared-memory.md states, and closing the
owner must remove the segment.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
import time
import uuid
from collections.abc import Callable
from typing import Any

import numpy as np
from pydantic import BaseModel

from agora.algorithms.learning_progress import LearningProgressConfig
from agora.curriculum import Curriculum, CurriculumConfig
from agora.helpers import bucketed
from agora.tracking.shared import session_exists

__all__ = ["SCENARIOS", "kill_run", "run"]

SCENARIOS = ("random moment", "applying a score", "applying a batch chunk", "evicting")
"""Where the worker dies: killed from outside at a random moment, or inside that operation."""

_WORKERS = 3
_EPISODES = 3_000
_BATCH = 50  # scores per update_task_performance_many call in the batch scenario
_TIMEOUT = 120.0


class FaultTask(BaseModel):
    level: int = 0


def make_config(session_id: str) -> CurriculumConfig:
    return CurriculumConfig(
        task_generator=bucketed(FaultTask()).add_bucket("level", list(range(20))),
        num_active_tasks=20,
        max_task_id=10**6,
        refresh_interval=20,
        min_presentations_for_eviction=5,
        algorithm_config=LearningProgressConfig(use_shared_memory=True, session_id=session_id),
    )


def _die_on_call(method: Callable[..., Any], call: int) -> Callable[..., Any]:
    calls = 0

    def wrapper(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        calls += 1
        if calls == call:
            os.kill(os.getpid(), signal.SIGKILL)
        return method(*args, **kwargs)

    return wrapper


def _worker(
    config: CurriculumConfig, index: int, scenario: str, call: int, reported: Any, start: Any
) -> None:
    curriculum = config.make()
    # The step of each scenario, wrapped on this instance only: a score's algorithm update, a
    # batch chunk's vectorised one (after its core columns changed), the refill of an eviction.
    steps: dict[str, tuple[object, str]] = {
        "applying a score": (curriculum.algorithm, "update"),
        "applying a batch chunk": (curriculum.algorithm, "update_many"),
        "evicting": (curriculum.pool, "add_many"),
    }
    if index == 0 and scenario in steps:
        owner, name = steps[scenario]
        setattr(owner, name, _die_on_call(getattr(owner, name), call))
    start.wait(_TIMEOUT)
    rng = np.random.default_rng(index)
    batches = scenario == "applying a batch chunk"
    with curriculum:
        for done in range(0, _EPISODES, _BATCH if batches else 1):
            if batches:
                tasks = curriculum.get_tasks(_BATCH)
                curriculum.update_task_performance_many(tasks, rng.random(_BATCH))
                reported[index] = done + _BATCH
            else:
                curriculum.get_task().complete(float(rng.random()))
                reported[index] = done + 1


def consistent(curriculum: Curriculum[Any]) -> bool:
    """Whether the id map, free stack and counters agree with the ids column."""
    pool = curriculum.pool
    with pool.backend.lock():
        ids = pool.array("ids")
        active = np.flatnonzero(ids >= 0)
        free = pool.backend.array("free")[: pool.counter("num_free")]
        return bool(
            len(np.unique(ids[active])) == len(active)
            and all(pool.slot_of(int(ids[slot])) == slot for slot in active.tolist())
            and sorted(free.tolist()) == np.flatnonzero(ids < 0).tolist()
            and pool.counter("version") % 2 == 0
        )


def kill_run(scenario: str, seed: int) -> dict[str, Any]:
    """One run of ``scenario``; returns what happened and whether each guarantee held."""
    rng = np.random.default_rng(seed)
    ctx = mp.get_context("fork")
    config = make_config(f"faults-{uuid.uuid4().hex}")
    batch = config.algorithm_config.shared_update_batch
    batches = scenario == "applying a batch chunk"
    # A random call among those the worker makes (a few hundred scores applied one by one,
    # ~120 batch chunks, ~40 refills at evictions).
    call = int(
        rng.integers(*{"applying a batch chunk": (5, 100), "evicting": (2, 40)}.get(scenario, (20, 400)))
    )
    with config.make() as owner:
        reported, start = ctx.Array("q", _WORKERS, lock=False), ctx.Event()
        workers = [
            ctx.Process(target=_worker, args=(config, i, scenario, call, reported, start))
            for i in range(_WORKERS)
        ]
        for worker in workers:
            worker.start()
        start.set()
        if scenario == "random moment":
            moment = int(rng.integers(1, _EPISODES))
            deadline = time.monotonic() + _TIMEOUT
            while reported[0] < moment and workers[0].is_alive() and time.monotonic() < deadline:
                time.sleep(0.0005)
            if workers[0].pid is not None:
                os.kill(workers[0].pid, signal.SIGKILL)
        for worker in workers:
            worker.join(_TIMEOUT)
        hangs = sum(worker.is_alive() for worker in workers[1:])
        for worker in workers:
            if worker.is_alive():
                worker.kill()
                worker.join()
        killed = workers[0].exitcode == -signal.SIGKILL
        owner.flush()  # the next lock holder repairs what the dead worker left half-done
        repairs = int(owner.shared_stats()["num_recoveries"])
        completed = int(owner.stats()["num_completed"])
        live, dead = sum(reported[1:]), reported[0]
        # Documented: the dead worker's returned calls count, minus scores it still buffered
        # (fewer than shared_update_batch; a batch call buffers none), plus at most the call it
        # died in, fully or not at all.
        low = live + dead - (0 if batches else batch - 1)
        high = live + dead + (_BATCH if batches else 1) if killed else live + dead
        ok = consistent(owner) and low <= completed <= high
        session = owner.session_id
    assert session is not None
    leaked = session_exists(session)
    return {
        "killed": killed,
        "repairs": repairs,
        "completed": completed,
        "low": low,
        "high": high,
        "ok": ok,
        "hangs": hangs,
        "leaked": leaked,
    }


def run(quick: bool = False) -> dict[str, Any]:
    runs = 2 if quick else 10
    rows = []
    for scenario in SCENARIOS:
        results = [kill_run(scenario, seed) for seed in range(runs)]
        slack = [r["completed"] - r["low"] for r in results]
        rows.append(
            [
                scenario,
                runs,
                sum(r["killed"] for r in results),
                sum(r["repairs"] for r in results),
                f"{sum(r['ok'] for r in results)}/{runs}",
                f"{min(slack)}..{max(slack)} over low bound (width {results[0]['high'] - results[0]['low']})",
                sum(r["hangs"] for r in results),
                sum(r["leaked"] for r in results),
            ]
        )
    return {
        "title": "Fault injection: a worker of a shared pool killed with SIGKILL",
        "columns": [
            "killed where",
            "runs",
            "killed",
            "repairs",
            "consistent, total within bound",
            "num_completed vs bound",
            "hangs",
            "leaked segments",
        ],
        "rows": rows,
        "notes": [
            f"{_WORKERS} forked workers x {_EPISODES} episodes on a 20-task learning-progress pool in shared "
            "memory (refresh every 20 episodes: frequent evictions); worker 0 is killed, at a random moment "
            "or on a random call inside the operation named. Bound (docs/shared-memory.md): the survivors' "
            "scores plus the dead worker's returned calls, minus fewer than shared_update_batch it still "
            "buffered (none for batch calls), plus at most the call it died in "
            f"({_BATCH} scores for a batch). "
            "Repairs: journal recoveries by the next lock holder. Hangs: survivors not finished after "
            f"{_TIMEOUT:.0f} s. Leaked: the segment still exists after the owner closed.",
        ],
    }
