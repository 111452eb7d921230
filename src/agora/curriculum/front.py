"""The curriculum: a pool of task ids, an algorithm that weights them, and checkpoints.

Per episode a worker calls :meth:`Curriculum.get_task` and later
:meth:`Curriculum.update_task_performance`; both are O(1). Sampling weights are refreshed
in one vectorised pass every ``refresh_interval`` episodes, which also evicts tasks the
algorithm no longer wants and draws the next ``refresh_interval`` samples at once. So the
sampling distribution lags the statistics by at most ``refresh_interval`` episodes; the
statistics themselves are always current.

This class is the front end: the pool engine (:mod:`agora.curriculum.engine`) says what
happens to the pool, the sampler (:mod:`agora.curriculum.sampler`) holds the pre-drawn
queue, and a coordinator (:mod:`agora.curriculum.coordination`) says when and under which
lock, local or shared. Both modes take the same refresh path (:meth:`Curriculum._refresh`).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Callable, Sequence
from types import TracebackType
from typing import Any, Generic, Protocol

import numpy as np
import numpy.typing as npt

from agora.checkpoint import CheckpointError, capture, check_state, read_checkpoint, write_checkpoint
from agora.config import TConfig
from agora.curriculum.config import CurriculumConfig
from agora.curriculum.coordination.local import LocalCoordinator
from agora.curriculum.coordination.shared import SharedCoordinator
from agora.curriculum.engine import PoolEngine
from agora.curriculum.labels import LABEL_TOTALS, LabelTotals
from agora.curriculum.sampler import Sampler
from agora.curriculum.stat_loggers import CacheCoordinator, SliceAnalyzer
from agora.curriculum.stats import CurriculumStats
from agora.curriculum.task import CurriculumTask, TaskBatch, TaskIds
from agora.curriculum.validation import checked_count, priority_batch, score_batch
from agora.generators.base import GeneratedTask, TaskGenerator

__all__ = ["Curriculum", "ReportScore"]


class ReportScore(Protocol):
    """``update_task_performance(task_id, score, *, priority=None)``."""

    def __call__(self, task_id: int, score: float, *, priority: float | None = None) -> None: ...


class Curriculum(Generic[TConfig]):
    """A pool of tasks sampled by a :class:`~agora.algorithms.CurriculumAlgorithm`.

    With ``config.use_shared_memory`` the pool lives in shared memory and every
    process that builds a curriculum with the same ``session_id`` (or unpickles this one)
    shares it; see docs/shared-memory.md. ``session_id`` overrides the config's.
    """

    get_task: Callable[[], CurriculumTask[TConfig]]
    """The next task to play. O(1) except at a refresh (every ``refresh_interval`` calls).
    The coordinator's method, bound once: no call in between on the per-episode path."""

    update_task_performance: ReportScore
    """Report one episode's score: ``update_task_performance(task_id, score, *, priority=None)``.

    ``score`` is the episode's success (what learning progress, learnability and the statistics
    read). ``priority`` is an optional second number from the learner, e.g.
    :func:`agora.scores.positive_value_loss` of the rollout: PLR ranks tasks by it (by the
    score when it is not given); the other algorithms ignore it. Keyword-only, so the two
    floats cannot be swapped by position.

    Raises ``ValueError`` for a non-finite score or priority (naming it) or an id that was
    never in the pool. An update for a recently evicted task counts in ``num_completed`` and
    ``num_stale_updates`` but changes no task statistics: in a shared pool another worker may
    evict a task while it is being played. Bound once, as :attr:`get_task`."""

    def __init__(
        self, config: CurriculumConfig, *, session_id: str | None = None, _attach: bool = False
    ) -> None:
        self.config = config
        self._generator: TaskGenerator[TConfig] = config.task_generator.create()
        # Configs are built lazily: build one now, so that e.g. a bucket path that does not
        # exist fails here, naming the path, rather than at the first get_env_cfg() of a worker.
        self._generator.generate(0).config  # noqa: B018
        self._cache: OrderedDict[int, GeneratedTask[TConfig]] = OrderedDict()
        axes = dict(list(self._generator.bucket_axes().items())[: config.setting("max_slice_axes")])
        fields = (*config.algorithm_config.pool_fields(), *SliceAnalyzer.fields(len(axes)))
        # The one place the mode is chosen: everything after goes through the coordinator.
        coordination = SharedCoordinator if config.setting("use_shared_memory") else LocalCoordinator
        tables = LabelTotals.tables(self._generator.has_labels)
        opened = coordination.open_pool(config, fields, tables, session_id=session_id, attach=_attach)
        self.pool, labels, created = opened
        try:
            self._versions = CacheCoordinator(self.pool)
            self.slice_analyzer: SliceAnalyzer | None = None
            if axes:
                self.slice_analyzer = SliceAnalyzer(
                    self.pool, axes, self._versions, config.setting("enable_detailed_slice_logging")
                )
            if created:
                self.pool.initialize()
            self.algorithm = config.algorithm_config.create(self.pool)
            self._interval = config.effective_refresh_interval
            self._engine = PoolEngine(
                self.pool,
                self.algorithm,
                rng=np.random.default_rng(config.seed),
                max_task_id=config.max_task_id,
                min_presentations_for_eviction=config.min_presentations_for_eviction,
                refresh_interval=self._interval,
                generator=self._generator,
                labels=labels,
                slice_analyzer=self.slice_analyzer,
                mutation=config.mutation,
            )
            if created:
                self._engine.fill()
            self._sampler = Sampler()
            self._queue = self._sampler.queue  # changed only in place
            self.coordinator: LocalCoordinator[TConfig] = coordination(
                self, self._engine, self._sampler, self._refresh, config=config, created=created
            )
            """Says when the engine's steps run and under which lock (local or shared memory)."""
        except BaseException:
            self.pool.backend.close()
            raise
        self.get_task = self.coordinator.get_task
        self.update_task_performance = self.coordinator.update_task_performance
        self._take = self.coordinator.take
        self._stats = CurriculumStats(self._engine, self._versions)

    # -- the per-episode API ----------------------------------------------------------------

    def get_tasks(self, k: int) -> TaskBatch[TConfig]:
        """``k`` tasks at once, equal in effect to ``k`` calls of :meth:`get_task`."""
        k = checked_count(k)
        slots: list[npt.NDArray[np.intp]] = [np.empty(0, dtype=np.intp)]
        ids: list[npt.NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
        replays: list[npt.NDArray[np.bool_]] = [np.empty(0, dtype=bool)]
        needed = k
        while needed:
            if not self._queue:
                self._refresh()  # sees the counts of the tasks taken so far, as single calls would
            chunk, chunk_ids, chunk_replays = self._take(min(needed, len(self._queue)))
            slots.append(chunk)
            ids.append(chunk_ids)
            replays.append(chunk_replays)
            needed -= len(chunk)
        if len(slots) == 2:
            return TaskBatch(self, ids[1], slots[1], replays[1])
        return TaskBatch(self, np.concatenate(ids), np.concatenate(slots), np.concatenate(replays))

    def update_task_performance_many(
        self,
        task_ids: TaskIds,
        scores: Sequence[float] | npt.ArrayLike,
        *,
        priorities: Sequence[float] | npt.ArrayLike | None = None,
    ) -> None:
        """Report many episodes at once, equal in effect to one call per pair, in order.

        ``priorities``: the learner's priority of each episode (one per score, all finite), as
        ``priority`` of :meth:`update_task_performance`; None: none given.

        ``task_ids``: the ids, or the :class:`TaskBatch` they came in (cheaper: the slots of
        its tasks are known, so they are only checked instead of looked up). Vectorised: each
        task's first score in the batch is applied with everyone else's, its later ones after
        it (in more vectorised rounds while many tasks repeat, the few left one by one), so
        per-task EMAs see the scores in the order given. Validation happens before anything is
        applied, so a bad entry leaves the curriculum unchanged.
        """
        if isinstance(task_ids, TaskBatch):
            ids, values = score_batch(task_ids.task_ids, scores)
            guess = task_ids.slots_from(self)
        else:
            ids, values = score_batch(task_ids, scores)
            guess = None
        checked = None if priorities is None else priority_batch(ids, priorities)
        self.coordinator.update_many(ids, values, guess, checked)

    def flush(self) -> None:
        """Apply this process's buffered scores and hand-out counts to a shared pool now.

        Called automatically every ``shared_update_batch`` scores, at refreshes, by
        :meth:`stats`, :meth:`get_state`, :meth:`close` and at process exit. A no-op for a
        local pool or a closed one.
        """
        self.coordinator.flush()

    # -- tasks and configs --------------------------------------------------------------

    def generated(self, task_id: int) -> GeneratedTask[TConfig]:
        """The generated task for ``task_id`` (LRU-cached: configs are built on demand)."""
        task = self._cache.get(task_id)
        if task is None:
            task = self._generator.generate(task_id)
            if self.config.config_cache_size:
                self._cache[task_id] = task
                if len(self._cache) > self.config.config_cache_size:
                    self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(task_id)
        return task

    @property
    def task_generator(self) -> TaskGenerator[TConfig]:
        return self._generator

    def active_task_ids(self) -> list[int]:
        """Ids of all tasks in the pool, in slot order."""
        with self.coordinator.locked():
            return self.pool.array("ids")[self.pool.active_slots()].tolist()  # type: ignore[no-any-return]

    # -- the refresh: one path for every mode ---------------------------------------------------

    def _refresh(self) -> None:
        """Evict, refill, recompute weights and pre-draw the next ``refresh_interval`` slots.

        The coordinator brings in what this process buffered first, then planning (a lock-free
        read), generating replacements and drawing run outside any lock; only the swap of the
        planned tasks still in their slots runs under it. A local and a single-process shared
        curriculum with the same seed therefore hand out the same tasks, evictions included.
        """
        engine = self._engine
        self.coordinator.sync()
        self.algorithm.on_refresh()
        plan = engine.eviction_plan()
        if plan is not None and len(plan):
            planned_ids = self.pool.array("ids")[plan]
            for task_id in self.coordinator.evict(plan, planned_ids, engine.prepare_tasks(len(plan), plan)):
                self._cache.pop(task_id, None)
        active = self.pool.active_slots()
        weights = engine.checked_weights(active)
        self._sampler.draw(weights, active, engine.rng, self._interval, self.pool.all_slots)

    def sampling_probabilities(self) -> dict[int, float]:
        """Current sampling probability of each active task id (O(N): for inspection, not hot paths)."""
        self.coordinator.before_read()
        return self._engine.probabilities()

    # -- statistics -------------------------------------------------------------------------

    def stats(self) -> dict[str, float]:
        """Flat ``name -> number`` statistics, ready for wandb or TensorBoard.

        Cached until the pool changes. Keys: pool counters, ``algorithm/*``, per-label
        ``label/<label>/*`` and per-bucket-axis ``slices/<path>/*``.
        """
        self.coordinator.before_read()
        return self._stats.collect()

    def shared_stats(self) -> dict[str, float]:
        """A shared pool's health: repairs after dead writers (pool-wide), how often and how
        long this process waited for the lock, and how long it held it. Empty for a local pool."""
        return self.coordinator.shared_stats()

    # -- checkpoints --------------------------------------------------------------------------

    def get_state(self) -> dict[str, Any]:
        """Everything needed to continue exactly where this curriculum is, as JSON-ready data
        (the layout is described in :mod:`agora.checkpoint`)."""
        with self.coordinator.locked():
            return capture(
                config=self.config.model_dump(mode="json"),
                rng=self._engine.rng,
                queue=self._queue,
                labels=self._engine.labels.labels,
                label_totals=self._label_totals_state(),
                pool=self.pool,
                algorithm=self.algorithm.get_state(),
                slices=self.slice_analyzer.get_state() if self.slice_analyzer is not None else None,
            )

    def load_state(self, state: dict[str, Any], *, strict: bool = True) -> None:
        """Restore :meth:`get_state` output. All or nothing: on error nothing changes.

        The state is checked before anything is applied (format, pool layout, a consistent id
        map and free stack, label indices, a queue of active slots). A config that differs
        from this curriculum's raises :class:`CheckpointError`; with ``strict=False`` it only
        warns (the pool layout must still match). Deployment fields (``use_shared_memory``,
        ``session_id``, ``shared_update_batch``, ``config_cache_size``) are not compared; a
        different ``seed`` only warns, since the checkpoint's random state replaces it.
        """
        with self.coordinator.locked():
            backup = self.get_state()
            try:
                self._load_state(state, strict)
            except Exception as exc:
                self._load_state(backup, strict=False)
                if isinstance(exc, CheckpointError):
                    raise
                raise CheckpointError(f"invalid curriculum state: {type(exc).__name__}: {exc}") from exc

    def _load_state(self, state: dict[str, Any], strict: bool) -> None:
        config = self.config.model_dump(mode="json")
        checked = check_state(state, config=config, pool=self.pool, strict=strict)  # changes nothing
        for name, array in checked.arrays.items():
            self.pool.backend.array(name)[:] = array
        self.pool.rebuild_table()
        self._engine.rng = checked.rng
        self._sampler.set(checked.queue)
        self._engine.labels.replace(checked.labels)
        self._cache.clear()
        self._stats.invalidate()
        self.algorithm.load_state(checked.algorithm)
        if self.slice_analyzer is not None and checked.slices is not None:
            self.slice_analyzer.load_state(checked.slices)
        self.coordinator.after_load()
        totals = self._engine.label_totals
        if totals is not None:  # by name: a shared session may number the labels differently
            totals.load(checked.label_totals, [self._engine.labels.id_of(label) for label in checked.labels])

    def _label_totals_state(self) -> list[list[float]]:
        totals, labels = self._engine.label_totals, self._engine.labels.labels
        return totals.by_label(labels) if totals is not None else [[0.0] * len(LABEL_TOTALS) for _ in labels]

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write a checkpoint atomically (temp file, fsync, rename) with a checksum; temp files
        of earlier saves of ``path`` killed midway are removed."""
        write_checkpoint(path, self.get_state())

    def load(self, path: str | os.PathLike[str], *, strict: bool = True) -> None:
        """Load a checkpoint written by :meth:`save` into this curriculum (built from the same config).

        A damaged file raises :class:`CheckpointError`. Without the config at hand, use
        :meth:`from_checkpoint`.
        """
        self.load_state(read_checkpoint(path), strict=strict)

    @classmethod
    def from_checkpoint(cls, path: str | os.PathLike[str]) -> Curriculum[Any]:
        """A curriculum built from the config stored in checkpoint ``path``, continuing from its state.

        The config's generator and env config classes must be importable here (they are stored
        by import path); if they are not, or the file is damaged, :class:`CheckpointError` says why.
        """
        state = read_checkpoint(path)
        try:
            config = CurriculumConfig.model_validate(state["config"])
        except Exception as exc:  # a missing key, a class not importable here, an invalid field
            raise CheckpointError(
                f"cannot rebuild the curriculum config stored in {path}: {type(exc).__name__}: {exc}"
            ) from exc
        curriculum: Curriculum[Any] = cls(config)
        try:
            curriculum.load_state(state)
        except BaseException:
            curriculum.close()
            raise
        return curriculum

    # -- processes and lifetime -------------------------------------------------------------------

    @property
    def session_id(self) -> str | None:
        """Name of the shared pool, or None for a local one."""
        return self.coordinator.session_id

    def close(self) -> None:
        """Detach from a shared pool (its creator also removes it). A no-op for a local pool."""
        self.coordinator.close()

    def __enter__(self) -> Curriculum[TConfig]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __reduce__(self) -> tuple[Any, ...]:
        """Pickled (e.g. for ``spawn`` workers), a shared curriculum re-attaches to its session;
        a local one is copied whole."""
        state = self.coordinator.snapshot(self.get_state)
        return (_unpickle, (self.config, self.session_id, state, self.coordinator.home_pid))

    def warn_if_copied(self) -> None:
        """Warn (once per process) when this is a copy of a local curriculum made in another process.

        A local pool lives in the process that built it; a forked or unpickled copy in a worker
        (e.g. a ``Curriculum`` handed to ``gymnasium.vector.AsyncVectorEnv`` env functions) learns
        only from that worker's scores, and the original never sees them. The wrappers call this.
        """
        self.coordinator.warn_if_copied()


def _unpickle(
    config: CurriculumConfig, session_id: str | None, state: dict[str, Any] | None, home_pid: int
) -> Curriculum[Any]:
    if state is None:  # a shared pool: the session holds the state
        return Curriculum(config, session_id=session_id, _attach=True)
    curriculum: Curriculum[Any] = Curriculum(config)
    curriculum.load_state(state)
    curriculum.coordinator.home_pid = home_pid
    curriculum.warn_if_copied()
    return curriculum
