"""Learning-progress scorers: turn tracked outcomes into a per-task LP score.

Both scorers update their per-task state in O(1) per episode (:meth:`update`) and compute
LP for many tasks at once with numpy (:meth:`scores`) at distribution refreshes.
"""

from __future__ import annotations

import itertools
import math
from abc import ABC, abstractmethod
from typing import Literal, Protocol

import numpy as np
import numpy.typing as npt

from agora.pool import SlotField, TaskPool

__all__ = ["BasicLPScorer", "BidirectionalLPScorer", "LPScorer", "LPSettings", "ema_difference_noise"]


class LPSettings(Protocol):
    """The config fields the scorers read; ``LearningProgressConfig`` provides them.

    A protocol rather than an import, so that this module stays below ``learning_progress``
    (which builds the scorers) instead of forming an import cycle with it.
    """

    lp_timescales: int
    ema_timescale: float
    slow_timescale_factor: float
    slow_ema: Literal["of_rate", "of_fast"]
    ema_start: Literal["running_mean", "window"]
    use_baseline_normalization: bool
    baseline_value: float | None
    memory: int
    sample_threshold: int
    noise_discount: float
    progress_smoothing: float
    performance_bonus_weight: float
    basic_exploration_samples: int
    exploration_bonus: float


BASELINE_CAP = 0.75
"""Cap on a measured baseline rate, as in the paper's implementations: keeps 1 - b >= 0.25."""


def ema_difference_noise(fast_rate: float, slow_rate: float, memory: int, slow_of_fast: bool) -> float:
    """K such that ``K * sqrt(p (1 - p))`` is the standard deviation of ``p_fast - p_slow`` on a
    task whose outcomes are independent with success probability p (no progress at all).

    Both EMAs are linear filters of the outcomes (through the window mean of ``memory``
    outcomes), so the variance of their difference is the outcome variance times the sum of
    squares of the difference's impulse response. Exact for Bernoulli outcomes; an upper bound
    for scores in [0, 1] with the same mean.
    """
    if slow_of_fast:
        return _series_noise(fast_rate, memory)
    # Two EMAs of the window mean: each response is a sum of geometric sequences (q = 1 - rate),
    # so the sum of squares is closed-form (O(1) even for the slowest rungs of a ladder).
    m = memory
    q, r = 1.0 - fast_rate, 1.0 - slow_rate

    def head(x: float) -> float:  # sum of x^j, j = 1 .. m
        return x * (1.0 - x**m) / (1.0 - x) if x != 1.0 else float(m)

    def tail(x: float, y: float) -> float:  # sum over j > m of (x^(j-m) - x^j)(y^(j-m) - y^j)
        return (x - x ** (m + 1)) * (y - y ** (m + 1)) / (1.0 - x * y)

    total = head(r * r) + head(q * q) - 2.0 * head(q * r)  # the window filling up
    total += tail(q, q) + tail(r, r) - 2.0 * tail(q, r)  # then sliding
    return math.sqrt(max(total, 0.0)) / m


def _series_noise(rate: float, memory: int) -> float:
    """:func:`ema_difference_noise` for a slow EMA that is an EMA (at ``rate``) of the fast one."""
    horizon = math.ceil(30.0 / rate) + memory  # e^-30: the tail is negligible
    window = np.zeros(horizon)
    window[:memory] = 1.0 / memory  # the windowed rate's response to one outcome
    fast = slow = total = 0.0
    for x in window.tolist():
        fast = rate * x + (1.0 - rate) * fast
        slow = rate * fast + (1.0 - rate) * slow
        total += (fast - slow) ** 2
    return math.sqrt(total)


