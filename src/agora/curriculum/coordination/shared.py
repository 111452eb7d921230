"""Shared-memory coordination: one pool in a shared segment, used by many processes at once.

The segment itself (creation, attaching, the ``flock``, the string table) is
:class:`agora.tracking.shared.SharedMemoryBackend`. This module is the protocol on top of it:

- **Buffers.** Scores and hand-out counts are read-modify-write, so a process buffers them
  and applies them in batches under the cross-process lock (``shared_update_batch`` scores,
  256 hand-outs), vectorised when there are enough.
- **Seqlock reads.** ``get_task`` reads a slot's id without the lock: evictions make the header
  ``version`` odd while they run, and a reader that sees it odd or changed retries under the lock.
- **Crash journal.** Every change is announced in the segment's control words first
  (:class:`Journal`), so the next lock holder can tell whether a process died half-way and
  repair the pool (:meth:`Journal.recover`).

Under the lock only the planned swaps and the buffered scores happen; planning, generating
replacement tasks and drawing samples run outside it (a lock-free read: a heuristic anyway).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing.util
import uuid
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from agora.checkpoint import defining_config
from agora.config import TConfig
from agora.curriculum.config import CurriculumConfig
from agora.curriculum.coordination.local import LocalCoordinator
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
from agora.tracking import shared
from agora.tracking.memory import ArraySpec
from agora.tracking.shared import SharedMemoryBackend

__all__ = ["Journal", "SessionLabels", "SharedCoordinator"]

_SCHEDULED_BATCH = 256
"""Hand-outs a process batches before adding them to the shared ``scheduled`` counts."""
_VECTORISED_MIN = 32
"""Buffered scores applied through the vectorised batch path rather than one by one."""

_PreparedScores = tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.float64],
    npt.NDArray[np.intp],
    npt.NDArray[np.bool_],
    npt.NDArray[np.float64] | None,
]
"""Task ids, scores, the slots looked up for them (-1: not in the pool), their first occurrences
and the learner's priorities (None: none given)."""
_Update = tuple[int, float, float | None]
"""A buffered single report: task id, score, priority (None: not given)."""
_Handouts = tuple[npt.NDArray[np.intp], npt.NDArray[np.int64]]
"""Slots handed out by a process and the ids they held then (for the shared ``scheduled`` counts)."""
_Buffered = tuple[_PreparedScores | None, _Handouts | None]
"""A process's buffered scores and hand-outs, prepared before taking the lock."""


