"""The task pool: which task ids are active, in which slot, with per-slot statistics.

Per-task state lives in arrays indexed by *slot* (never by position in a sorted id list,
so an eviction cannot shift one task's statistics onto another). A slot is found from a
task id through an open-addressing hash table kept in the same buffer, and freed slots go
back on a free stack and are reused. Because everything is in one buffer, a shared-memory
backend shares the whole pool, map and counters included.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from agora.tracking.memory import ArraySpec, LocalMemoryBackend, TaskMemoryBackend

__all__ = ["CORE_FIELDS", "HEADER", "SlotField", "TaskPool"]

SlotField = tuple[str, str, int]
"""A per-slot column: ``(name, typecode, width)``; width > 1 makes a row of that many values."""

CORE_FIELDS: tuple[SlotField, ...] = (
    ("completions", "I", 1),  # episodes reported for the task
    ("scheduled", "I", 1),  # times handed out by get_task
    ("score_sum", "d", 1),
    ("last_score", "f", 1),
    ("created_at", "q", 1),  # pool-wide completion count when the task was created
    ("label", "h", 1),  # index into the curriculum's label table, -1 for none
)

HEADER = ("num_free", "num_created", "num_evicted", "num_completed", "num_scheduled", "num_stale", "version")

EVICTED_MEMORY = 65536
"""How many recently evicted ids a pool remembers, to tell late updates from unknown ids."""
"""Pool-wide counters, stored in the buffer so that a shared pool shares them."""

_EMPTY = -1
_SCALAR_PROBES = 32
"""Ids left unresolved in a vectorised look-up up to which they are finished one by one."""


def _table_size(capacity: int) -> int:
    return 1 << max(4, (2 * capacity - 1).bit_length())  # load factor <= 0.5: short probes


class TaskPool:
    """Fixed-capacity slots of task state plus the id -> slot map and the free-slot stack."""

    def __init__(
        self,
        capacity: int,
        fields: Sequence[SlotField] = (),
        backend_factory: Callable[[Sequence[ArraySpec]], TaskMemoryBackend] = LocalMemoryBackend,
        tables: Sequence[ArraySpec] = (),
    ) -> None:
        """``tables``: arrays that are not per slot (e.g. per-label totals) in the same buffer,
        zeroed by :meth:`initialize`; their owners checkpoint them (not as raw pool arrays)."""
        if capacity <= 0:
            raise ValueError(f"pool capacity must be positive, got {capacity}")
        self.capacity = capacity
        self.fields: tuple[SlotField, ...] = (*CORE_FIELDS, *fields)
        names = [name for name, _, _ in self.fields]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate pool field names in {names}")
        table = _table_size(capacity)
        self._mask = table - 1
        layout = [
            ArraySpec("header", "q", len(HEADER)),
            ArraySpec("ids", "q", capacity),
            ArraySpec("free", "i", capacity),
            ArraySpec("table_keys", "q", table),
            ArraySpec("table_slots", "i", table),
            ArraySpec("evicted", "q", min(EVICTED_MEMORY, max(1024, capacity))),
            *(ArraySpec(name, code, capacity * width) for name, code, width in self.fields),
            *tables,
        ]
        self.tables: frozenset[str] = frozenset(spec.name for spec in tables)
        """Names of the arrays of ``tables``."""
        self.backend = backend_factory(layout)
        self.header = self.backend.view("header")
        self.ids = self.backend.view("ids")
        self._free = self.backend.view("free")
        self._keys = self.backend.view("table_keys")
        self._slots = self.backend.view("table_slots")
        self._h = {name: i for i, name in enumerate(HEADER)}
        self._widths = {name: width for name, _, width in self.fields}
        self.all_slots: npt.NDArray[np.intp] = np.arange(capacity, dtype=np.intp)
        """Every slot, in order: what :meth:`active_slots` returns (this very array) when the pool is full."""
        self.all_slots.flags.writeable = False

    def initialize(self) -> None:
        """Mark every slot free (done once by whoever creates the buffer)."""
        self.backend.array("ids")[:] = _EMPTY
        self.backend.array("table_keys")[:] = _EMPTY
        self.backend.array("evicted")[:] = _EMPTY
        # Pop order is slot 0, 1, 2, ... so a fresh pool fills slots in order.
        self.backend.array("free")[:] = np.arange(self.capacity - 1, -1, -1, dtype=np.int32)
        self.backend.array("header")[:] = 0
        for name in self.tables:
            self.backend.array(name)[:] = 0
        self.header[self._h["num_free"]] = self.capacity

    # -- counters ---------------------------------------------------------------------

    def counter(self, name: str) -> int:
        return int(self.header[self._h[name]])

    def add_to_counter(self, name: str, amount: int = 1) -> None:
        self.header[self._h[name]] += amount

    @property
    def size(self) -> int:
        """Number of active tasks."""
        return self.capacity - self.counter("num_free")

    # -- columns ------------------------------------------------------------------------

    def view(self, name: str) -> memoryview[Any]:
        return self.backend.view(name)

    def array(self, name: str) -> npt.NDArray[Any]:
        """Column ``name`` as numpy; width > 1 fields come back as ``(capacity, width)``."""
        arr = self.backend.array(name)
        width = self._widths.get(name, 1)
        return arr.reshape(self.capacity, width) if width > 1 else arr

    def has_field(self, name: str) -> bool:
        """Whether the pool has the per-slot column ``name``."""
        return name in self._widths

    def active_slots(self) -> npt.NDArray[np.intp]:
        """Slots holding a task, ascending; :attr:`all_slots` itself when the pool is full (usual)."""
        if self.header[self._h["num_free"]] == 0:
            return self.all_slots
        return np.flatnonzero(self.backend.array("ids") != _EMPTY)

    def gather(self, name: str, slots: npt.NDArray[np.intp]) -> npt.NDArray[Any]:
        """Column ``name`` at ``slots``; for :attr:`all_slots`, the column itself (no copy: read only)."""
        column = self.array(name)
        return column if slots is self.all_slots else column[slots]

    # -- id -> slot map ---------------------------------------------------------------

    def slot_of(self, task_id: int) -> int | None:
        """The slot holding ``task_id``, or None if it is not active. O(1) expected."""
        keys, mask = self._keys, self._mask
        try:
            i = task_id & mask
        except TypeError:
            raise TypeError(f"task ids are ints, got {task_id!r} ({type(task_id).__name__})") from None
        while True:
            key = keys[i]
            if key == _EMPTY:  # checked first: the marker (-1) must never match task id -1
                return None
            if key == task_id:
                return int(self._slots[i])
            i = (i + 1) & mask

    def slots_of(self, task_ids: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
        """Vectorised :meth:`slot_of`: the slot of each id, -1 where it is not active.

        Most ids sit in their home bucket (load factor <= 0.5), so one vectorised probe
        resolves nearly all of them; more probes run vectorised while many ids are left, and
        the last few walk on one by one from where the vectorised probes stopped.
        """
        if len(task_ids) and task_ids.min() < 0:  # the marker (-1) must never match task id -1
            some = np.full(len(task_ids), -1, dtype=np.intp)
            valid = np.flatnonzero(task_ids >= 0)
            some[valid] = self.slots_of(task_ids[valid])
            return some
        keys, slots, mask = self.backend.array("table_keys"), self.backend.array("table_slots"), self._mask
        index = task_ids & mask
        found = keys[index]
        result: npt.NDArray[np.intp] = slots[index].astype(np.intp)
        missed = np.flatnonzero(found != task_ids)
        if not len(missed):
            return result
        result[missed] = -1
        pending = missed[found[missed] != _EMPTY]
        index = index[pending]
        while len(pending) > _SCALAR_PROBES:
            index = (index + 1) & mask
            found = keys[index]
            hit = found == task_ids[pending]
            result[pending[hit]] = slots[index[hit]]
            probing = ~hit & (found != _EMPTY)
            pending, index = pending[probing], index[probing]
        key_view, slot_view = self._keys, self._slots
        for i, j, task_id in zip(pending.tolist(), index.tolist(), task_ids[pending].tolist(), strict=True):
            while True:
                j = (j + 1) & mask
                key = key_view[j]
                if key == _EMPTY:
                    break
                if key == task_id:
                    result[i] = slot_view[j]
                    break
        return result

    def _table_insert(self, task_id: int, slot: int) -> None:
        keys, mask = self._keys, self._mask
        i = task_id & mask
        while keys[i] != _EMPTY:
            if keys[i] == task_id:
                raise ValueError(f"task {task_id} is already in the pool")
            i = (i + 1) & mask
        keys[i] = task_id
        self._slots[i] = slot

    def _table_delete(self, task_id: int) -> None:
        # Linear probing with backward-shift deletion: no tombstones, lookups stay short.
        keys, slots, mask = self._keys, self._slots, self._mask
        i = task_id & mask
        while keys[i] != task_id:
            if keys[i] == _EMPTY:
                raise KeyError(f"task {task_id} is not in the pool")
            i = (i + 1) & mask
        j = i
        while True:
            j = (j + 1) & mask
            key = keys[j]
            if key == _EMPTY:
                break
            home = key & mask
            movable = (home <= i or home > j) if j > i else (home <= i and home > j)
            if movable:
                keys[i] = key
                slots[i] = slots[j]
                i = j
        keys[i] = _EMPTY

    # -- lifecycle ------------------------------------------------------------------------

    def add_many(self, task_ids: Iterable[int], created_at: int) -> npt.NDArray[np.intp]:
        """Put new tasks into free slots (zeroing their state); returns the slots used."""
        ids = [int(t) for t in task_ids]
        free_count = self.counter("num_free")
        if len(ids) > free_count:
            raise ValueError(f"cannot add {len(ids)} tasks: only {free_count} free slots")
        if any(task_id < 0 for task_id in ids):
            raise ValueError(f"task ids must be non-negative, got {min(ids)}")
        taken = []
        for task_id in ids:
            free_count -= 1
            slot = int(self._free[free_count])
            self._table_insert(task_id, slot)
            self.ids[slot] = task_id
            taken.append(slot)
        self.header[self._h["num_free"]] = free_count
        slots = np.asarray(taken, dtype=np.intp)
        for name, _, _ in self.fields:
            self.array(name)[slots] = 0
        self.array("created_at")[slots] = created_at
        self.array("label")[slots] = -1
        self.add_to_counter("num_created", len(ids))
        return slots

    def remove_many(self, slots: Iterable[int]) -> list[int]:
        """Free these slots; returns the task ids that were in them."""
        removed = []
        free_count = self.counter("num_free")
        for slot in slots:
            task_id = int(self.ids[slot])
            if task_id == _EMPTY:
                raise ValueError(f"slot {slot} is already free")
            self._table_delete(task_id)
            self.ids[slot] = _EMPTY
            self._free[free_count] = slot
            free_count += 1
            removed.append(task_id)
        self.header[self._h["num_free"]] = free_count
        if removed:
            evicted = self.backend.array("evicted")
            start = self.counter("num_evicted")
            evicted[np.arange(start, start + len(removed)) % len(evicted)] = removed
            self.add_to_counter("num_evicted", len(removed))
        return removed

    def rebuild_table(self) -> None:
        """Rebuild the id -> slot map from ``ids`` (after loading a checkpoint, or a repair)."""
        ids = self.backend.array("ids")
        self.backend.array("table_keys")[:] = _EMPTY
        for slot in np.flatnonzero(ids != _EMPTY).tolist():
            self._table_insert(int(ids[slot]), slot)

    def rebuild_index(self) -> None:
        """Rebuild the id -> slot map and the free stack from ``ids`` alone.

        Repairs a shared pool whose writer died half-way through an eviction: ``ids`` is the
        truth, the map and the stack follow it.
        """
        self.rebuild_table()
        ids = self.backend.array("ids")
        free = np.flatnonzero(ids == _EMPTY)
        self.backend.array("free")[: len(free)] = free[::-1]
        self.header[self._h["num_free"]] = len(free)

    def was_evicted(self, task_id: int) -> bool:
        """Whether ``task_id`` is among the recently evicted ids (O(memory); rare path)."""
        return task_id >= 0 and bool((self.backend.array("evicted") == task_id).any())

    def nbytes(self) -> int:
        return self.backend.nbytes
