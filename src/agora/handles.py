"""What a curriculum hands out and the per-episode API every curriculum front end offers.

:class:`CurriculumLike` is the contract wrappers and integrations type against: a local or
shared :class:`~agora.Curriculum` and the Ray :class:`~agora.distributed.RayCurriculumClient`
both satisfy it structurally. :class:`TaskHandle` is the task object they hand out.
"""

from __future__ import annotations

import reprlib
from collections.abc import Sequence
from typing import Any, Generic, Protocol, runtime_checkable

import numpy as np

from agora.config import TConfig
from agora.generators.base import GeneratedTask, TaskGenerator

__all__ = ["CurriculumLike", "TaskHandle", "TaskSource"]


class TaskSource(Protocol[TConfig]):
    """What a task handle needs from whoever handed it out (a curriculum or a remote client)."""

    def generated(self, task_id: int) -> GeneratedTask[TConfig]: ...

    def update_task_performance(
        self, task_id: int, score: float, *, priority: float | None = None
    ) -> None: ...


class TaskHandle(Generic[TConfig]):
    """A task handed out by a curriculum: its id, its config (built on demand) and its report.

    ``is_replay``: whether the task already had a score in the curriculum when it was handed
    out (a replay of a seen task), rather than being tried for the first time (exploratory).
    Fixed at hand-out. Robust PLR trains only on replays: skip the gradient update of an
    exploratory task's rollout, but still report its score and priority (docs/algorithms.md).
    """

    __slots__ = ("_completed", "_source", "is_replay", "task_id")

    def __init__(self, source: TaskSource[TConfig], task_id: int, is_replay: bool = False) -> None:
        self._source = source
        self.task_id = task_id
        self.is_replay = is_replay
        self._completed = False

    def get_env_cfg(self) -> TConfig:
        """The environment config of this task (generated on first use, then cached).

        The object is shared with later hand-outs of the same task while it stays in the
        cache: treat it as read-only (``model_copy(deep=True)`` if you must change it).
        """
        return self._source.generated(self.task_id).config

    def get_bucket_values(self) -> dict[str, Any]:
        """``{bucket path: drawn value}`` for bucketed generators, else ``{}``."""
        return dict(self._source.generated(self.task_id).bucket_values)

    get_slice_values = get_bucket_values

    def get_label(self) -> str | None:
        return self._source.generated(self.task_id).label

    def complete(self, score: float, *, priority: float | None = None) -> None:
        """Report this task's episode score (same as ``update_task_performance``), once;
        ``priority``: the learner's priority score for it (PLR), if any.

        A handle stands for one episode: a second ``complete`` raises ``RuntimeError`` instead of
        counting an episode that was never played (a rejected score does not count as the call).
        """
        if self._completed:
            raise RuntimeError(
                f"task {self.task_id} was already completed: complete() reports one episode per "
                "get_task(); call update_task_performance(task_id, score) to report more episodes"
            )
        if not isinstance(score, int | float) and np.ndim(score) != 0:
            raise TypeError(
                f"score for task {self.task_id} must be one number, got {type(score).__name__} "
                f"{reprlib.repr(score)}"
            )
        if priority is None:
            self._source.update_task_performance(self.task_id, score)
        else:
            self._source.update_task_performance(self.task_id, score, priority=priority)
        self._completed = True

    def __repr__(self) -> str:
        return f"{type(self).__name__}(task_id={self.task_id}, label={self.get_label()!r})"


@runtime_checkable
class CurriculumLike(Protocol[TConfig]):
    """The per-episode API of a curriculum, whatever coordinates it (local, shared memory, Ray).

    ``get_task`` / ``update_task_performance`` run once per episode; the ``_many`` forms are
    equal in effect to one call per task, in order. ``flush`` delivers scores a front end
    still buffers (a no-op where there is no buffer); ``close`` releases what it holds.
    """

    def get_task(self) -> TaskHandle[TConfig]: ...

    def get_tasks(self, k: int) -> Sequence[TaskHandle[TConfig]]: ...

    def update_task_performance(
        self, task_id: int, score: float, *, priority: float | None = None
    ) -> None: ...

    def update_task_performance_many(
        self, task_ids: Sequence[int], scores: Sequence[float], *, priorities: Sequence[float] | None = None
    ) -> None: ...

    def generated(self, task_id: int) -> GeneratedTask[TConfig]: ...

    @property
    def task_generator(self) -> TaskGenerator[TConfig]: ...

    def stats(self) -> dict[str, float]: ...

    def flush(self) -> None: ...

    def close(self) -> None: ...
