"""Learning-progress scorers: turn tracked outcomes into a per-task LP score.

Both scorers update their per-task state in O(1) per episode (:meth:`update`) and compute
LP for many tasks at once with numpy (:meth:`scores`) at distribution refreshes.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agora.pool import SlotField, TaskPool

if TYPE_CHECKING:
    from agora.algorithms.learning_progress import LearningProgressConfig

__all__ = ["BasicLPScorer", "BidirectionalLPScorer", "LPScorer"]

BASELINE_CAP = 0.75
"""Cap on a measured baseline rate, as in the paper's implementations: keeps 1 - b >= 0.25."""


class LPScorer(ABC):
    """Computes learning progress from pool columns."""

    fields: tuple[SlotField, ...] = ()

    def __init__(self, config: LearningProgressConfig, pool: TaskPool) -> None:
        self.config = config
        self.pool = pool

    def update(self, slot: int, score: float, rate: float) -> None:  # noqa: B027 - optional hook
        """One new outcome: ``rate`` is the task's recent success rate including it."""

    def update_many(  # noqa: B027 - optional hook
        self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64], rate: npt.NDArray[np.float64]
    ) -> None:
        """Vectorised :meth:`update` for distinct slots (must give identical results)."""

    @abstractmethod
    def scores(self, slots: npt.NDArray[np.intp], rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """LP of each slot (``rate``: recent success rates of the same slots)."""


def reweight(p: npt.NDArray[np.float64], theta: float) -> npt.NDArray[np.float64]:
    """r(p) = p(1-θ) / (p + θ(1-2p)): stretches differences near 0 and 1 (Kanitscheider et al.)."""
    # For p in [0, 1] the denominator p(1-2θ) + θ is positive unless θ = 0 and p = 0.
    denominator = p * (1.0 - 2.0 * theta) + theta
    if theta > 0:
        return p * (1.0 - theta) / denominator
    return np.divide(p, denominator, out=np.zeros_like(p), where=denominator > 0)


class BidirectionalLPScorer(LPScorer):
    """LP = |r(p_fast) - r(p_slow)| (+ performance bonus) from two EMAs of the success rate.

    The absolute value makes it bidirectional: a task being forgotten (fast below slow)
    attracts samples just like one being learned.
    """

    fields = (("p_fast", "f", 1), ("p_slow", "f", 1), ("baseline", "f", 1))

    def __init__(self, config: LearningProgressConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self._completions = pool.view("completions")
        self._fast = pool.view("p_fast")
        self._slow = pool.view("p_slow")
        self._baseline = pool.view("baseline")
        self._a = config.ema_timescale
        self._a_slow = config.ema_timescale * config.slow_timescale_factor
        self._slow_of_fast = config.slow_ema == "of_fast"
        self._normalize = config.use_baseline_normalization
        self._fixed_baseline = config.baseline_value
        measuring_baseline = self._normalize and self._fixed_baseline is None
        self._warmup = config.memory if measuring_baseline else config.sample_threshold

    def update(self, slot: int, score: float, rate: float) -> None:
        n = self._completions[slot]
        if self._normalize:
            if self._fixed_baseline is not None:
                b = self._fixed_baseline
            elif n <= self.config.memory:  # baseline = rate once the outcome window first fills
                b = self._baseline[slot] = min(rate, BASELINE_CAP)
            else:
                b = self._baseline[slot]
            rate = max(rate - b, 0.0) / (1.0 - b)
        if n <= self._warmup:
            # Start both EMAs from the windowed rate, not from one noisy outcome: starting
            # at a single 0 or 1 makes a stationary task look like it is improving.
            self._fast[slot] = rate
            self._slow[slot] = rate
            return
        a = self._a
        fast = a * rate + (1.0 - a) * self._fast[slot]
        self._fast[slot] = fast
        if self._slow_of_fast:
            self._slow[slot] = a * fast + (1.0 - a) * self._slow[slot]
        else:
            self._slow[slot] = self._a_slow * rate + (1.0 - self._a_slow) * self._slow[slot]

    def update_many(
        self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64], rate: npt.NDArray[np.float64]
    ) -> None:
        pool = self.pool
        n = pool.array("completions")[slots]
        if self._normalize:
            if self._fixed_baseline is not None:
                b = np.full(len(slots), self._fixed_baseline)
            else:
                stored = pool.array("baseline")
                measuring = n <= self.config.memory
                measured = np.minimum(rate, BASELINE_CAP)
                stored[slots[measuring]] = measured[measuring]
                b = np.where(measuring, measured, stored[slots].astype(np.float64))
            rate = np.maximum(rate - b, 0.0) / (1.0 - b)
        fast_column, slow_column = pool.array("p_fast"), pool.array("p_slow")
        a = self._a
        # Same operations as update(), with few numpy calls (see TaskTracker.update_many).
        fast = np.multiply(fast_column[slots], 1.0 - a, dtype=np.float64)
        fast += a * rate
        if self._slow_of_fast:
            slow = np.multiply(slow_column[slots], 1.0 - a, dtype=np.float64)
            slow += a * fast
        else:
            slow = np.multiply(slow_column[slots], 1.0 - self._a_slow, dtype=np.float64)
            slow += self._a_slow * rate
        warm = n <= self._warmup
        if warm.any():
            np.copyto(fast, rate, where=warm)
            np.copyto(slow, rate, where=warm)
        fast_column[slots] = fast
        slow_column[slots] = slow

    def scores(self, slots: npt.NDArray[np.intp], rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        theta = self.config.progress_smoothing
        fast = self.pool.gather("p_fast", slots).astype(np.float64)
        slow = self.pool.gather("p_slow", slots).astype(np.float64)
        lp = np.abs(reweight(fast, theta) - reweight(slow, theta))
        if self.config.performance_bonus_weight:
            lp += self.config.performance_bonus_weight * np.maximum(rate, 0.0)
        return lp


class BasicLPScorer(LPScorer):
    """LP = standard deviation of the score (from EMAs of score and score²), plus a bonus
    that decays linearly over a task's first ``basic_exploration_samples`` outcomes."""

    def scores(self, slots: npt.NDArray[np.intp], rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        mean = self.pool.gather("reward_ema", slots).astype(np.float64)
        mean_sq = self.pool.gather("reward_sq_ema", slots).astype(np.float64)
        lp = np.sqrt(np.maximum(mean_sq - mean * mean, 0.0))
        horizon = self.config.basic_exploration_samples
        n = self.pool.gather("completions", slots).astype(np.float64)
        return lp + self.config.exploration_bonus * np.maximum(horizon - n, 0.0) / horizon
