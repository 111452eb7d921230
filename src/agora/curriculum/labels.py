"""The label table: task labels as small ints in the pool's ``label`` column, and per-label totals.

A local pool keeps the table in this process. A shared pool's indices must mean the same in
every process: there the table mirrors the session's string table
(:class:`agora.curriculum.coordination.shared.SessionLabels`).

:class:`LabelTotals` keeps, per label, what tasks that left the pool had accumulated (and the
scores that arrived after their task was evicted), so per-label statistics count every
episode. It is a table of the pool's buffer, so a shared pool's processes share it.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from agora.pool import TaskPool
from agora.tracking.memory import ArraySpec
from agora.tracking.shared import MAX_STRINGS

__all__ = ["LABEL_TOTALS", "MAX_LABELS", "LabelTable", "LabelTotals"]

LABEL_TOTALS = ("num_completed", "num_scheduled", "score_sum", "num_evicted")
"""The columns of :class:`LabelTotals`, per label."""

MAX_LABELS = MAX_STRINGS
"""Distinct labels a pool can hold: as many as a shared session's string table, in either mode,
so that a checkpoint loads into both (and the int16 ``label`` column, -1 for none, fits them)."""


class LabelTable:
    """Label <-> index; :attr:`labels` is one list, changed only in place (statistics hold it)."""

    def __init__(self) -> None:
        self.labels: list[str] = []
        self._index: dict[str, int] = {}

    def id_of(self, label: str | None) -> int:
        """The index of ``label`` (added if new), -1 for None."""
        if label is None:
            return -1
        index = self._index.get(label)
        if index is None:
            index = self._add(label)
        return index

    def _add(self, label: str) -> int:
        if len(self.labels) >= MAX_LABELS:
            raise ValueError(f"too many distinct task labels (> {MAX_LABELS}); cannot add {label!r}")
        index = self._index[label] = len(self.labels)
        self.labels.append(label)
        return index

    def _extend(self, labels: Sequence[str]) -> None:
        for label in labels:
            self._index[label] = len(self.labels)
            self.labels.append(label)

    def replace(self, labels: Sequence[str]) -> None:
        """Take ``labels`` as the whole table (a loaded checkpoint's)."""
        self.labels.clear()
        self._index.clear()
        self._extend(labels)


class LabelTotals:
    """Per label: episodes, hand-outs and score sum of the tasks evicted so far (stale scores,
    for tasks already evicted, included), and how many tasks were evicted.

    Rows are the label table's indices. The rows live in the pool's buffer (a table named
    :attr:`NAME`), so every process of a shared pool adds to the same ones, under its lock.
    A checkpoint keeps them by label name (:meth:`by_label`, :meth:`load`), since a shared
    session may number its labels differently.
    """

    NAME = "label_totals"

    @staticmethod
    def tables(labelled: bool) -> tuple[ArraySpec, ...]:
        """The pool tables a curriculum needs: one row per possible label if its generator has
        labels (32 bytes each, 128 KiB in all), none otherwise."""
        return (ArraySpec(LabelTotals.NAME, "d", MAX_LABELS * len(LABEL_TOTALS)),) if labelled else ()

    @classmethod
    def of(cls, pool: TaskPool) -> LabelTotals | None:
        """The totals kept in ``pool``, or None if its layout has no such table."""
        return cls(pool) if cls.NAME in pool.tables else None

    def __init__(self, pool: TaskPool) -> None:
        self._pool = pool
        self.rows: npt.NDArray[np.float64] = pool.backend.array(self.NAME).reshape(-1, len(LABEL_TOTALS))
        """One row per label index, columns :data:`LABEL_TOTALS` (a view of the pool's buffer)."""

    def retire(self, slots: npt.NDArray[np.intp]) -> None:
        """Add the tasks in ``slots``, which are leaving the pool (their columns still hold their
        statistics), to their labels' rows."""
        pool = self._pool
        index = pool.array("label")[slots].astype(np.intp)
        labelled = index >= 0
        if not labelled.any():
            return
        index, slots = index[labelled], slots[labelled]
        columns = (
            pool.array("completions")[slots],
            pool.array("scheduled")[slots],
            pool.array("score_sum")[slots],
            np.ones(len(slots)),
        )
        for column, values in enumerate(columns):
            np.add.at(self.rows[:, column], index, values)

    def add_stale(self, label: int, score: float) -> None:
        """One score for an evicted task of label index ``label``."""
        row = self.rows[label]
        row[0] += 1
        row[2] += score

    def by_label(self, labels: Sequence[str]) -> list[list[float]]:
        """The rows of ``labels`` (the label table, in index order), for a checkpoint."""
        return self.rows[: len(labels)].tolist()  # type: ignore[no-any-return]

    def load(self, rows: npt.NDArray[np.float64], index: Sequence[int]) -> None:
        """Replace every row: ``rows[i]`` goes to label index ``index[i]``."""
        self.rows[:] = 0.0
        if len(index):
            self.rows[np.asarray(index, dtype=np.intp)] = rows
