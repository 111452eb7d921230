"""Sampling for learnability (SFL; Rutherford et al., NeurIPS 2024, "No Regrets").

A task's learnability is p(1 - p) for its success rate p: highest at p = 0.5, zero for
tasks always failed or always solved. Per episode a task's success rate is updated in O(1)
(the mean of its outcomes until it has ``1 / ema_alpha`` of them, an EMA at rate
``ema_alpha`` from then on, so it follows the learner). At each refresh, in one vectorised pass:

1. Tasks with at least ``min_outcomes`` outcomes are *judged*; the ``top_k`` judged tasks of
   highest learnability (> 0) form the buffer.
2. Weights: ``buffer_ratio`` of the mass on the buffer (evenly, ``sampling="topk"`` as in
   SFL, or in proportion to learnability, ``"proportional"``), the rest evenly over the whole
   pool (SFL's fresh random levels: a random task of the pool). An empty buffer: uniform.
3. Eviction (default): judged tasks outside the buffer with at least
   ``min_presentations_for_eviction`` outcomes, least learnable first (then most played),
   are replaced by fresh tasks, which is how a pool smaller than the task space finds more.

Learnability cannot tell a task being learnt from a stationary coin flip: both have p near
0.5 (the student suite's noisy tasks show it). docs/algorithms.md has the defaults and why.
"""

from __future__ import annotations

from typing import ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from agora.algorithms.base import CurriculumAlgorithm, CurriculumAlgorithmConfig
from agora.pool import SlotField, TaskPool

__all__ = ["LearnabilityAlgorithm", "LearnabilityConfig"]


class LearnabilityConfig(CurriculumAlgorithmConfig):
    """Hyperparameters of sampling for learnability (defaults: SFL's 50/50 mix, Syllabus's top 1,000)."""

    type: Literal["learnability"] = "learnability"

    top_k: int = Field(default=1000, gt=0, description="Size of the buffer of most learnable tasks.")
    buffer_ratio: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="Share of episodes on the buffer; the rest uniform over the pool.",
    )
    sampling: Literal["topk", "proportional"] = Field(
        default="topk", description="Within the buffer: evenly (SFL) or in proportion to p(1 - p)."
    )
    min_outcomes: int = Field(default=5, ge=1, description="Outcomes a task needs before it is judged.")
    ema_alpha: float = Field(
        default=0.05,
        gt=0,
        le=1,
        description="Rate of the success-rate EMA (a plain mean before 1/alpha outcomes).",
    )
    success_threshold: float = Field(default=0.5, description="A score >= this counts as a success.")
    evict: bool = Field(default=True, description="Replace the least learnable judged tasks by fresh ones.")

    def pool_fields(self) -> tuple[SlotField, ...]:
        return (("success_rate", "d", 1),)

    def create(self, pool: TaskPool) -> LearnabilityAlgorithm:
        return LearnabilityAlgorithm(self, pool)


class LearnabilityAlgorithm(CurriculumAlgorithm):
    """Half the episodes on the most learnable tasks, half on random ones (by default)."""

    evicts: ClassVar[bool] = True
    config: LearnabilityConfig

    def __init__(self, config: LearnabilityConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self._rate = pool.view("success_rate")
        self._completions = pool.view("completions")

    def update(self, slot: int, score: float) -> None:
        # The curriculum counted this outcome already: the n-th outcome weighs max(1/n, alpha).
        weight = max(1.0 / self._completions[slot], self.config.ema_alpha)
        success = 1.0 if score >= self.config.success_threshold else 0.0
        self._rate[slot] += weight * (success - self._rate[slot])

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        pool, cfg = self.pool, self.config
        weight = np.maximum(1.0 / pool.array("completions")[slots], cfg.ema_alpha)
        rate = pool.array("success_rate")
        old = rate[slots]
        rate[slots] = old + weight * ((scores >= cfg.success_threshold) - old)

    def learnability(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """p(1 - p) of ``slots``' success rates (0 for tasks not yet judged)."""
        rate = self.pool.gather("success_rate", slots)
        judged = self.pool.gather("completions", slots) >= self.config.min_outcomes
        out: npt.NDArray[np.float64] = np.where(judged, rate * (1.0 - rate), 0.0)
        return out

    def buffer(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
        """The slots of ``slots`` in the buffer, most learnable first (for inspection)."""
        learnability = self.learnability(slots)
        top = self._buffer(learnability)
        chosen: npt.NDArray[np.intp] = slots[top[np.argsort(-learnability[top], kind="stable")]]
        return chosen

    def _buffer(self, learnability: npt.NDArray[np.float64]) -> npt.NDArray[np.intp]:
        """Positions of the buffer: the ``top_k`` highest learnabilities above 0 (ties: lower slot)."""
        positive = np.flatnonzero(learnability > 0)
        k = self.config.top_k
        if len(positive) <= k:
            return positive
        order = np.argsort(-learnability[positive], kind="stable")[:k]
        top: npt.NDArray[np.intp] = positive[order]
        return top

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        cfg = self.config
        learnability = self.learnability(slots)
        buffer = self._buffer(learnability)
        n = len(slots)
        if not len(buffer):
            return np.full(n, 1.0 / n)
        probs = np.full(n, (1.0 - cfg.buffer_ratio) / n)
        if cfg.sampling == "topk":
            probs[buffer] += cfg.buffer_ratio / len(buffer)
        else:
            chosen = learnability[buffer]
            probs[buffer] += chosen * (cfg.buffer_ratio / float(chosen.sum()))
        return probs

    def eviction_candidates(
        self, slots: npt.NDArray[np.intp], min_presentations: int, limit: int
    ) -> npt.NDArray[np.intp]:
        if not self.config.evict:
            return np.empty(0, dtype=np.intp)
        learnability = self.learnability(slots)
        completions = self.pool.gather("completions", slots)
        keep = np.zeros(len(slots), dtype=bool)
        keep[self._buffer(learnability)] = True
        judged = (completions >= max(min_presentations, self.config.min_outcomes)) & ~keep
        positions = np.flatnonzero(judged)
        if not len(positions):
            return np.empty(0, dtype=np.intp)
        # Least learnable first; among equals, the most played (their rate is the surest).
        order = np.lexsort((-completions[positions].astype(np.int64), learnability[positions]))[:limit]
        candidates: npt.NDArray[np.intp] = slots[positions[order]]
        return candidates

    def stats(self) -> dict[str, float]:
        slots = self.pool.active_slots()
        if not len(slots):
            return {}
        learnability = self.learnability(slots)
        buffer = self._buffer(learnability)
        judged = self.pool.gather("completions", slots) >= self.config.min_outcomes
        return {
            "frac_judged": float(judged.mean()),
            "buffer_size": float(len(buffer)),
            "mean_learnability": float(learnability[judged].mean()) if judged.any() else 0.0,
            "buffer_mean_learnability": float(learnability[buffer].mean()) if len(buffer) else 0.0,
        }
