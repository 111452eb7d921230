"""Memory backends: where per-task state lives.

All of a pool's state (per-slot columns, the task-id -> slot hash table, the free-slot
stack and a few counters) is laid out in one flat buffer. The local backend puts it in a
``bytearray``; the shared backend in a POSIX shared-memory segment, so every process that
attaches sees the same pool. Each array is exposed twice over the same bytes: as a
``memoryview`` for O(1) scalar access on the hot path (about 2x faster than numpy
scalar indexing) and as a numpy array for vectorised refreshes.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["ArraySpec", "LocalMemoryBackend", "TaskMemoryBackend"]

_ALIGN = 8


@dataclass(frozen=True)
class ArraySpec:
    """One named array of the layout: ``length`` items of struct typecode ``typecode``."""

    name: str
    typecode: (
        str  # struct code: 'q' int64, 'i' int32, 'I' uint32, 'h' int16, 'd' float64, 'f' float32, 'e' float16
    )
    length: int

    @property
    def nbytes(self) -> int:
        return np.dtype(self.typecode).itemsize * self.length


def layout_size(layout: Sequence[ArraySpec]) -> int:
    """Bytes needed for ``layout`` with every array 8-byte aligned."""
    return sum(-(-spec.nbytes // _ALIGN) * _ALIGN for spec in layout)


class TaskMemoryBackend(ABC):
    """Named arrays over one buffer; subclasses decide where the buffer lives and how to lock."""

    def __init__(self, layout: Sequence[ArraySpec], buffer: Any) -> None:
        self.layout = tuple(layout)
        self._buffer = buffer
        self._views: dict[str, memoryview[Any]] = {}
        self._arrays: dict[str, npt.NDArray[Any]] = {}
        raw = memoryview(buffer).cast("B")
        offset = 0
        for spec in self.layout:
            chunk = raw[offset : offset + spec.nbytes]
            self._views[spec.name] = chunk.cast(spec.typecode)  # type: ignore[call-overload]
            self._arrays[spec.name] = np.frombuffer(chunk, dtype=np.dtype(spec.typecode))
            offset += -(-spec.nbytes // _ALIGN) * _ALIGN

    @property
    def nbytes(self) -> int:
        return layout_size(self.layout)

    def view(self, name: str) -> memoryview[Any]:
        """Scalar access: ``view("x")[i]`` reads and writes Python numbers."""
        return self._views[name]

    def array(self, name: str) -> npt.NDArray[Any]:
        """Vectorised access to the same bytes as :meth:`view`."""
        return self._arrays[name]

    @abstractmethod
    def lock(self) -> contextlib.AbstractContextManager[Any]:
        """Mutual exclusion for multi-step changes (a no-op when only one process uses the pool)."""

    def close(self) -> None:
        """Release the views (the buffer itself is freed by its owner)."""
        for view in self._views.values():
            view.release()
        self._views.clear()
        self._arrays.clear()


class LocalMemoryBackend(TaskMemoryBackend):
    """State in this process's memory: the default, and the fastest."""

    def __init__(self, layout: Sequence[ArraySpec]) -> None:
        super().__init__(layout, bytearray(layout_size(layout)))

    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        yield
