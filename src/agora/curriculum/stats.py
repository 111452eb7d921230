"""A curriculum's ``stats()``: pool statistics, Gini coefficients, per-label and per-slice ones, cached."""

from __future__ import annotations

from agora.curriculum.engine import PoolEngine
from agora.curriculum.gini import pool_gini
from agora.curriculum.stat_loggers import CacheCoordinator, LPStatsAggregator
from agora.generators.base import MUTATED_ID_BASE

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
            engine = self._engine
            out = engine.stats()
            pool, active = engine.pool, engine.pool.active_slots()
            if len(active):
                lp = pool.gather("lp_score", active) if pool.has_field("lp_score") else None
                out.update(pool_gini(pool, active, engine.checked_weights(active), lp))
            if engine.mutation is not None:
                out["frac_tasks_mutated"] = self._mutated_share()
            out.update(self._labels.stats("label/"))
            if engine.slice_analyzer is not None:
                out.update(engine.slice_analyzer.stats("slices/"))
            self._cached, self._version = out, version
        return dict(self._cached)

    def _mutated_share(self) -> float:
        """Share of the active tasks that are edits of other tasks (mutated ids)."""
        pool = self._engine.pool
        ids = pool.gather("ids", pool.active_slots())
        return float((ids >= MUTATED_ID_BASE).mean()) if len(ids) else 0.0
