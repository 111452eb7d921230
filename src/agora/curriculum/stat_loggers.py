"""Statistics: cached, flat ``name -> float`` dictionaries for loggers.

Nothing here runs on the per-episode path: everything is computed from pool columns when
:meth:`StatsLogger.stats` is called, and cached until the pool changes (detected through
its counters by :class:`CacheCoordinator`, which also sees changes other processes make
to a shared pool).
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

from agora.generators.values import BucketValue, Span
from agora.pool import TaskPool

__all__ = ["CacheCoordinator", "LPStatsAggregator", "SliceAnalyzer", "StatsLogger", "entry_from_state"]


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


class SliceAnalyzer(StatsLogger):
    """How the curriculum covers each bucket axis, and how the agent scores along it.

    An axis is a bucket path; its bins are the bucket's declared entries (a ``Span`` is
    one bin). Each task's bin on each axis is computed once, when the task is created, and
    kept in a pool column (``slice_<i>``), so the per-episode path does no work at all:
    statistics are sums of the pool's completion and score columns per bin, plus what
    evicted tasks had accumulated. Base stats per axis: ``coverage`` (share of bins with at
    least one completion) and ``entropy`` (normalised entropy of completions over bins:
    1 = even). Detailed stats add every bin's completion count and mean score.
    """

    def __init__(
        self,
        pool: TaskPool,
        axes: Mapping[str, Sequence[BucketValue]],
        coordinator: CacheCoordinator | None = None,
        enable_detailed_logging: bool = False,
    ) -> None:
        super().__init__(coordinator, enable_detailed_logging)
        self.pool = pool
        self.axes = {path: list(entries) for path, entries in axes.items()}
        size = {path: len(entries) + 1 for path, entries in self.axes.items()}  # bin 0 = not bucketed
        self._retired_counts = {path: np.zeros(size[path]) for path in self.axes}
        self._retired_scores = {path: np.zeros(size[path]) for path in self.axes}

    @staticmethod
    def fields(num_axes: int) -> tuple[tuple[str, str, int], ...]:
        return tuple((f"slice_{i}", "h", 1) for i in range(num_axes))

    def bins(self, bucket_values: Mapping[str, Any]) -> list[int]:
        """Bin of a task on every axis (0 when the task has no value on that axis)."""
        out = []
        for path, entries in self.axes.items():
            value, found = bucket_values.get(path), 0
            for index, entry in enumerate(entries, start=1):
                if isinstance(entry, Span):
                    if isinstance(value, int | float) and entry.range_min <= value <= entry.range_max:
                        found = index
                        break
                elif entry == value:
                    found = index
                    break
            out.append(found)
        return out

    def _sums(
        self, slots: npt.NDArray[np.intp]
    ) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        # Full-pool gathers are the columns themselves; bincount converts the weights itself.
        completions = self.pool.gather("completions", slots)
        scores = self.pool.gather("score_sum", slots)
        out = {}
        for i, path in enumerate(self.axes):
            index = self.pool.gather(f"slice_{i}", slots)
            size = len(self.axes[path]) + 1
            out[path] = (  # float64 already (weighted): astype only tells the type checker
                np.bincount(index, weights=completions, minlength=size).astype(np.float64, copy=False),
                np.bincount(index, weights=scores, minlength=size).astype(np.float64, copy=False),
            )
        return out

    def on_tasks_evicted(self, slots: npt.NDArray[np.intp]) -> None:
        """Keep what evicted tasks contributed before their slots are reused."""
        for path, (counts, scores) in self._sums(slots).items():
            self._retired_counts[path] += counts
            self._retired_scores[path] += scores

    def _totals(self) -> dict[str, tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]]:
        live = self._sums(self.pool.active_slots())
        return {
            path: ((counts + self._retired_counts[path])[1:], (scores + self._retired_scores[path])[1:])
            for path, (counts, scores) in live.items()
        }

    def get_base_stats(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for path, (counts, _) in self._totals().items():
            total = counts.sum()
            out[f"{path}/coverage"] = float((counts > 0).mean())
            if total > 0 and len(counts) > 1:
                p = counts[counts > 0] / total
                out[f"{path}/entropy"] = float(-(p * np.log(p)).sum() / math.log(len(counts)))
            else:
                out[f"{path}/entropy"] = 0.0
        return out

    def get_underexplored_regions(self, slice_name: str) -> list[int]:
        """Indices into the bucket ``slice_name``'s entries played less than 30% as often as the
        mean entry (never-played entries included; none before anything was played)."""
        totals = self._totals()
        if slice_name not in totals:
            raise KeyError(f"{slice_name!r} is not an analysed bucket axis; the axes are {list(self.axes)}")
        counts = totals[slice_name][0]
        return np.flatnonzero(counts < 0.3 * counts.mean()).tolist()

    def get_detailed_stats(self) -> dict[str, float]:
        out: dict[str, float] = {}
        for path, (counts, scores) in self._totals().items():
            for entry, count, score in zip(self.axes[path], counts, scores, strict=True):
                out[f"{path}/{entry}/count"] = float(count)
                out[f"{path}/{entry}/mean_score"] = float(score / count) if count else 0.0
        return out

    def get_state(self) -> dict[str, Any]:
        """Retired counts and scores per axis, and the axes themselves (each task's bin indexes its
        axis' entries), which lets a checkpoint name bucket values without the generator."""
        return {
            "axes": {path: [_entry_state(e) for e in entries] for path, entries in self.axes.items()},
            "retired_counts": {path: c.tolist() for path, c in self._retired_counts.items()},
            "retired_scores": {path: s.tolist() for path, s in self._retired_scores.items()},
        }

    def load_state(self, state: Mapping[str, Any]) -> None:
        counts = {p: np.asarray(state["retired_counts"][p], dtype=np.float64) for p in self.axes}
        scores = {p: np.asarray(state["retired_scores"][p], dtype=np.float64) for p in self.axes}
        if any(counts[p].shape != self._retired_counts[p].shape for p in self.axes):
            raise ValueError("slice statistics in the state do not match this curriculum's bucket axes")
        self._retired_counts, self._retired_scores = counts, scores
        self.invalidate_cache()


def _entry_state(entry: BucketValue) -> Any:
    """A bucket entry as JSON: a :class:`Span` as its fields (``{"range_min", "range_max"}``)."""
    return entry.model_dump() if isinstance(entry, Span) else entry


def entry_from_state(data: Any) -> BucketValue:
    """A bucket entry saved by :meth:`SliceAnalyzer.get_state`."""
    return Span.model_validate(data) if isinstance(data, dict) else data


class LPStatsAggregator(StatsLogger):
    """Per-label pool composition, episodes, hand-outs, mean score and mean LP, from pool columns.

    ``retired``: per-label rows of what evicted tasks left behind (an
    ``agora.curriculum.labels.LabelTotals``' rows, columns in ``LABEL_TOTALS`` order: episodes,
    hand-outs, score sum, evictions),
    added to the live tasks' so that episode counts and mean scores cover every episode.
    """

    def __init__(
        self,
        pool: TaskPool,
        labels: Sequence[str],
        coordinator: CacheCoordinator | None = None,
        retired: npt.NDArray[np.float64] | None = None,
    ) -> None:
        super().__init__(coordinator)
        self.pool = pool
        self.labels = labels  # the curriculum's label table (grows in place)
        self.retired = retired

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
            "score_sum": self.pool.array("score_sum")[active],
        }
        has_lp = self.pool.has_field("lp_score")
        if has_lp:
            columns["lp_sum"] = self.pool.array("lp_score")[active].astype(np.float64)
        sums: dict[str, npt.NDArray[np.float64]] = {
            name: np.bincount(index, weights=values, minlength=size).astype(np.float64, copy=False)
            for name, values in columns.items()
        }
        evicted = np.zeros(size)
        if self.retired is not None:
            rows = self.retired[: size - 1]
            for column, name in enumerate(("num_completed", "num_scheduled", "score_sum")):
                sums[name][1:] += rows[:, column]
            evicted[1:] = rows[:, 3]
        out: dict[str, float] = {}
        for i, label in enumerate(self.labels, start=1):
            for name in ("num_active", "num_scheduled", "num_completed"):
                out[f"{label}/{name}"] = float(sums[name][i])
            out[f"{label}/num_evicted"] = float(evicted[i])
            completed = sums["num_completed"][i]
            out[f"{label}/mean_score"] = float(sums["score_sum"][i] / completed) if completed else 0.0
            if has_lp:
                count = sums["num_active"][i]
                out[f"{label}/mean_lp"] = float(sums["lp_sum"][i] / count) if count else 0.0
        return out
