"""A curriculum's ``stats()``: the engine's pool statistics plus per-label and per-slice ones, cached."""

from __future__ import annotations

from agora.curriculum.engine import PoolEngine
from agora.tracking.stats import CacheCoordinator, LPStatsAggregator

__all__ = ["CurriculumStats"]


class CurriculumStats:
    """Flat ``name -> number`` statistics, recomputed only when the pool's counters changed."""

    def __init__(self, engine: PoolEngine, versions: CacheCoordinator) -> None:
        self._engine = engine
        self._versions = versions
        totals = engine.label_totals
        retired = totals.rows if totals is not None else None
        self._labels = LPStatsAggregator(engine.pool, engine.labels.labels, versions, retired)
        self._version: tuple[int, ...] | None = None
        self._cached: dict[str, float] = {}

    def invalidate(self) -> None:
        """Recompute at the next call (the pool was replaced)."""
        self._version = None

    def collect(self) -> dict[str, float]:
        version = self._versions.version()
        if version != self._version:
            out = self._engine.stats()
            out.update(self._labels.stats("label/"))
            if self._engine.slice_analyzer is not None:
                out.update(self._engine.slice_analyzer.stats("slices/"))
            self._cached, self._version = out, version
        return dict(self._cached)
