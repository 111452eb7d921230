"""An algorithm over its own private pool, for code that decides itself which tasks exist.

A :class:`~agora.Curriculum` creates, samples and evicts tasks. Code that manages its tasks
itself (and the seed system's API, where an algorithm was built on its own as
``LearningProgressAlgorithm(num_tasks, hypers)``) only wants the algorithm's judgement:
:class:`StandaloneAlgorithm` keeps a pool of the tasks it is told about, feeds their scores to
the algorithm and answers by task id. The same validation applies as in a curriculum: scores
must be finite, ids unknown to the pool are errors, a full pool refuses a new task.

With ``use_shared_memory`` on the config the pool is in shared memory, named after its
``session_id``: every process building a standalone algorithm with the same config sees the
same tasks and statistics (each operation holds the pool's cross-process lock).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import uuid
from collections.abc import Iterable
from typing import Any, Protocol

import numpy as np

from agora.algorithms.base import CurriculumAlgorithm, CurriculumAlgorithmConfig
from agora.algorithms.learning_progress import LearningProgressAlgorithm
from agora.algorithms.scorers import LPScorer
from agora.curriculum import checked_priority, checked_score, checked_task_id
from agora.curriculum.gini import pool_gini
from agora.pool import TaskPool
from agora.tracking.shared import SharedMemoryBackend

__all__ = ["StandaloneAlgorithm", "TrackedTasks"]


class _HasTaskId(Protocol):
    @property
    def task_id(self) -> int: ...


class StandaloneAlgorithm:
    """``hypers``' algorithm over a private pool of at least ``num_tasks`` tasks.

    The pool holds ``max(num_tasks, hypers.num_active_tasks)`` tasks where the config has
    ``num_active_tasks`` (the seed system sized its tracker by that field), else ``num_tasks``.
    """

    def __init__(self, num_tasks: int, hypers: CurriculumAlgorithmConfig) -> None:
        if isinstance(num_tasks, bool) or not isinstance(num_tasks, int) or num_tasks < 1:
            raise ValueError(f"num_tasks must be a positive int, got {num_tasks!r}")
        self.hypers = hypers
        self.num_tasks = num_tasks
        declared = getattr(hypers, "num_active_tasks", None)
        capacity = max(num_tasks, declared or 0)
        # The algorithm sees a pool of ``capacity`` tasks, whatever the config declared.
        inner = hypers.model_copy(update={"num_active_tasks": capacity}) if declared is not None else hypers
        self._shared: SharedMemoryBackend | None = None
        if hypers.use_shared_memory:
            session = hypers.session_id or f"agora-{uuid.uuid4().hex}"
            dump = json.dumps(hypers.model_dump(mode="json"), sort_keys=True).encode()
            factory = functools.partial(
                SharedMemoryBackend,
                session_id=session,
                fingerprint={"standalone": hashlib.blake2b(dump, digest_size=8).hexdigest()},
            )
            self.pool = TaskPool(capacity, inner.pool_fields(), factory)
            backend = self.pool.backend
            assert isinstance(backend, SharedMemoryBackend)
            self._shared = backend
            if backend.created:
                self.pool.initialize()
                backend.mark_ready()
        else:
            self.pool = TaskPool(capacity, inner.pool_fields())
            self.pool.initialize()
        self.algorithm: CurriculumAlgorithm = inner.create(self.pool)
        self.task_tracker = TrackedTasks(self)
        """Per-task statistics by id (the seed system's ``algorithm.task_tracker``)."""

    @property
    def scorer(self) -> LPScorer:
        """The learning-progress scorer (learning-progress algorithms only)."""
        if not isinstance(self.algorithm, LearningProgressAlgorithm):
            raise AttributeError(f"{type(self.algorithm).__name__} has no scorer")
        return self.algorithm.scorer

    @property
    def session_id(self) -> str | None:
        """The shared pool's session, or None for a pool in this process's memory."""
        return None if self._shared is None else self._shared.session_id

    def _locked(self) -> contextlib.AbstractContextManager[Any]:
        return self._shared if self._shared is not None else contextlib.nullcontext()

    def _slot(self, task_id: object) -> int:
        checked = checked_task_id(task_id)
        slot = self.pool.slot_of(checked)
        if slot is None:
            raise ValueError(f"unknown task id {checked}: on_task_created() was not called for it")
        return slot

    # -- tasks --------------------------------------------------------------------------

    def on_task_created(self, task: int | _HasTaskId) -> None:
        """Start tracking a task (an id, or anything with a ``task_id``, such as a CurriculumTask)."""
        task_id = checked_task_id(task if isinstance(task, int | np.integer) else task.task_id)
        with self._locked():
            if self.pool.slot_of(task_id) is not None:
                raise ValueError(f"task {task_id} is already tracked")
            if self.pool.size == self.pool.capacity:
                raise ValueError(
                    f"cannot track task {task_id}: all {self.pool.capacity} slots hold tasks "
                    "(call on_task_evicted for one first)"
                )
            slots = self.pool.add_many([task_id], created_at=self.pool.counter("num_completed"))
            self.algorithm.on_tasks_created(slots)

    def on_task_evicted(self, task_id: int) -> None:
        """Stop tracking a task; its slot is reused by the next task created."""
        with self._locked():
            slots = np.asarray([self._slot(task_id)], dtype=np.intp)
            self.algorithm.on_tasks_evicted(slots)
            self.pool.remove_many(slots.tolist())

    def update_task_performance(self, task_id: int, score: float, *, priority: float | None = None) -> None:
        """Report one episode's score for a tracked task; ``priority``: the learner's (PLR ranks by it)."""
        checked_id = checked_task_id(task_id)
        value = checked_score(checked_id, score)
        checked = None if priority is None else checked_priority(checked_id, priority)
        with self._locked():
            slot = self._slot(checked_id)
            pool = self.pool
            pool.array("completions")[slot] += 1
            pool.array("score_sum")[slot] += value
            pool.array("last_score")[slot] = value
            if checked is None:
                self.algorithm.update(slot, value)
            else:
                self.algorithm.update_with_priority(slot, value, checked)
            pool.add_to_counter("num_completed")

    # -- judgement ------------------------------------------------------------------------

    def score_tasks(self, task_ids: Iterable[int]) -> dict[int, float]:
        """The sampling probability of each of ``task_ids`` among all tracked tasks."""
        wanted = [checked_task_id(task_id) for task_id in task_ids]
        with self._locked():
            probabilities = self._probabilities()
            return {task_id: probabilities[self._slot(task_id)] for task_id in wanted}

    def _probabilities(self) -> dict[int, float]:
        """Slot -> sampling probability over the tracked tasks (a refresh of the algorithm)."""
        self.algorithm.on_refresh()
        active = self.pool.active_slots()
        if not len(active):
            return {}
        weights = np.asarray(self.algorithm.weights(active), dtype=np.float64)
        total = float(weights.sum())
        if weights.shape != active.shape or not weights.min() >= 0 or not np.isfinite(total):
            raise ValueError(
                f"{type(self.algorithm).__name__}.weights returned invalid weights "
                f"(shape {weights.shape}, expected {active.shape}; all must be finite and >= 0)"
            )
        probabilities = weights / total if total > 0 else np.full(len(active), 1.0 / len(active))
        return dict(zip(active.tolist(), probabilities.tolist(), strict=True))

    def recommend_eviction(self, task_ids: Iterable[int]) -> int | None:
        """Of ``task_ids``, the one the algorithm is least likely to sample (None if there are none)."""
        scores = self.score_tasks(task_ids)
        return min(scores, key=scores.__getitem__) if scores else None

    def should_evict_task(self, task_id: int, min_presentations: int = 5) -> bool:
        """Whether a curriculum with this algorithm could evict the task now: it has at least
        ``min_presentations`` outcomes and the algorithm names it among its eviction candidates."""
        with self._locked():
            slot = self._slot(task_id)
            if not self.algorithm.evicts:
                return False
            active = self.pool.active_slots()
            candidates = self.algorithm.eviction_candidates(active, min_presentations, len(active))
            return bool(np.any(candidates == slot))

    # -- statistics and lifetime ------------------------------------------------------------

    def get_stats(self) -> dict[str, float]:
        """Success rate, learning progress and sampling probability, averaged over the tasks."""
        with self._locked():
            size = self.pool.size
            stats = self.algorithm.stats()
        return {
            "mean_task_success_rate": stats.get("mean_recent_rate", 0.0),
            "mean_learning_progress": stats.get("mean_lp", 0.0),
            "mean_sample_prob": 1.0 / size if size else 0.0,
        }

    def get_base_stats(self) -> dict[str, float]:
        """Pool counts and the Gini coefficients of the tracked tasks' episodes, sampling
        probabilities and LP (``curriculum_gini/*``, as the seed system reported them)."""
        with self._locked():
            pool = self.pool
            out = {"num_tasks": float(pool.size), "num_completed": float(pool.counter("num_completed"))}
            probabilities = self._probabilities()
            if probabilities:
                active = np.fromiter(probabilities, dtype=np.intp, count=len(probabilities))
                weights = np.fromiter(probabilities.values(), dtype=np.float64, count=len(probabilities))
                out.update(pool_gini(pool, active, weights, self._lp(active)))
        return out

    def _lp(self, slots: np.ndarray[Any, np.dtype[np.intp]]) -> np.ndarray[Any, np.dtype[np.float64]] | None:
        """The learning-progress algorithm's LP of ``slots`` (None for other algorithms)."""
        algorithm = self.algorithm
        if not isinstance(algorithm, LearningProgressAlgorithm):
            return None
        return algorithm.scorer.scores(slots, algorithm.tracker.recent_rate(slots))

    def stats(self) -> dict[str, float]:
        """:meth:`get_base_stats`, :meth:`get_stats` under ``lp/`` and the algorithm's own under
        ``algorithm/``."""
        with self._locked():
            algorithm = self.algorithm.stats()
        return {
            **self.get_base_stats(),
            **{f"lp/{key}": value for key, value in self.get_stats().items()},
            **{f"algorithm/{key}": value for key, value in algorithm.items()},
        }

    def close(self) -> None:
        """Detach from a shared pool (its creator also removes it); nothing to do otherwise."""
        if self._shared is not None:
            self._shared.close()

    cleanup_shared_memory = close
    """The seed system's name for :meth:`close`."""


class TrackedTasks:
    """The tasks of a :class:`StandaloneAlgorithm` by id, under the seed system's tracker names."""

    def __init__(self, owner: StandaloneAlgorithm) -> None:
        self._owner = owner

    @property
    def max_memory_tasks(self) -> int:
        """How many tasks the pool holds."""
        return self._owner.pool.capacity

    @property
    def ema_alpha(self) -> float | None:
        """The rate of the score EMAs (None: the algorithm keeps none)."""
        algorithm = self._owner.algorithm
        return algorithm.tracker.ema_alpha if isinstance(algorithm, LearningProgressAlgorithm) else None

    def track_task_creation(self, task_id: int) -> None:
        self._owner.on_task_created(task_id)

    def remove_task(self, task_id: int) -> None:
        self._owner.on_task_evicted(task_id)

    def update_task_performance(self, task_id: int, score: float) -> None:
        """Report one episode's score (what the algorithm's method of the same name does)."""
        self._owner.update_task_performance(task_id, score)

    def get_all_tracked_tasks(self) -> list[int]:
        pool = self._owner.pool
        with self._owner._locked():
            return pool.array("ids")[pool.active_slots()].tolist()  # type: ignore[no-any-return]

    def get_task_stats(self, task_id: int) -> dict[str, float] | None:
        """The task's statistics, or None if it is not tracked."""
        owner = self._owner
        checked = checked_task_id(task_id)
        with owner._locked():
            if isinstance(owner.algorithm, LearningProgressAlgorithm):
                return owner.algorithm.tracker.get_task_stats(checked)
            slot = owner.pool.slot_of(checked)
            if slot is None:
                return None
            n = float(owner.pool.view("completions")[slot])
            return {
                "completion_count": n,
                "mean_score": float(owner.pool.view("score_sum")[slot]) / n if n else 0.0,
                "last_score": float(owner.pool.view("last_score")[slot]),
            }
