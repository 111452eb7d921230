"""The label table: task labels as small ints in the pool's ``label`` column.

A local pool keeps the table in this process. A shared pool's indices must mean the same in
every process: there the table mirrors the session's string table
(:class:`agora.curriculum.coordination.shared.SessionLabels`).
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["MAX_LABELS", "LabelTable"]

MAX_LABELS = 32767
"""Distinct labels a pool can hold (the ``label`` column is int16, -1 for none)."""


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
