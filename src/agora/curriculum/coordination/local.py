"""Local coordination: one process owns the pool, so every step runs at once and nothing is locked."""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic

import numpy as np
import numpy.typing as npt

from agora.config import TConfig
from agora.curriculum.config import CurriculumConfig
from agora.curriculum.engine import PoolEngine, Prepared, count_into, first_occurrences
from agora.curriculum.labels import LabelTable
from agora.curriculum.sampler import Sampler
from agora.curriculum.task import CurriculumTask, PoolSource
from agora.curriculum.validation import (
    ID_LIMIT,
    MAX_SCORE,
    checked_priority,
    checked_score,
    checked_task_id,
    unknown_id,
)
from agora.pool import HEADER, SlotField, TaskPool
from agora.tracking.memory import ArraySpec

__all__ = ["LocalCoordinator"]


class LocalCoordinator(Generic[TConfig]):
    """The per-episode calls of a process-local pool, applied at once (the fastest path).

    ``source``: the curriculum the handed-out tasks report to; ``refresh``: its refresh, run
    when the pre-drawn queue is empty. :class:`~agora.curriculum.coordination.shared.SharedCoordinator`
    extends this class and applies the same steps under its lock.
    """

    @staticmethod
    def open_pool(
        config: CurriculumConfig,
        fields: Sequence[SlotField],
        tables: Sequence[ArraySpec],
        *,
        session_id: str | None,
        attach: bool,
    ) -> tuple[TaskPool, LabelTable, bool]:
        """A new pool in this process's memory, its label table, and True: the pool is new, so
        the caller initialises it. (``session_id`` and ``attach`` only mean something when shared.)"""
        return TaskPool(config.num_active_tasks, fields, tables=tables), LabelTable(), True

    def __init__(
        self,
        source: PoolSource[TConfig],
        engine: PoolEngine,
        sampler: Sampler,
        refresh: Callable[[], None],
        *,
        config: CurriculumConfig,
        created: bool,
    ) -> None:
        """``config`` and ``created`` (whether this process made the pool) matter to a shared pool."""
        self.engine = engine
        self.home_pid = os.getpid()
        """The process the pool lives in (see :meth:`warn_if_copied`)."""
        pool = engine.pool
        self._source = source
        self._sampler = sampler
        self._queue = sampler.queue  # changed only in place
        self._refresh = refresh
        self._pool = pool
        self._algorithm = engine.algorithm
        self._ids = pool.ids
        self._scheduled = pool.view("scheduled")
        self._completions = pool.view("completions")
        self._score_sum = pool.view("score_sum")
        self._last_score = pool.view("last_score")
        self._header = pool.header
        self._h_completed = HEADER.index("num_completed")
        self._h_scheduled = HEADER.index("num_scheduled")

    @property
    def session_id(self) -> str | None:
        """Name of the shared pool; None: the pool is local."""
        return None

    # -- the per-episode calls (bound once by the curriculum) ------------------------------

    def get_task(self) -> CurriculumTask[TConfig]:
        if not self._queue:
            self._refresh()
        slot = self._queue.pop()
        self._scheduled[slot] += 1
        self._header[self._h_scheduled] += 1
        # Replay: the task had a score when handed out (read now: the counter changes with its score).
        return CurriculumTask(self._source, self._ids[slot], slot, self._completions[slot] > 0)

    def update_task_performance(self, task_id: int, score: float, *, priority: float | None = None) -> None:
        if type(task_id) is not int or not 0 <= task_id < ID_LIMIT:  # inline: the per-episode path
            task_id = checked_task_id(task_id)
        if type(score) is not float or not -MAX_SCORE <= score <= MAX_SCORE:
            score = checked_score(task_id, score)
        if priority is not None:
            priority = checked_priority(task_id, priority)
        slot = self._pool.slot_of(task_id)
        if slot is None:
            if self._pool.was_evicted(task_id):
                self.engine.count_stale(task_id, score)
                self._pool.add_to_counter("num_stale")
                self._header[self._h_completed] += 1  # the episode was played: num_completed counts it
                return
            raise ValueError(unknown_id(task_id))
        self._completions[slot] += 1
        self._score_sum[slot] += score
        self._last_score[slot] = score
        if priority is None:
            self._algorithm.update(slot, score)
        else:
            self._algorithm.update_with_priority(slot, score, priority)
        self._header[self._h_completed] += 1  # last: a shared pool's crash journal relies on it

    def take(self, k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        """Hand out the next ``k`` pre-drawn slots (``k`` <= the queue's length), their ids and
        whether each is a replay (as in :meth:`get_task`)."""
        chunk = self._sampler.take(k)
        count_into(self._pool.array("scheduled"), chunk)
        self._header[self._h_scheduled] += k
        # Ids and replays now: a later refresh may reuse the slot, a score changes the count.
        return chunk, self._pool.array("ids")[chunk], self._pool.array("completions")[chunk] > 0

    def update_many(
        self,
        ids: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        guess: npt.NDArray[np.intp] | None,
        priorities: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """Apply a validated batch (all or nothing: unknown ids raise first); ``guess``: the slots
        its tasks were handed out in, if known; ``priorities``: the learner's, if given."""
        slots = self.engine.slots_of(ids, guess)
        self.engine.check_known(ids, slots)
        self.engine.apply_scores(ids, values, slots, first_occurrences(slots), priorities)

    # -- refresh steps ------------------------------------------------------------------------

    def sync(self) -> None:
        """Before a refresh plans: nothing to bring in, every score is already in the pool."""

    def evict(
        self, plan: npt.NDArray[np.intp], planned_ids: npt.NDArray[np.int64], prepared: Prepared
    ) -> list[int]:
        """Evict the planned slots (nobody else can have changed them) and refill; the evicted ids."""
        return self.engine.evict(plan, prepared)

    # -- whole-pool operations --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Around operations that need the whole pool consistent (checkpoints): nothing to do."""
        yield

    def before_read(self) -> None:
        """Before a lock-free O(pool) read (stats): nothing to do."""

    def after_load(self) -> None:
        """After a checkpoint was loaded into the pool: nothing to do."""

    def snapshot(self, get_state: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """What a pickled copy needs to continue: the whole state (the pool lives only here)."""
        return get_state()

    def flush(self) -> None:
        """Nothing is buffered."""

    def close(self) -> None:
        """Nothing to release."""

    def shared_stats(self) -> dict[str, float]:
        return {}

    def warn_if_copied(self) -> None:
        """Warn (once per process) when this runs in a copy of the curriculum in another process."""
        global _copy_warned
        if self.home_pid != os.getpid() and not _copy_warned:
            _copy_warned = True
            warnings.warn(
                f"agora: process {os.getpid()} plays a copy of a local Curriculum built in process "
                f"{self.home_pid}; its scores never reach the original. To share one curriculum across "
                "processes, give each worker a CurriculumConfig whose algorithm_config has "
                "use_shared_memory=True and a session_id (see docs/shared-memory.md)",
                RuntimeWarning,
                stacklevel=4,
            )


_copy_warned = False
"""Whether this process has warned about a copied local curriculum."""
