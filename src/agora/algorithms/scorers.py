"""Learning-progress scorers: turn tracked outcomes into a per-task LP score.

Both scorers update their per-task state in O(1) per episode (:meth:`update`) and compute
LP for many tasks at once with numpy (:meth:`scores`) at distribution refreshes.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt

from agora.pool import SlotField, TaskPool

if TYPE_CHECKING:
    from agora.algorithms.learning_progress import LearningProgressConfig

__all__ = ["BasicLPScorer", "BidirectionalLPScorer", "LPScorer", "ema_difference_noise"]

BASELINE_CAP = 0.75
"""Cap on a measured baseline rate, as in the paper's implementations: keeps 1 - b >= 0.25."""


def ema_difference_noise(fast_rate: float, slow_rate: float, memory: int, slow_of_fast: bool) -> float:
    """K such that ``K * sqrt(p (1 - p))`` is the standard deviation of ``p_fast - p_slow`` on a
    task whose outcomes are independent with success probability p (no progress at all).

    Both EMAs are linear filters of the outcomes (through the window mean of ``memory``
    outcomes), so the variance of their difference is the outcome variance times the sum of
    squares of the difference's impulse response, computed here once. Exact for Bernoulli
    outcomes; an upper bound for scores in [0, 1] with the same mean.
    """
    horizon = math.ceil(30.0 / min(fast_rate, slow_rate)) + memory  # e^-30: the tail is negligible
    window = np.zeros(horizon)
    window[:memory] = 1.0 / memory  # the windowed rate's response to one outcome
    fast = slow = 0.0
    total = 0.0
    for r in window.tolist():
        fast = fast_rate * r + (1.0 - fast_rate) * fast
        slow = (
            fast_rate * fast + (1.0 - fast_rate) * slow
            if slow_of_fast
            else slow_rate * r + (1.0 - slow_rate) * slow
        )
        total += (fast - slow) ** 2
    return math.sqrt(total)


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

    fields = (("p_fast", "f", 1), ("p_slow", "f", 1), ("p_slower", "f", 1), ("baseline", "f", 1))

    def __init__(self, config: LearningProgressConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self._completions = pool.view("completions")
        self._fast = pool.view("p_fast")
        self._slow = pool.view("p_slow")
        self._slower = pool.view("p_slower")
        self._baseline = pool.view("baseline")
        self._a = config.ema_timescale
        self._a_slow = config.ema_timescale * config.slow_timescale_factor
        # A third EMA, slower again by the same factor (lp_timescales=3): the (slow, slower)
        # pair sees trends too slow to stand out of the (fast, slow) pair's noise.
        self._a_slower = self._a_slow * config.slow_timescale_factor if config.lp_timescales == 3 else 0.0
        self._slow_of_fast = config.slow_ema == "of_fast"
        self._normalize = config.use_baseline_normalization
        self._fixed_baseline = config.baseline_value
        measuring_baseline = self._normalize and self._fixed_baseline is None
        self._warmup = config.memory if measuring_baseline else config.sample_threshold
        # Standard deviations of sampling noise discounted from |p_fast - p_slow|, per sqrt(p(1-p)).
        self._noise = config.noise_discount * ema_difference_noise(
            self._a, self._a_slow, config.memory, self._slow_of_fast
        )
        # On a steady trend a pair of EMAs differs by slope * (1/slow rate - 1/fast rate): the
        # slower pair is scaled to the faster pair's span, so both measure the same slope.
        self._long_weight = (
            (1.0 / self._a_slow - 1.0 / self._a) / (1.0 / self._a_slower - 1.0 / self._a_slow)
            if self._a_slower
            else 0.0
        )
        self._noise_slower = (
            config.noise_discount * ema_difference_noise(self._a_slow, self._a_slower, config.memory, False)
            if self._a_slower
            else 0.0
        )

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
            self._slower[slot] = rate
            return
        a = self._a
        fast = a * rate + (1.0 - a) * self._fast[slot]
        self._fast[slot] = fast
        if self._slow_of_fast:
            self._slow[slot] = a * fast + (1.0 - a) * self._slow[slot]
        else:
            self._slow[slot] = self._a_slow * rate + (1.0 - self._a_slow) * self._slow[slot]
        if self._a_slower:
            self._slower[slot] = self._a_slower * rate + (1.0 - self._a_slower) * self._slower[slot]

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
        if self._a_slower:
            slower_column = pool.array("p_slower")
            slower = np.multiply(slower_column[slots], 1.0 - self._a_slower, dtype=np.float64)
            slower += self._a_slower * rate
            if warm.any():
                np.copyto(slower, rate, where=warm)
            slower_column[slots] = slower

    def scores(self, slots: npt.NDArray[np.intp], rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        theta = self.config.progress_smoothing
        fast = self.pool.gather("p_fast", slots).astype(np.float64)
        slow = self.pool.gather("p_slow", slots).astype(np.float64)
        lp = np.abs(reweight(fast, theta) - reweight(slow, theta))
        if self._noise:
            lp *= self._beyond_noise(slots, fast, slow, self._noise)
        if self._a_slower:
            slower = self.pool.gather("p_slower", slots).astype(np.float64)
            long_term = np.abs(reweight(slow, theta) - reweight(slower, theta))
            if self._noise_slower:
                long_term *= self._beyond_noise(slots, slow, slower, self._noise_slower)
            long_term *= self._long_weight
            np.maximum(lp, long_term, out=lp)
        if self.config.performance_bonus_weight:
            lp += self.config.performance_bonus_weight * np.maximum(rate, 0.0)
        return lp

    def _beyond_noise(
        self,
        slots: npt.NDArray[np.intp],
        fast: npt.NDArray[np.float64],
        slow: npt.NDArray[np.float64],
        noise_scale: float,
    ) -> npt.NDArray[np.float64]:
        """The share of each task's |p_fast - p_slow| beyond ``noise_discount`` standard
        deviations of what a task without progress gives at its rate: (1 - noise / change)+.

        A coin-flip task's EMAs differ by about K * 0.5 at all times; discounting that noise
        leaves it an LP near 0, where the raw difference would rank it with real progress.
        """
        change = np.abs(fast - slow)
        p = fast + slow
        p *= 0.5
        scale = 1.0
        if self._normalize:  # the EMAs hold (p - b) / (1 - b): map back to the outcome scale
            b = self._fixed_baseline
            baseline = np.full(len(slots), b) if b is not None else self.pool.gather("baseline", slots)
            p = baseline + p * (1.0 - baseline)
            scale = 1.0 / (1.0 - baseline)
        # A window of m outcomes cannot tell p apart from 1/(2m): keeps the noise of tasks
        # at 0 or 1 above zero, so one success on an unsolved task is not significant.
        floor = 0.5 / self.config.memory
        np.clip(p, floor, 1.0 - floor, out=p)
        noise = np.sqrt(p * (1.0 - p))
        noise *= noise_scale * scale
        share = np.divide(noise, change, out=np.ones_like(change), where=change > 0)
        np.subtract(1.0, share, out=share)
        np.maximum(share, 0.0, out=share)
        return share


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
