"""Learning-progress curriculum (Kanitscheider et al. 2021, arXiv 2106.14876), made robust to noise.

Tasks on which the agent's success rate is changing, up or down, are sampled more. Per
episode the tracker and scorer update a handful of pool columns in O(1); every
``refresh_interval`` episodes the curriculum asks :meth:`LearningProgressAlgorithm.weights`
for the whole distribution, computed in one vectorised pass:

1. LP per task from the scorer (``scorers.py``): the largest difference of neighbouring
   EMAs in a ladder of timescales, less what outcome noise alone gives at the task's rate;
   0 for a settled task (``settled_after`` outcomes or more, the last ``memory`` all equal).
2. Tasks with fewer than ``sample_threshold`` outcomes get weight ``exploration_bonus``.
3. Among the others, those with LP > 0 or a positive success rate get a sigmoid of their
   amplified LP z-score (``lp_transform="zscore_sigmoid"``) or weights in proportion to LP
   (``"proportional"``); the rest get 0 (if none has progress, all of them are used).
4. p = (1 - rand_task_rate - staleness_rate) * w / sum(w) + rand_task_rate / N
   + staleness_rate * retries, where retries favour tasks not played for long that always
   failed: nothing else would ever bring back a task with 0 successes that became learnable.

Eviction candidates are tasks with at least ``min_presentations_for_eviction`` outcomes and
at least ``sample_threshold + ceil(1 / (ema_timescale * slow_timescale_factor))`` (time for
the first pair of EMAs to diverge; ``settled_after`` for a task whose recent outcomes are all
equal), whose LP is in the bottom ``eviction_threshold_percentile`` of those tasks' LP,
lowest LP first; the curriculum replaces at most one task per
``min_presentations_for_eviction`` episodes. ``LearningProgressConfig.paper()`` is the
paper's algorithm with agora's earlier defaults. docs/algorithms.md has the formulas and the
evidence for the defaults.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, ClassVar, Literal, overload

import numpy as np
import numpy.typing as npt
from pydantic import Field, model_validator

from agora.algorithms.base import CurriculumAlgorithm, CurriculumAlgorithmConfig
from agora.algorithms.scorers import BasicLPScorer, BidirectionalLPScorer, LPScorer
from agora.algorithms.seed_fields import SeedLearningProgressFields
from agora.pool import SlotField, TaskPool
from agora.tracking.tracker import TaskTracker

if TYPE_CHECKING:
    from agora.algorithms.standalone import StandaloneAlgorithm

__all__ = ["LearningProgressAlgorithm", "LearningProgressConfig"]


class LearningProgressConfig(CurriculumAlgorithmConfig, SeedLearningProgressFields):
    """Hyperparameters of the learning-progress curriculum (seed-system names and defaults).

    The seed system's fields that agora names differently or does not need come from
    :class:`~agora.algorithms.seed_fields.SeedLearningProgressFields`.
    """

    type: Literal["learning_progress"] = "learning_progress"

    use_bidirectional: bool = Field(
        default=True, description="Bidirectional fast/slow-EMA LP (True) or score-variance LP (False)."
    )
    ema_timescale: float = Field(default=0.15, gt=0, le=1, description="Rate a of the fast EMA.")
    slow_timescale_factor: float = Field(
        default=0.3, gt=0, le=1, description="Slow EMA rate is a * factor (slow_ema='of_rate')."
    )
    slow_ema: Literal["of_rate", "of_fast"] = Field(
        default="of_rate",
        description="'of_rate': p_slow tracks the success rate at rate a*factor (seed system); "
        "'of_fast': p_slow is an EMA of p_fast at rate a (paper implementations).",
    )
    use_baseline_normalization: bool = Field(
        default=False, description="Normalise rates as max(p - b, 0) / (1 - b) before the EMAs."
    )
    baseline_value: float | None = Field(
        default=None, ge=0, lt=1, description="Fixed baseline b; None: the task's rate when its window fills."
    )
    exploration_bonus: float = Field(
        default=0.05, ge=0, description="Weight of tasks with fewer than sample_threshold outcomes."
    )
    progress_smoothing: float = Field(
        default=0.01, ge=0, le=0.5, description="θ (0.5: no reweighting) in r(p) = p(1-θ) / (p + θ(1-2p))."
    )
    performance_bonus_weight: float = Field(
        default=0.0, ge=0, description="Adds w * success rate to LP (favours tasks already solved)."
    )
    num_active_tasks: int | None = Field(
        default=None, gt=0, description="Must equal CurriculumConfig.num_active_tasks if set."
    )
    rand_task_rate: float = Field(default=0.01, ge=0, le=1, description="Probability mass spread uniformly.")
    ema_start: Literal["running_mean", "window"] = Field(
        default="running_mean",
        description="'window': EMAs start at the windowed rate and run at their rates from then on "
        "(the paper); 'running_mean': each EMA averages every outcome since then until 1/count falls "
        "below its rate, so the start's error does not linger in slow EMAs (slow_ema='of_rate' only).",
    )
    lp_timescales: int = Field(
        default=5,
        ge=2,
        le=8,
        description="EMAs of the success rate, at rates a * f**i: LP is the largest noise-discounted "
        "difference of neighbours (slower pairs see slower progress; 2: the paper's fast and slow EMAs).",
    )
    noise_discount: float = Field(
        default=1.25,
        ge=0,
        description="LP keeps only the part of |p_fast - p_slow| beyond this many standard deviations of "
        "what outcome noise alone gives at the task's rate (0: the paper's raw LP).",
    )
    lp_transform: Literal["proportional", "zscore_sigmoid"] = Field(
        default="zscore_sigmoid",
        description="'proportional': sample in proportion to LP; 'zscore_sigmoid': sigmoid of LP's z-score "
        "over tasks (the paper; weight ratios stay within a few x).",
    )
    z_score_amplification: float = Field(
        default=15.0,
        gt=0,
        description="'zscore_sigmoid': z-scores are multiplied by this before the sigmoid (seed system: "
        "10); large values make the weights a soft step, ~1 above the mean LP and ~0 below.",
    )
    lp_score_temperature: float = Field(
        default=0.0,
        ge=0,
        description="'zscore_sigmoid': if > 0, sigmoid(LP / temperature) replaces the z-scores "
        "(seed system).",
    )
    staleness_rate: float = Field(
        default=0.3,
        ge=0,
        le=1,
        description="Probability mass spread in proportion to episodes since a task's last outcome times "
        "(1 - success rate)^staleness_unsolved_power, so that unsolved tasks are retried (one may have "
        "become learnable).",
    )
    staleness_unsolved_power: float = Field(
        default=10.0,
        ge=0,
        description="How strongly retries favour unsolved tasks: (1 - p)^power is the chance that "
        "`power` outcomes at rate p all fail (10: a task at 0.2 gets a tenth of an unsolved task's "
        "retries; 0: by staleness alone).",
    )
    sample_threshold: int = Field(default=5, ge=1, description="Outcomes a task needs before LP counts.")
    settled_after: int | None = Field(
        default=15,
        ge=1,
        description="Outcomes after which a task whose recent outcomes are all equal (all failures or all "
        "successes) is settled: its LP is 0 (nothing is changing now, however its slow EMAs lag) and it may "
        "be judged for eviction before the EMAs' horizon, or a large pool fills with tasks that are never "
        "played enough to be judged (None: neither).",
    )
    memory: int = Field(default=25, ge=1, le=4096, description="Recent outcomes kept per task.")
    eviction_threshold_percentile: float = Field(
        default=0.4, ge=0, le=1, description="Only tasks with LP in this bottom fraction may be evicted."
    )
    basic_exploration_samples: int = Field(
        default=10,
        ge=1,
        description="Basic scorer: the exploration bonus decays to 0 over this many outcomes.",
    )
    task_tracker_ema_alpha: float = Field(
        default=0.02, gt=0, le=1, description="Rate of the tracker's score, score² and success EMAs."
    )
    task_default_success_threshold: float = Field(
        default=0.5, description="A score >= this counts as a success for the success-rate EMA."
    )

    @model_validator(mode="after")
    def _baseline_needs_normalization(self) -> LearningProgressConfig:
        if self.baseline_value is not None and not self.use_baseline_normalization:
            raise ValueError("baseline_value is set but use_baseline_normalization is False")
        if self.lp_timescales != 2 and self.slow_ema == "of_fast":
            raise ValueError(f"slow_ema='of_fast' needs lp_timescales=2, not {self.lp_timescales}")
        if self.rand_task_rate + self.staleness_rate > 1:
            raise ValueError(
                f"rand_task_rate ({self.rand_task_rate}) + staleness_rate ({self.staleness_rate}) exceeds 1"
            )
        return self

    @classmethod
    def paper(cls, **overrides: Any) -> LearningProgressConfig:
        """The algorithm of Kanitscheider et al. with agora's earlier defaults (for comparisons):
        two EMAs (a = 0.03, f = 0.2), raw |p_fast - p_slow|, z-score and sigmoid, no staleness."""
        settings: dict[str, Any] = {
            "ema_timescale": 0.03,
            "slow_timescale_factor": 0.2,
            "lp_timescales": 2,
            "ema_start": "window",
            "noise_discount": 0.0,
            "lp_transform": "zscore_sigmoid",
            "z_score_amplification": 1.0,
            "staleness_rate": 0.0,
            "settled_after": None,
            "sample_threshold": 10,
            "exploration_bonus": 0.1,
        }
        return cls(**{**settings, **overrides})

    def pool_fields(self) -> tuple[SlotField, ...]:
        scorer = BidirectionalLPScorer if self.use_bidirectional else BasicLPScorer
        return (*TaskTracker.fields(self.memory), *scorer.columns(self.lp_timescales), ("last_seen", "q", 1))

    @overload
    def create(self, pool: TaskPool) -> LearningProgressAlgorithm: ...

    @overload
    def create(self, pool: int) -> StandaloneAlgorithm: ...

    def create(self, pool: TaskPool | int) -> LearningProgressAlgorithm | StandaloneAlgorithm:
        """The algorithm over ``pool``; given a number of tasks instead (the seed system's
        ``create(num_tasks)``), a :class:`~agora.algorithms.standalone.StandaloneAlgorithm`."""
        if isinstance(pool, int):
            return self.standalone(pool)
        if self.num_active_tasks is not None and self.num_active_tasks != pool.capacity:
            raise ValueError(
                f"LearningProgressConfig.num_active_tasks ({self.num_active_tasks}) differs from the "
                f"curriculum's num_active_tasks ({pool.capacity}); set one of them"
            )
        return LearningProgressAlgorithm(self, pool)


class LearningProgressAlgorithm(CurriculumAlgorithm):
    """Samples tasks in proportion to (a sigmoid of) their learning progress."""

    evicts: ClassVar[bool] = True
    config: LearningProgressConfig

    def __init__(self, config: LearningProgressConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self.tracker = TaskTracker(
            pool,
            memory=config.memory,
            ema_alpha=config.task_tracker_ema_alpha,
            success_threshold=config.task_default_success_threshold,
        )
        self.scorer: LPScorer = (BidirectionalLPScorer if config.use_bidirectional else BasicLPScorer)(
            config, pool
        )
        # Eviction waits until the first pair of EMAs can differ: with the running-mean start both
        # are the same mean until 1/count falls below the slower one's rate, so a task being
        # learnt has no LP before then (the large-space student's learnable cells were evicted).
        running = (  # the basic scorer has no EMA pairs
            config.use_bidirectional and config.ema_start == "running_mean" and config.slow_ema == "of_rate"
        )
        horizon = config.ema_timescale * (config.slow_timescale_factor if running else 1.0)
        self._judgeable = config.sample_threshold + math.ceil(1.0 / horizon)
        self._tracker_update = self.tracker.update
        self._scorer_update = self.scorer.update
        # LP and recent rate of every slot, computed once per refresh: eviction and the
        # sampling weights both need them. Valid while the pool's counters equal _computed_at:
        # a new score, a task created or a checkpoint loaded (a shared pool's version moves),
        # here or in another process, invalidates it.
        self._lp = np.zeros(pool.capacity)
        self._rate = np.zeros(pool.capacity)
        self._computed_at: tuple[int, int, int] | None = None
        # Staleness clock: the pool's episode count at the last distribution refresh. A task's
        # last_seen is this clock at its latest outcome (refresh granularity keeps update_many
        # equal to repeated update, and the clock is checkpointed with get_state).
        self._last_seen = pool.view("last_seen")
        self._clock = 0

    def update(self, slot: int, score: float) -> None:
        self._scorer_update(slot, score, self._tracker_update(slot, score))
        self._last_seen[slot] = self._clock

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        self.scorer.update_many(slots, scores, self.tracker.update_many(slots, scores))
        self.pool.array("last_seen")[slots] = self._clock

    def on_tasks_created(self, slots: npt.NDArray[np.intp]) -> None:
        completed, created, version = self._counters()
        if self._computed_at == (completed, created - len(slots), version):
            rate = self.tracker.recent_rate(slots)  # new tasks: fresh columns, scored like any other
            self._rate[slots] = rate
            self._lp[slots] = self.scorer.scores(slots, rate)
            self._computed_at = (completed, created, version)

    def _counters(self) -> tuple[int, int, int]:
        pool = self.pool
        return pool.counter("num_completed"), pool.counter("num_created"), pool.counter("version")

    def on_refresh(self) -> None:
        self._clock = self.pool.counter("num_completed")

    def get_state(self) -> dict[str, Any]:
        return {"clock": self._clock}

    def load_state(self, state: dict[str, Any]) -> None:
        self._computed_at = None  # the pool's columns were replaced
        self._clock = int(state.get("clock", 0))

    def _lp_and_rate(
        self, slots: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
        """LP and recent success rate of ``slots``, from the per-refresh cache."""
        pool = self.pool
        key = self._counters()
        if self._computed_at != key:
            everything = pool.all_slots
            self._rate = rate = self.tracker.recent_rate(everything)
            self._lp = self.scorer.scores(everything, rate)
            settled_after = self.config.settled_after
            if settled_after is not None:
                # A task just mastered keeps a gap between its slow EMAs for hundreds of outcomes;
                # once its recent outcomes are all equal that gap is history, not progress.
                settled = pool.gather("completions", everything) >= settled_after
                settled &= (rate == 0.0) | (rate == 1.0)
                self._lp[settled] = 0.0
            self._computed_at = key
        if slots is pool.all_slots:
            return self._lp, self._rate  # read only: callers must not modify them
        return self._lp[slots], self._rate[slots]

    def _distribution(
        self, slots: npt.NDArray[np.intp]
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """LP, sampling probabilities and the 'scored' mask of ``slots`` (no side effects)."""
        cfg = self.config
        lp, rate = self._lp_and_rate(slots)
        completions = self.pool.gather("completions", slots)
        scored = completions >= cfg.sample_threshold
        if not scored.any():
            weights = np.full(len(slots), cfg.exploration_bonus)
        elif not cfg.use_bidirectional:
            weights = np.where(scored, lp, cfg.exploration_bonus)
        elif cfg.lp_transform == "proportional":
            weights = self._proportional(lp, scored, completions)
        else:
            weights = self._zscore_sigmoid(lp, rate, scored)
        total = weights.sum()
        uniform = cfg.rand_task_rate
        if total <= 0:
            weights, total = np.ones(len(slots)), float(len(slots))
        probs = weights * ((1.0 - uniform - cfg.staleness_rate) / total)
        probs += uniform / len(slots)
        if cfg.staleness_rate:
            # In a shared pool another process may have stamped a task with a later clock.
            staleness = np.maximum(self._clock - self.pool.gather("last_seen", slots), 0)
            staleness = staleness * (1.0 - rate) ** cfg.staleness_unsolved_power
            stale_total = float(staleness.sum())
            if stale_total > 0:
                probs += staleness * (cfg.staleness_rate / stale_total)
            else:
                probs += cfg.staleness_rate / len(slots)
        return lp, probs, scored

    def _proportional(
        self, lp: npt.NDArray[np.float64], scored: npt.NDArray[np.bool_], completions: npt.NDArray[Any]
    ) -> npt.NDArray[np.float64]:
        """Weights in proportion to LP, scaled so the progressing tasks' mean weight is 0.5 (the
        sigmoid's centre), which keeps ``exploration_bonus`` meaning the same in both transforms.
        Scored tasks all get 0.5 when none is progressing.

        A task without LP keeps the exploration bonus until it can be judged for eviction: with
        weight 0 it would never get there, and a pool could fill up with tasks it neither plays
        nor replaces."""
        bonus = self.config.exploration_bonus
        progressing = lp > 0
        progressing &= scored
        count = int(progressing.sum())
        if not count:
            return np.where(scored, 0.5, bonus)
        weights = lp * (0.5 * count / float(lp[progressing].sum()))
        unjudged = completions < self._judgeable
        if unjudged.any():
            unjudged &= ~progressing
            weights[unjudged] = bonus
        return weights

    def _zscore_sigmoid(
        self, lp: npt.NDArray[np.float64], rate: npt.NDArray[np.float64], scored: npt.NDArray[np.bool_]
    ) -> npt.NDArray[np.float64]:
        """sigmoid((LP - mean) / std) over the tasks with LP or success (the paper's transform)."""
        cfg = self.config
        progressing = np.maximum(lp, rate) > 0  # both are >= 0
        progressing &= scored
        if not progressing.any():
            progressing = scored
        everyone = progressing.all()  # the usual case: no masked copies
        z = lp if everyone else lp[progressing]
        if cfg.lp_score_temperature > 0:
            sigmoid: npt.NDArray[np.float64] = z * (-1.0 / cfg.lp_score_temperature)
        else:  # sigmoid(amplification * (z - mean) / std), in place on one temporary
            sigmoid = z - z.mean()
            # Not np.dot: it calls a multithreaded BLAS on large pools, whose threads then spin
            # on other processes' cores.
            std = math.sqrt(np.square(sigmoid).mean())
            np.multiply(sigmoid, -cfg.z_score_amplification / (std if std > 0 else 1.0), out=sigmoid)
        np.exp(sigmoid, out=sigmoid)
        sigmoid += 1.0
        np.reciprocal(sigmoid, out=sigmoid)
        if everyone:
            return sigmoid
        weights = np.where(scored, 0.0, cfg.exploration_bonus)
        weights[progressing] = sigmoid
        return weights

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return self._distribution(slots)[1]  # no side effects: inspecting it changes nothing

    def eviction_candidates(
        self, slots: npt.NDArray[np.intp], min_presentations: int, limit: int
    ) -> npt.NDArray[np.intp]:
        # LP starts at 0 when the EMAs start (at sample_threshold outcomes) and needs about one
        # fast-EMA time constant (1 / ema_timescale outcomes) to show a trend. Judging a task
        # earlier evicts it for an LP it has not had time to develop: with the seed's counting
        # (min_presentations from the first outcome) no task in a 64-task pool was ever scored.
        needed = max(min_presentations, self._judgeable)
        all_lp, rate = self._lp_and_rate(slots)
        lp_column = self.pool.array("lp_score")  # the LP that statistics and inspect report
        if slots is self.pool.all_slots:
            lp_column[:] = all_lp
        else:
            lp_column[slots] = all_lp
        completions = self.pool.gather("completions", slots)
        judged = completions >= needed
        settled = max(min_presentations, self.config.settled_after or needed)
        if settled < needed:
            judged |= (completions >= settled) & ((rate == 0.0) | (rate == 1.0))
        if not judged.any():
            return np.empty(0, dtype=np.intp)
        scored, lp = (slots, all_lp) if judged.all() else (slots[judged], all_lp[judged])
        eligible = np.flatnonzero(lp <= _quantile(lp, self.config.eviction_threshold_percentile))
        if len(eligible) > limit:  # only the lowest ``limit`` need ordering
            eligible = eligible[np.argpartition(lp[eligible], limit - 1)[:limit]]
        candidates: npt.NDArray[np.intp] = scored[eligible[np.argsort(lp[eligible], kind="stable")]]
        return candidates

    def stats(self) -> dict[str, float]:
        slots = self.pool.active_slots()
        if not len(slots):
            return {}
        lp, probs, scored = self._distribution(slots)
        return {
            **self.tracker.global_stats(self._lp_and_rate(slots)[1]),
            "mean_lp": float(lp.mean()),
            "max_lp": float(lp.max()),
            "frac_scored": float(scored.mean()),
            "max_sample_prob": float(probs.max()),
            "sampling_entropy": float(-(probs * np.log(np.maximum(probs, 1e-300))).sum()),
        }


def _quantile(values: npt.NDArray[np.float64], q: float) -> float:
    """``np.quantile(values, q)`` (linear interpolation) without its overhead (~100 µs a call)."""
    position = q * (len(values) - 1)
    low = math.floor(position)
    high = min(low + 1, len(values) - 1)
    ordered = np.partition(values, (low, high))
    a, b, t = float(ordered[low]), float(ordered[high]), position - low
    return b - (b - a) * (1 - t) if t >= 0.5 else a + (b - a) * t  # numpy's _lerp
