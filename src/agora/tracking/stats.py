"""Statistics: cached, flat ``name -> float`` dictionaries for loggers.

Nothing here runs on the per-episode path: the curriculum only appends ``(task_id,
score)`` to a bounded buffer for :class:`SliceAnalyzer`; everything else is computed from
pool columns when :meth:`StatsLogger.stats` is called, and cached until the pool changes
(detected through its counters by :class:`CacheCoordinator`, which also works when other
processes change a shared pool).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from agora.generators.bucketed import BucketValue, Span
from agora.pool import TaskPool

__all__ = ["CacheCoordinator", "LPStatsAggregator", "SliceAnalyzer", "StatsLogger"]


class CacheCoordinator:
    """Tells stats caches whether the pool changed since they were filled.

    The version is the tuple of the pool's event counters, so it costs nothing on the hot
    path and sees changes made by every process attached to a shared pool.
    """

    def __init__(self, pool: TaskPool) -> None:
        self.pool = pool
        self._extra = 0

    def version(self) -> tuple[int, ...]:
        header = self.pool.header
        return (*(int(header[i]) for i in range(len(header))), self._extra)

    def invalidate(self) -> None:
        """Force every cache to refill (for changes the counters do not show)."""
        self._extra += 1


class StatsLogger(ABC):
    """Base of everything that reports statistics: base stats always, detailed ones on request."""

    def __init__(
        self, coordinator: CacheCoordinator | None = None, enable_detailed_logging: bool = False
    ) -> None:
        self.coordinator = coordinator
        self.enable_detailed_logging = enable_detailed_logging
        self._cache: dict[str, dict[str, float]] = {}
        self._cache_version: tuple[int, ...] | None = None

    @abstractmethod
    def get_base_stats(self) -> dict[str, float]:
        """Cheap statistics, always reported."""

    def get_detailed_stats(self) -> dict[str, float]:
        """Expensive statistics, reported only with ``enable_detailed_logging``."""
        return {}

    def invalidate_cache(self) -> None:
        self._cache.clear()

    def stats(self, prefix: str = "") -> dict[str, float]:
        """All statistics with ``prefix`` prepended, cached until the pool changes."""
        if self.coordinator is not None:
            version = self.coordinator.version()
            if version != self._cache_version:
                self._cache.clear()
                self._cache_version = version
        else:
            self._cache.clear()
        cached = self._cache.get(prefix)
        if cached is None:
            out = self.get_base_stats()
            if self.enable_detailed_logging:
                out.update(self.get_detailed_stats())
            cached = self._cache[prefix] = {f"{prefix}{key}": float(value) for key, value in out.items()}
        return dict(cached)


def _entry_label(entry: BucketValue) -> str:
    return str(entry)


class SliceAnalyzer(StatsLogger):
    """How the curriculum covers each bucket axis, and how the agent scores along it.

    An axis is a bucket path; its bins are the bucket's declared entries (a ``Span``
    is one bin). Base stats per axis: ``coverage`` (share of bins sampled at least once)
    and ``entropy`` (normalised entropy of completions over bins: 1 = even). Detailed
    stats add the completion count and mean score of every bin.
    """

    def __init__(
        self,
        axes: Mapping[str, Sequence[BucketValue]],
        bucket_values_of: Callable[[int], Mapping[str, Any]],
        max_slice_axes: int = 3,
        coordinator: CacheCoordinator | None = None,
        enable_detailed_logging: bool = False,
        buffer_size: int = 65536,
    ) -> None:
        super().__init__(coordinator, enable_detailed_logging)
        self.axes = {path: list(entries) for path, entries in list(axes.items())[:max_slice_axes]}
        self._bucket_values_of = bucket_values_of
        self._pending: deque[tuple[int, float]] = deque(maxlen=buffer_size)
        self.counts = {path: np.zeros(len(entries)) for path, entries in self.axes.items()}
        self.score_sums = {path: np.zeros(len(entries)) for path, entries in self.axes.items()}

    def record(self, task_id: int, score: float) -> None:
        """O(1): remember a completion; bucket values are looked up when stats are read."""
        self._pending.append((task_id, score))

    def _bin(self, path: str, value: Any) -> int | None:
        for index, entry in enumerate(self.axes[path]):
            if isinstance(entry, Span):
                if isinstance(value, int | float) and entry.range_min <= value <= entry.range_max:
                    return index
            elif entry == value:
                return index
        return None

    def _drain(self) -> None:
        while self._pending:
            task_id, score = self._pending.popleft()
            values = self._bucket_values_of(task_id)
            for path in self.axes:
                if path in values and (index := self._bin(path, values[path])) is not None:
                    self.counts[path][index] += 1
                    self.score_sums[path][index] += score

    def get_base_stats(self) -> dict[str, float]:
        self._drain()
        out: dict[str, float] = {}
        for path, counts in self.counts.items():
            total = counts.sum()
            out[f"{path}/coverage"] = float((counts > 0).mean())
            if total > 0 and len(counts) > 1:
                p = counts[counts > 0] / total
                out[f"{path}/entropy"] = float(-(p * np.log(p)).sum() / math.log(len(counts)))
            else:
                out[f"{path}/entropy"] = 0.0
        return out

    def get_detailed_stats(self) -> dict[str, float]:
        self._drain()
        out: dict[str, float] = {}
        for path, entries in self.axes.items():
            for index, entry in enumerate(entries):
                count = self.counts[path][index]
                out[f"{path}/{_entry_label(entry)}/count"] = float(count)
                out[f"{path}/{_entry_label(entry)}/mean_score"] = (
                    float(self.score_sums[path][index] / count) if count else 0.0
                )
        return out

    def get_state(self) -> dict[str, Any]:
        self._drain()
        return {
            "counts": {path: c.tolist() for path, c in self.counts.items()},
            "score_sums": {path: s.tolist() for path, s in self.score_sums.items()},
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        for path in self.axes:
            self.counts[path] = np.asarray(state["counts"][path], dtype=np.float64)
            self.score_sums[path] = np.asarray(state["score_sums"][path], dtype=np.float64)
        self._pending.clear()


class LPStatsAggregator(StatsLogger):
    """Per-label pool composition, sample counts, completions and mean LP, from pool columns."""

    def __init__(
        self, pool: TaskPool, labels: Sequence[str], coordinator: CacheCoordinator | None = None
    ) -> None:
        super().__init__(coordinator)
        self.pool = pool
        self.labels = labels  # the curriculum's label table (grows in place)

    def get_base_stats(self) -> dict[str, float]:
        if not self.labels:
            return {}
        active = self.pool.active_slots()
        index = self.pool.array("label")[active].astype(np.intp) + 1  # 0 = unlabelled
        size = len(self.labels) + 1
        columns = {
            "num_active": np.ones(len(active)),
            "num_scheduled": self.pool.array("scheduled")[active].astype(np.float64),
            "num_completed": self.pool.array("completions")[active].astype(np.float64),
        }
        has_lp = "lp_score" in self.pool._widths
        if has_lp:
            columns["lp_sum"] = self.pool.array("lp_score")[active].astype(np.float64)
        sums = {name: np.bincount(index, weights=values, minlength=size) for name, values in columns.items()}
        out: dict[str, float] = {}
        for i, label in enumerate(self.labels, start=1):
            for name in ("num_active", "num_scheduled", "num_completed"):
                out[f"{label}/{name}"] = float(sums[name][i])
            if has_lp:
                count = sums["num_active"][i]
                out[f"{label}/mean_lp"] = float(sums["lp_sum"][i] / count) if count else 0.0
        return out