class LPScorer(ABC):
    """Computes learning progress from pool columns."""

    @staticmethod
    def columns(levels: int) -> tuple[SlotField, ...]:
        """Pool columns the scorer needs (``levels``: the config's ``lp_timescales``)."""
        return ()

    def __init__(self, config: LPSettings, pool: TaskPool) -> None:
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
    """LP from a ladder of EMAs of the success rate: |r(p_fast) - r(p_slow)| for two of them
    (the paper), the largest noise-discounted difference of neighbouring EMAs for more.

    The absolute value makes it bidirectional: a task being forgotten (fast below slow)
    attracts samples just like one being learned. EMA ``i`` runs at rate
    ``ema_timescale * slow_timescale_factor ** i``; its values live in row ``i`` of the pool
    column ``p_ema`` (0 is the fastest).
    """

    @staticmethod
    def columns(levels: int) -> tuple[SlotField, ...]:
        return (("p_ema", "f", levels), ("baseline", "f", 1))

    def __init__(self, config: LPSettings, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self._completions = pool.view("completions")
        self._ema = pool.view("p_ema")
        self._baseline = pool.view("baseline")
        self._levels = levels = config.lp_timescales
        self._slow_of_fast = config.slow_ema == "of_fast"
        self._running_start = config.ema_start == "running_mean" and not self._slow_of_fast
        # of_fast: p_slow is an EMA of p_fast at the fast rate (two levels only)
        factor = 1.0 if self._slow_of_fast else config.slow_timescale_factor
        self._rates = [config.ema_timescale * factor**i for i in range(levels)]
        self._normalize = config.use_baseline_normalization
        self._fixed_baseline = config.baseline_value
        measuring_baseline = self._normalize and self._fixed_baseline is None
        self._warmup = config.memory if measuring_baseline else config.sample_threshold
        # Per neighbouring pair: noise_discount standard deviations of the difference that outcome
        # noise alone gives (per sqrt(p(1-p))), and a weight that puts every pair on the fastest
        # pair's scale. On a steady trend two EMAs differ by slope * (1/slow rate - 1/fast rate), so
        # scaled this way every pair measures the same slope, and slower pairs, which see slower
        # trends, do not outweigh the fast pair on a task whose progress has just ended.
        spans = [1.0 / slow - 1.0 / fast for fast, slow in itertools.pairwise(self._rates)]
        self._pairs = [
            (
                config.noise_discount * ema_difference_noise(fast, slow, config.memory, self._slow_of_fast),
                spans[0] / span if i else 1.0,
            )
            for i, ((fast, slow), span) in enumerate(zip(itertools.pairwise(self._rates), spans, strict=True))
        ]

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
        ema, row = self._ema, slot * self._levels
        if n <= self._warmup:
            # Start the EMAs from the windowed rate, not from one noisy outcome: starting
            # at a single 0 or 1 makes a stationary task look like it is improving.
            for i in range(row, row + self._levels):
                ema[i] = rate
            return
        if self._slow_of_fast:  # two levels: p_slow follows p_fast at the same rate
            a = self._rates[0]
            fast = ema[row] = a * rate + (1.0 - a) * ema[row]
            ema[row + 1] = a * fast + (1.0 - a) * ema[row + 1]
            return
        # running_mean start: EMA i averages all outcomes since its start until 1/count falls
        # below its rate, so the start's error does not linger in the slow EMAs (a fresh coin
        # flip started at a lucky 0.7 looked like hundreds of outcomes of progress).
        start = 1.0 / (n - self._warmup + 1) if self._running_start else 0.0
        for i, a in enumerate(self._rates, row):
            if start > a:
                a = start
            ema[i] = a * rate + (1.0 - a) * ema[i]

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
        column = pool.array("p_ema")
        # Same operations as update(), with few numpy calls (see TaskTracker.update_many).
        rates = np.array(self._rates)
        ema = np.multiply(column[slots], 1.0 - rates, dtype=np.float64)
        if self._slow_of_fast:
            a = rates[0]
            ema[:, 0] += a * rate
            ema[:, 1] += a * ema[:, 0]
        elif self._running_start:
            weights = np.maximum(rates, 1.0 / np.maximum(n - self._warmup + 1, 1)[:, None])
            ema = np.multiply(column[slots], 1.0 - weights, dtype=np.float64)
            ema += weights * rate[:, None]
        else:
            ema += rates * rate[:, None]
        warm = n <= self._warmup
        if warm.any():
            ema[warm] = rate[warm, None]
        column[slots] = ema

    def scores(self, slots: npt.NDArray[np.intp], rate: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        theta = self.config.progress_smoothing
        ema = self.pool.gather("p_ema", slots).astype(np.float64)
        lp = np.zeros(len(slots))
        cap = None
        for level, (noise, weight) in enumerate(self._pairs):
            fast, slow = ema[:, level], ema[:, level + 1]
            pair = np.abs(reweight(fast, theta) - reweight(slow, theta))
            if noise:
                beyond, bound = self._beyond_noise(slots, fast, slow, noise)
                pair *= beyond
            if weight != 1.0:
                pair *= weight
            if cap is not None:
                np.minimum(pair, cap, out=pair)
            np.maximum(lp, pair, out=lp)
            if noise and level + 1 < len(self._pairs):
                # A slower pair cannot claim more progress than the faster pairs allow: their
                # difference plus the noise margin bounds the recent slope. Without this a task
                # whose progress just ended keeps the slow pairs' LP for hundreds of outcomes.
                bound += np.abs(fast - slow)
                bound *= weight
                cap = bound if cap is None else np.minimum(cap, bound, out=cap)
        if self.config.performance_bonus_weight:
            lp += self.config.performance_bonus_weight * np.maximum(rate, 0.0)
        return lp

    def _beyond_noise(
        self,
        slots: npt.NDArray[np.intp],
        fast: npt.NDArray[np.float64],
        slow: npt.NDArray[np.float64],
        noise_scale: float,
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """The share of each task's |fast - slow| beyond ``noise_scale * sqrt(p (1 - p))``, the
        noise a task without progress gives at its rate p, (1 - noise / change)+; and that noise.

        A coin-flip task's EMAs differ by about K * 0.5 at all times; discounting that noise
        leaves it an LP near 0, where the raw difference would rank it with real progress.
        """
        change = np.abs(fast - slow)
        p = fast + slow
        p *= 0.5
        scale: float | npt.NDArray[np.float64] = 1.0
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
        return share, noise


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
