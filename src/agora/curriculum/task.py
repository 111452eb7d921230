"""What a curriculum hands out: one task (:class:`CurriculumTask`) or a batch (:class:`TaskBatch`)."""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from typing import Any, Generic, Protocol, overload

import numpy as np
import numpy.typing as npt

from agora.config import TConfig
from agora.curriculum.validation import checked_priority, checked_score, checked_task_id
from agora.generators.base import GeneratedTask
from agora.handles import TaskHandle, TaskSource
from agora.pool import TaskPool

__all__ = ["CurriculumTask", "PoolSource", "TaskBatch", "TaskIds"]


class PoolSource(TaskSource[TConfig], Protocol):
    """A task source whose pool the handles read their live counters from (a ``Curriculum``)."""

    pool: TaskPool


class OwnTask(Generic[TConfig]):
    """The source of a :class:`CurriculumTask` made on its own: its config and its own counts."""

    def __init__(self, task_id: int, config: TConfig) -> None:
        self.task = GeneratedTask(task_id, lambda: config)
        self.counts = {"completions": 0.0, "scheduled": 0.0, "score_sum": 0.0}

    def generated(self, task_id: int) -> GeneratedTask[TConfig]:
        return self.task

    def update_task_performance(self, task_id: int, score: float, *, priority: float | None = None) -> None:
        if priority is not None:
            checked_priority(task_id, priority)  # checked as a curriculum would; no algorithm reads it
        self.counts["score_sum"] += checked_score(task_id, score)
        self.counts["completions"] += 1


class CurriculumTask(TaskHandle[TConfig]):
    """A task handed out by :meth:`Curriculum.get_task`, with live counters from the pool.

    Counters read the live pool; once the task is evicted they read 0. ``CurriculumTask(task_id,
    env_cfg)`` (the seed system's form) makes a task of no curriculum, which counts its own
    completions: every ``complete`` counts one, since no hand-out stands for one episode (and it is
    never a replay).
    """

    __slots__ = ("_slot",)
    _source: PoolSource[TConfig] | OwnTask[TConfig]

    @overload
    def __init__(
        self, curriculum: PoolSource[TConfig], task_id: int, slot: int, is_replay: bool = False
    ) -> None: ...

    @overload
    def __init__(self, curriculum: int, task_id: TConfig) -> None: ...

    def __init__(
        self, curriculum: PoolSource[TConfig] | int, task_id: Any, slot: int = -1, is_replay: bool = False
    ) -> None:
        if slot < 0:
            own = OwnTask(checked_task_id(curriculum), task_id)
            self._source, self.task_id = own, own.task.task_id
        else:
            self._source, self.task_id = curriculum, task_id  # type: ignore[assignment]
        self._slot = slot
        self.is_replay = is_replay
        self._completed = False

    def complete(self, score: float, *, priority: float | None = None) -> None:
        super().complete(score, priority=priority)
        if isinstance(self._source, OwnTask):
            self._completed = False

    def _count(self, field: str) -> float:
        source = self._source
        if isinstance(source, OwnTask):
            return source.counts[field]
        pool = source.pool
        return float(pool.view(field)[self._slot]) if pool.ids[self._slot] == self.task_id else 0.0

    @property
    def num_completions(self) -> int:
        return int(self._count("completions"))

    @property
    def num_scheduled(self) -> int:
        return int(self._count("scheduled"))

    @property
    def mean_score(self) -> float:
        n = self._count("completions")
        return self._count("score_sum") / n if n else 0.0


class TaskBatch(Sequence[CurriculumTask[TConfig]]):
    """Tasks handed out together by :meth:`Curriculum.get_tasks`.

    A sequence of :class:`CurriculumTask` (each made when accessed) that also holds the ids as
    one read-only array, ``task_ids``: what a vectorised trainer keeps per environment and
    passes back to :meth:`Curriculum.update_task_performance_many`; and ``is_replay``, each
    task's :attr:`CurriculumTask.is_replay` as one read-only array (a mask over the batch).
    """

    __slots__ = ("_curriculum", "_slots", "is_replay", "task_ids")

    def __init__(
        self,
        curriculum: PoolSource[TConfig],
        task_ids: npt.NDArray[np.int64],
        slots: npt.NDArray[np.intp],
        is_replay: npt.NDArray[np.bool_],
    ) -> None:
        self._curriculum = curriculum
        self._slots = slots
        self.task_ids = task_ids
        self.is_replay = is_replay
        task_ids.flags.writeable = False
        is_replay.flags.writeable = False

    def slots_from(self, source: object) -> npt.NDArray[np.intp] | None:
        """The slots the tasks had when ``source`` handed them out, or None if another source did."""
        return self._slots if self._curriculum is source else None

    def __len__(self) -> int:
        return len(self.task_ids)

    @overload
    def __getitem__(self, index: int) -> CurriculumTask[TConfig]: ...

    @overload
    def __getitem__(self, index: slice) -> list[CurriculumTask[TConfig]]: ...

    def __getitem__(self, index: int | slice) -> CurriculumTask[TConfig] | list[CurriculumTask[TConfig]]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        return CurriculumTask(
            self._curriculum, int(self.task_ids[index]), int(self._slots[index]), bool(self.is_replay[index])
        )

    def __iter__(self) -> Iterator[CurriculumTask[TConfig]]:
        return map(
            CurriculumTask,
            itertools.repeat(self._curriculum),
            self.task_ids.tolist(),
            self._slots.tolist(),
            self.is_replay.tolist(),
        )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task_ids={self.task_ids.tolist()})"


TaskIds = Sequence[int] | npt.NDArray[np.integer[Any]] | TaskBatch[Any]
"""What the batch API takes as task ids: ids, or the :class:`TaskBatch` they were handed out in."""