class Journal:
    """The crash journal: what the lock holder is changing, in the segment's control words.

    A writer calls one ``begin_*`` before it changes the pool and :meth:`end` (or
    :meth:`end_eviction`) after; :meth:`recover` (called by every lock holder first) repairs
    what a writer killed in between left. Updates and batches are complete once the pool's
    ``num_completed`` reaches the recorded target (it is written last).
    """

    UPDATE, EVICT, BATCH = 1, 2, 3

    def __init__(self, backend: SharedMemoryBackend, engine: PoolEngine) -> None:
        base = backend.journal_base
        self._op, self._arg, self._target, self._recoveries = base, base + 1, base + 2, base + 3
        self._stale = base + 4  # num_stale before the journalled change
        self._control = backend.control
        self._scratch = backend.scratch
        self._engine = engine
        self._pool = engine.pool
        self._header = engine.pool.header
        self._h_completed = HEADER.index("num_completed")
        self._h_stale = HEADER.index("num_stale")
        self._h_version = HEADER.index("version")

    @property
    def capacity(self) -> int:
        """Task ids one journalled batch chunk can hold."""
        return len(self._scratch)

    @property
    def recoveries(self) -> int:
        """Repairs after dead writers, pool-wide."""
        return int(self._control[self._recoveries])

    def apply_batch(
        self,
        ids: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        slots: npt.NDArray[np.intp],
        first: npt.NDArray[np.bool_],
        priorities: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """Apply scores (and priorities, if any) through the engine chunk by chunk, each chunk
        journalled (under the lock): a torn chunk's tasks are replaced whole, priorities included.

        First occurrences over the whole batch stay valid chunk by chunk: a repeat's earlier
        occurrences are in the same chunk or an earlier one.
        """
        chunk = self.capacity
        for begin in range(0, len(ids), chunk):
            end = begin + chunk
            self.begin_batch(ids[begin:end])
            try:
                self._engine.apply_scores(
                    ids[begin:end],
                    values[begin:end],
                    slots[begin:end],
                    first[begin:end],
                    None if priorities is None else priorities[begin:end],
                )
            finally:
                self.end()

    def apply_updates(self, updates: list[_Update], apply: Callable[..., None]) -> None:
        """``apply(task_id, score, priority=priority)`` for each buffered report in turn,
        journalled; the applied ones leave ``updates``."""
        done = 0
        try:
            for task_id, score, priority in updates:
                self.begin_update(task_id)
                done += 1
                apply(task_id, score, priority=priority)
        finally:
            self.end()
            del updates[:done]

    def begin_update(self, task_id: int) -> None:
        """One score for ``task_id`` is about to be applied."""
        control, header = self._control, self._header
        control[self._arg] = task_id
        control[self._target] = header[self._h_completed] + 1
        control[self._stale] = header[self._h_stale]
        control[self._op] = self.UPDATE

    def begin_batch(self, task_ids: npt.NDArray[np.int64]) -> None:
        """Scores for ``task_ids`` (at most :attr:`capacity`) are about to be applied."""
        control, header = self._control, self._header
        self._scratch[: len(task_ids)] = task_ids
        control[self._arg] = len(task_ids)
        control[self._target] = header[self._h_completed] + len(task_ids)
        control[self._stale] = header[self._h_stale]
        control[self._op] = self.BATCH

    def begin_eviction(self, slots: npt.NDArray[np.intp]) -> None:
        """The tasks in ``slots`` are about to be evicted and replaced; lock-free readers retry."""
        k = len(slots)
        self._scratch[:k] = slots
        self._scratch[k : 2 * k] = self._pool.array("ids")[slots]
        self._control[self._arg] = k
        self._header[self._h_version] += 1  # odd: readers of ids retry under the lock
        self._control[self._op] = self.EVICT

    def end(self) -> None:
        self._control[self._op] = 0

    def end_eviction(self) -> None:
        self._header[self._h_version] += 1
        self._control[self._op] = 0

    def after_load(self) -> None:
        """A checkpoint replaced the pool: nothing is half-done, and lock-free readers retry."""
        header, version = self._header, self._h_version
        header[version] = header[version] + 2 - header[version] % 2
        self._control[self._op] = 0

    def recover(self) -> None:
        """Repair the pool if a process died while changing it (called under the lock).

        A half-applied update or chunk of a batch: its tasks are evicted (their statistics may
        be torn), and the pool-wide counters (completed, stale) include none of its episodes.
        A half-done eviction: the id map and free stack are rebuilt from ``ids``, the slots
        being replaced get fresh tasks.
        """
        control, header, pool = self._control, self._header, self._pool
        op = control[self._op]
        if not op and not header[self._h_version] & 1:
            return
        if not header[self._h_version] & 1:
            header[self._h_version] += 1
        torn = header[self._h_completed] != control[self._target]
        if op == self.UPDATE and torn:
            header[self._h_stale] = control[self._stale]  # the episode counts nowhere
            slot = pool.slot_of(control[self._arg])
            if slot is not None:
                self._engine.replace(np.asarray([slot], dtype=np.intp))
        elif op == self.BATCH and torn:
            header[self._h_stale] = control[self._stale]  # no episode of the chunk counts
            slots = pool.slots_of(self._scratch[: control[self._arg]])
            self._engine.replace(np.unique(slots[slots >= 0]))
        elif op == self.EVICT:
            k = control[self._arg]
            slots, old_ids = self._scratch[:k].astype(np.intp), self._scratch[k : 2 * k]
            ring = pool.backend.array("evicted")
            # Removed, but killed before the evicted ring was written: record them, so late
            # scores for them count as stale rather than unknown.
            lost = old_ids[(pool.array("ids")[slots] < 0) & ~np.isin(old_ids, ring)]
            if len(lost):
                start = pool.counter("num_evicted")
                ring[np.arange(start, start + len(lost)) % len(ring)] = lost
                pool.add_to_counter("num_evicted", len(lost))
            pool.rebuild_index()
            self._engine.replace(slots[pool.array("ids")[slots] >= 0])
        control[self._recoveries] += 1
        header[self._h_version] += 1
        control[self._op] = 0


class SessionLabels(LabelTable):
    """Label indices that mean the same in every process: the session's string table, mirrored here."""

    def __init__(self, backend: SharedMemoryBackend) -> None:
        super().__init__()
        self._backend = backend

    def id_of(self, label: str | None) -> int:
        """The session's index of ``label``, added if new (called under the lock)."""
        if label is None:
            return -1
        index = self._index.get(label)
        if index is None:
            self.sync()
            index = self._index.get(label)
            if index is None:
                index = self._backend.string_table.add(label)
                self.sync()
        return index

    def sync(self) -> None:
        """Mirror labels other processes added (under the lock)."""
        if self._backend.string_table.count() != len(self.labels):
            self._extend(self._backend.string_table.read(len(self.labels)))

    def after_load(self, column: npt.NDArray[np.int16]) -> None:
        """A checkpoint's label table was loaded: map its indices in ``column`` onto the session's."""
        loaded = list(self.labels)
        self.replace(())
        self.sync()
        if loaded:
            mapping = np.asarray([self.id_of(label) for label in loaded], dtype=column.dtype)
            column[column >= 0] = mapping[column[column >= 0]]


class SharedCoordinator(LocalCoordinator[TConfig]):
    """The per-episode calls and refresh steps of a pool in shared memory (see the module docs)."""

    @staticmethod
    def open_pool(
        config: CurriculumConfig,
        fields: Sequence[SlotField],
        tables: Sequence[ArraySpec],
        *,
        session_id: str | None,
        attach: bool,
    ) -> tuple[TaskPool, LabelTable, bool]:
        """Create or attach to the session's pool; whether this process created it (and must
        initialise it: the lock is held until the coordinator is built)."""
        return _open_session_pool(config, fields, tables, session_id, attach)

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
        super().__init__(source, engine, sampler, refresh, config=config, created=created)
        backend = engine.pool.backend
        labels = engine.labels
        assert isinstance(backend, SharedMemoryBackend)
        assert isinstance(labels, SessionLabels)
        self.backend = backend
        self.journal = Journal(backend, engine)
        self._labels = labels
        self._seed = config.seed
        self._batch = int(config.setting("shared_update_batch"))
        self._h_version = HEADER.index("version")
        self._pending_slots: list[int] = []  # handed out, not yet in the shared scheduled counts
        self._pending_ids: list[int] = []
        self._pending_updates: list[_Update] = []  # reported, not yet applied
        self._last_handed = -1
        if created:
            backend.mark_ready()
        else:
            engine.rng = np.random.default_rng([config.seed, backend.next_attach_index()])
        shared.on_fork(self._after_fork)
        self._exit_flush: multiprocessing.util.Finalize[None] | None = None
        self._flush_at_exit()
        # multiprocessing children drop the finalizers they inherited (or unpickled) before
        # running their target: register again there.
        multiprocessing.util.register_after_fork(self, SharedCoordinator._flush_at_exit)

    @property
    def session_id(self) -> str | None:
        return self.backend.session_id

    # -- the per-episode calls ---------------------------------------------------------------

    def get_task(self) -> CurriculumTask[TConfig]:
        if not self._queue:
            self._refresh()
        slot = self._queue.pop()
        header = self._header
        version = header[self._h_version]
        task_id = self._ids[slot]
        if version & 1 or task_id < 0 or header[self._h_version] != version:
            with self.backend:
                self.journal.recover()
                task_id = self._ids[slot]
        # Scheduled counts are read-modify-write: applied in batches under the lock (_flush_handouts).
        self._pending_slots.append(slot)
        self._pending_ids.append(task_id)
        if len(self._pending_slots) >= _SCHEDULED_BATCH:
            self.flush()
        self._last_handed = task_id
        # Replay: a score for the task had reached the shared pool (this process's buffered ones
        # arrive at its next flush).
        return CurriculumTask(self._source, task_id, slot, self._completions[slot] > 0)

    def update_task_performance(self, task_id: int, score: float, *, priority: float | None = None) -> None:
        # Checked before buffering: a bad entry in the buffer would fail every later flush.
        if type(task_id) is not int or not 0 <= task_id < ID_LIMIT:  # inline: the per-episode path
            task_id = checked_task_id(task_id)
        if type(score) is not float or not -MAX_SCORE <= score <= MAX_SCORE:
            score = checked_score(task_id, score)
        if priority is not None:
            priority = checked_priority(task_id, priority)
        # The id just handed out (the usual case) needs no look-up.
        if task_id != self._last_handed and self._pool.slot_of(task_id) is None:
            self._update_unseen(task_id, score, priority)
            return
        self._pending_updates.append((task_id, score, priority))
        if len(self._pending_updates) >= self._batch:
            # Converting and looking up the batch before taking the lock keeps the lock short.
            buffered = self._buffered(full=False)
            with self.backend:
                self._sync(full=False, buffered=buffered)

    def _update_unseen(self, task_id: int, score: float, priority: float | None) -> None:
        """A score for an id not in the (lock-free read of the) map: rare, so decided at once,
        under the lock. An unknown id raises here, not in some later call, and is never buffered."""
        buffered = self._buffered()
        with self.backend:
            self._sync(buffered=buffered)
            if self._pool.slot_of(task_id) is None and not self._pool.was_evicted(task_id):
                raise ValueError(unknown_id(task_id))
            self._pending_updates.append((task_id, score, priority))
            self._sync()

    def take(self, k: int) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.int64], npt.NDArray[np.bool_]]:
        # Under the lock: the hand-out counts, and ids no eviction is changing. Refreshes
        # between the parts of a batch stay outside it (they lock what they change).
        buffered = self._buffered()
        with self.backend:
            self._sync(buffered=buffered)
            return super().take(k)

    def update_many(
        self,
        ids: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        guess: npt.NDArray[np.intp] | None,
        priorities: npt.NDArray[np.float64] | None = None,
    ) -> None:
        prepared = self._prepare(ids, values, guess, priorities)
        buffered = self._buffered()
        with self.backend:
            self._sync(buffered=buffered)  # this process's earlier single scores go first
            self._apply_batch(*prepared, check=True)

    # -- applying what was buffered (under the lock) ---------------------------------------------

    def _prepare(
        self,
        ids: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        guess: npt.NDArray[np.intp] | None,
        priorities: npt.NDArray[np.float64] | None = None,
    ) -> _PreparedScores:
        """Before taking the lock: each id's slot and first occurrences (checked under the lock)."""
        slots = self.engine.slots_of(ids, guess)
        return ids, values, slots, first_occurrences(slots), priorities

    def _prepared_updates(self) -> _PreparedScores:
        """This process's buffered scores, prepared by :meth:`_prepare`; a report without a
        priority gets its score as one when others in the buffer have theirs (PLR's fallback)."""
        ids, values, given = zip(*self._pending_updates, strict=True)
        scores = np.asarray(values, dtype=np.float64)
        priorities = None
        if given.count(None) != len(given):
            priorities = np.asarray([s if p is None else p for s, p in zip(values, given, strict=True)])
        return self._prepare(np.asarray(ids, dtype=np.int64), scores, None, priorities)

    def _apply_batch(
        self,
        ids: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        guess: npt.NDArray[np.intp],
        first: npt.NDArray[np.bool_],
        priorities: npt.NDArray[np.float64] | None,
        check: bool = False,
    ) -> None:
        """Under the lock: apply validated scores vectorised, journalled chunk by chunk.

        ``check``: raise for an unknown id first (all or nothing); without it, ids missing from
        the pool count as stale (buffered ids were checked when reported). ``guess`` holds the
        slots found before the lock was taken and ``first`` their first occurrences (together
        most of the work): only ids whose slot another process has changed since are looked up again.
        """
        slots = self.engine.slots_of(ids, guess)
        if slots is not guess:
            first = first_occurrences(slots)
        if check:
            self.engine.check_known(ids, slots)
        self.journal.apply_batch(ids, values, slots, first, priorities)

    def _buffered(self, full: bool = True) -> _Buffered:
        """Before taking the lock: this process's buffered scores (:meth:`_prepared_updates`,
        when there are enough to apply vectorised) and hand-outs as arrays, for :meth:`_sync`."""
        scores = self._prepared_updates() if len(self._pending_updates) >= _VECTORISED_MIN else None
        slots = self._pending_slots
        if not slots or not (full or len(slots) >= _SCHEDULED_BATCH):
            return scores, None
        return scores, (np.asarray(slots, dtype=np.intp), np.asarray(self._pending_ids, dtype=np.int64))

    def _sync(self, full: bool = True, buffered: _Buffered = (None, None)) -> None:
        """Under the lock: repair after a crashed writer, then apply what this process buffered.

        Hand-out counts are batched more coarsely (``full=False`` leaves fewer than
        ``_SCHEDULED_BATCH`` of them pending): applying them costs a few vectorised calls.
        ``buffered``: :meth:`_buffered`, made before the lock was taken.
        """
        prepared, handouts = buffered
        self.journal.recover()
        if full or len(self._pending_slots) >= _SCHEDULED_BATCH:
            self._flush_handouts(handouts)
        self._labels.sync()
        updates = self._pending_updates
        if not updates:
            return
        if len(updates) >= _VECTORISED_MIN:
            # Vectorised application keeps the time under the lock short, which is what lets
            # several processes run at once (the one-by-one loop held it for ~3 µs per score).
            if prepared is None or len(prepared[0]) != len(updates):
                prepared = self._prepared_updates()
            updates.clear()
            self._apply_batch(*prepared)
            return
        self.journal.apply_updates(updates, super().update_task_performance)

    def _flush_handouts(self, handouts: _Handouts | None = None) -> None:
        slots, ids = self._pending_slots, self._pending_ids
        if not slots:
            return
        if handouts is None or len(handouts[0]) != len(slots):
            handouts = (np.asarray(slots, dtype=np.intp), np.asarray(ids, dtype=np.int64))
        handed, handed_ids = handouts
        still = self._pool.array("ids")[handed] == handed_ids  # not evicted since
        count_into(self._pool.array("scheduled"), handed[still])
        self._header[self._h_scheduled] += len(slots)
        slots.clear()
        ids.clear()

    # -- refresh steps ----------------------------------------------------------------------------

    def sync(self) -> None:
        """Before a refresh plans: bring this process's buffered scores and hand-outs in, so the
        plan sees them (a single-process shared pool then plans exactly as a local one)."""
        buffered = self._buffered()
        with self.backend:  # raises once this process closed the pool
            self._sync(buffered=buffered)

    def evict(
        self, plan: npt.NDArray[np.intp], planned_ids: npt.NDArray[np.int64], prepared: Prepared
    ) -> list[int]:
        """Under the lock, evict the planned tasks still in their slots (another process may have
        evicted some since the plan) and refill; the evicted ids."""
        buffered = self._buffered()
        with self.backend:
            self._sync(buffered=buffered)
            slots = plan[self._pool.array("ids")[plan] == planned_ids]
            if not len(slots):
                return []
            self.journal.begin_eviction(slots)
            removed = self.engine.evict(slots, prepared)
            self.journal.end_eviction()  # not on error: the next lock holder repairs a torn pool
            return removed

    # -- whole-pool operations --------------------------------------------------------------

    @contextlib.contextmanager
    def locked(self) -> Iterator[None]:
        """Under the lock, on a repaired pool holding this process's buffered work."""
        with self.backend:
            self._sync()
            yield

    def before_read(self) -> None:
        """Apply this process's buffered work before an O(pool) read without the lock (which must
        not stall other processes: it may see a few of their updates half-applied, never corrupt state)."""
        if self.backend.closed:
            raise ValueError(f"the shared pool of session {self.session_id!r} was closed in this process")
        self.flush()

    def after_load(self) -> None:
        """Map the loaded label table onto the session's; lock-free readers retry."""
        self._labels.after_load(self._pool.array("label"))
        self.journal.after_load()

    def snapshot(self, get_state: Callable[[], dict[str, Any]]) -> dict[str, Any] | None:
        """Nothing: a pickled copy re-attaches to the session, which holds the state."""
        return None

    def flush(self) -> None:
        if not self.backend.closed:
            buffered = self._buffered()
            with self.backend:
                self._sync(buffered=buffered)

    def close(self) -> None:
        backend = self.backend
        if backend.closed:
            return
        with backend:
            self._sync()
        backend.close()
        if self._exit_flush is not None:
            self._exit_flush.cancel()
            self._exit_flush = None

    def shared_stats(self) -> dict[str, float]:
        return {
            "num_recoveries": float(self.journal.recoveries),
            "lock_waits": float(self.backend.lock_waits),
            "lock_wait_seconds": self.backend.lock_wait_seconds,
            "lock_hold_seconds": self.backend.lock_hold_seconds,
        }

    def warn_if_copied(self) -> None:
        """Nothing to warn about: every copy works on the same shared pool."""

    # -- processes ------------------------------------------------------------------------------

    def _flush_at_exit(self) -> None:
        """Deliver this process's buffered scores when it exits without :meth:`close`.

        A ``multiprocessing`` finalizer runs both at interpreter exit (``atexit``) and when a
        ``multiprocessing`` child returns from its target (children skip ``atexit``). It holds
        the coordinator (and so the curriculum) until exit or ``close()``.
        """
        self._exit_flush = multiprocessing.util.Finalize(None, _exit_flush, args=(self,), exitpriority=10)

    def _after_fork(self) -> None:
        """In a forked child: draw our own samples with our own seed; the parent's pending counts stay its."""
        if self.backend.closed:
            return
        self._sampler.clear()
        self._pending_slots.clear()
        self._pending_ids.clear()
        self._pending_updates.clear()
        self.engine.forget_prepared()
        self.engine.rng = np.random.default_rng([self._seed, self.backend.next_attach_index()])


def _open_session_pool(
    config: CurriculumConfig,
    fields: Sequence[SlotField],
    tables: Sequence[ArraySpec],
    session_id: str | None,
    attach: bool,
) -> tuple[TaskPool, LabelTable, bool]:
    if session_id == "":
        raise ValueError("session_id is '': name the session or leave it None")
    session = session_id or config.setting("session_id") or f"agora-{uuid.uuid4().hex}"
    factory = functools.partial(
        SharedMemoryBackend,
        session_id=session,
        scratch_length=2 * config.num_active_tasks,
        create=not attach,
        fingerprint=_fingerprint(config),
    )
    pool = TaskPool(config.num_active_tasks, fields, factory, tables=tables)
    backend = pool.backend
    assert isinstance(backend, SharedMemoryBackend)
    return pool, SessionLabels(backend), backend.created


def _fingerprint(config: CurriculumConfig) -> dict[str, str]:
    """A digest per defining field (the algorithm's fields one by one), to name what differs."""
    fields = defining_config(config.model_dump(mode="json"))
    flat = {k: v for k, v in fields.items() if k != "algorithm_config"}
    flat.update({f"algorithm_config.{k}": v for k, v in fields["algorithm_config"].items()})
    return {
        name: hashlib.blake2b(json.dumps(value, sort_keys=True).encode(), digest_size=6).hexdigest()
        for name, value in flat.items()
    }


def _exit_flush(coordinator: SharedCoordinator[Any]) -> None:
    """At process exit: deliver an unclosed shared curriculum's buffered scores (never raises)."""
    try:
        coordinator.flush()
    except Exception as exc:  # at exit there is no caller left to handle it
        warnings.warn(
            f"agora: buffered scores of session {coordinator.session_id!r} not delivered: {exc}", stacklevel=1
        )
