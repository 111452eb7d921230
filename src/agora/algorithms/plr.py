"""Prioritized Level Replay (Jiang et al., ICML 2021; Robust PLR, NeurIPS 2021).

Tasks are replayed in proportion to a priority: the priority score the learner reports
beside each episode's success (``update_task_performance(task_id, score, priority=p)``),
typically a value-error measure of its last rollout there (:mod:`agora.scores`), or the
score itself when it reports none. Per episode the task's priority S is updated in O(1),
S <- (1 - alpha) S + alpha * priority (a task's first is taken as it is), and the episode
clock is stamped on it. At each
refresh the distribution over the pool is computed in one vectorised pass:

1. A task is *seen* once it has a score. P_S over the seen tasks: the ``score_transform``
   of S ("rank": h = 1 / rank^(1/beta), rank 1 for the highest S; "power": S^(1/beta);
   "softmax": exp(S / beta); "eps_greedy": 1 - eps on the highest, eps spread evenly).
2. P_C over the seen tasks in proportion to their staleness, the episodes since their last
   score (clock at this refresh minus their stamp); replay P = (1 - rho) P_S + rho P_C with
   rho = ``staleness_coef``.
3. Replay probability p: ``"proportionate"``: the share of the pool seen; ``"fixed"``:
   ``replay_prob`` (1 once every task is seen); 0 while the share seen is below
   ``min_seen_to_replay``. Weights: p * P on seen tasks, (1 - p) shared evenly by unseen ones.

With eviction (default), the curriculum replaces the seen tasks of lowest priority that have
``min_presentations_for_eviction`` scores by fresh ones, which arrive unseen: PLR over a task
space larger than the pool, as in Robust PLR's level buffer. docs/algorithms.md has the
defaults and why. Robust PLR trains only on replayed tasks: a task handed out with
``task.is_replay`` False is exploratory (skip its gradient update, report its score);
docs/plr-training.md shows both in a PPO loop.
"""

from __future__ import annotations

from typing import Any, ClassVar, Literal

import numpy as np
import numpy.typing as npt
from pydantic import Field

from agora.algorithms.base import CurriculumAlgorithm, CurriculumAlgorithmConfig
from agora.pool import SlotField, TaskPool

__all__ = ["PLRAlgorithm", "PLRConfig"]


class PLRConfig(CurriculumAlgorithmConfig):
    """Hyperparameters of Prioritized Level Replay (defaults: Robust PLR's, see docs/algorithms.md)."""

    type: Literal["plr"] = "plr"

    score_transform: Literal["rank", "power", "softmax", "eps_greedy"] = Field(
        default="rank", description="How priorities become replay weights P_S (see the module docstring)."
    )
    temperature: float = Field(
        default=0.1, gt=0, description="beta of the rank, power and softmax transforms (lower: sharper)."
    )
    eps: float = Field(
        default=0.05, ge=0, le=1, description="'eps_greedy': mass spread evenly over seen tasks."
    )
    alpha: float = Field(
        default=1.0, gt=0, le=1, description="S <- (1 - alpha) S + alpha * score (1: replace)."
    )
    staleness_coef: float = Field(
        default=0.3, ge=0, le=1, description="rho: share of replay mass given in proportion to staleness."
    )
    replay_schedule: Literal["proportionate", "fixed"] = Field(
        default="proportionate",
        description="'proportionate': replay with probability = the share of the pool seen; 'fixed': "
        "replay_prob.",
    )
    replay_prob: float = Field(default=0.5, ge=0, le=1, description="'fixed': probability of a replay.")
    min_seen_to_replay: float = Field(
        default=0.0, ge=0, le=1, description="No replay until this share of the pool has been seen."
    )
    evict: bool = Field(
        default=True, description="Replace the lowest-priority seen tasks by fresh (unseen) ones."
    )

    def pool_fields(self) -> tuple[SlotField, ...]:
        return (("plr_score", "d", 1), ("plr_stamp", "q", 1))

    def create(self, pool: TaskPool) -> PLRAlgorithm:
        return PLRAlgorithm(self, pool)


class PLRAlgorithm(CurriculumAlgorithm):
    """Replays seen tasks by priority and staleness, tries unseen ones by the replay schedule."""

    evicts: ClassVar[bool] = True
    config: PLRConfig

    def __init__(self, config: PLRConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self._score = pool.view("plr_score")
        self._stamp = pool.view("plr_stamp")
        self._completions = pool.view("completions")
        # Staleness clock: the pool's episode count at the last refresh (refresh granularity
        # keeps update_many equal to repeated update; checkpointed with get_state).
        self._clock = 0

    def update(self, slot: int, score: float) -> None:
        alpha = self.config.alpha
        if alpha == 1.0 or self._completions[slot] == 1:  # the curriculum counted this score already
            self._score[slot] = score
        else:
            self._score[slot] += alpha * (score - self._score[slot])
        self._stamp[slot] = self._clock

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        pool, alpha = self.pool, self.config.alpha
        priority = pool.array("plr_score")
        if alpha == 1.0:
            priority[slots] = scores
        else:
            old = priority[slots]
            priority[slots] = np.where(
                pool.array("completions")[slots] == 1, scores, old + alpha * (scores - old)
            )
        pool.array("plr_stamp")[slots] = self._clock

    def update_with_priority(self, slot: int, score: float, priority: float) -> None:
        """The learner's priority replaces the success score in S (the score still counts in
        the pool's statistics)."""
        self.update(slot, priority)

    def update_many_with_priority(
        self,
        slots: npt.NDArray[np.intp],
        scores: npt.NDArray[np.float64],
        priorities: npt.NDArray[np.float64],
    ) -> None:
        self.update_many(slots, priorities)

    def on_refresh(self) -> None:
        self._clock = self.pool.counter("num_completed")

    def get_state(self) -> dict[str, Any]:
        return {"clock": self._clock}

    def load_state(self, state: dict[str, Any]) -> None:
        self._clock = int(state.get("clock", 0))

    def _priority_weights(self, scores: npt.NDArray[np.float64]) -> npt.NDArray[np.float64]:
        """P_S over the seen tasks whose priorities are ``scores``, normalised."""
        cfg = self.config
        n = len(scores)
        if cfg.score_transform == "rank":
            order = np.argsort(-scores, kind="stable")  # ties: the lower slot ranks first
            ranks = np.empty(n)
            ranks[order] = np.arange(1, n + 1)
            weights = ranks ** (-1.0 / cfg.temperature)
        elif cfg.score_transform == "power":
            # Scaled by the highest first, so that 1 / beta powers cannot overflow; negative
            # priorities (a signed score such as gae) count as 0.
            clipped = np.maximum(scores, 0.0)
            top = float(clipped.max())
            weights = (clipped / top) ** (1.0 / cfg.temperature) if top > 0 else np.ones(n)
        elif cfg.score_transform == "softmax":
            weights = np.exp((scores - scores.max()) / cfg.temperature)
        else:  # eps_greedy
            weights = np.full(n, cfg.eps / n)
            weights[int(np.argmax(scores))] += 1.0 - cfg.eps
        total = float(weights.sum())
        return weights / total if total > 0 else np.full(n, 1.0 / n)

    def _distribution(self, slots: npt.NDArray[np.intp]) -> tuple[npt.NDArray[np.float64], float]:
        """Sampling probabilities of ``slots`` and the replay probability (no side effects)."""
        cfg, pool = self.config, self.pool
        seen = pool.gather("completions", slots) > 0
        n, n_seen = len(slots), int(seen.sum())
        if n_seen == 0:
            return np.full(n, 1.0 / n), 0.0
        share = n_seen / n
        if n_seen == n:
            replay = 1.0
        elif share < cfg.min_seen_to_replay:
            replay = 0.0
        else:
            replay = share if cfg.replay_schedule == "proportionate" else cfg.replay_prob
        seen_slots = slots[seen]
        replayed = self._priority_weights(pool.gather("plr_score", seen_slots).astype(np.float64))
        if cfg.staleness_coef:
            # In a shared pool another process may have stamped a task with a later clock.
            staleness = np.maximum(self._clock - pool.gather("plr_stamp", seen_slots), 0).astype(np.float64)
            stale_total = float(staleness.sum())
            if stale_total > 0:
                replayed *= 1.0 - cfg.staleness_coef
                replayed += staleness * (cfg.staleness_coef / stale_total)
        probs = np.full(n, (1.0 - replay) / (n - n_seen) if n_seen < n else 0.0)
        probs[seen] = replay * replayed
        return probs, replay

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return self._distribution(slots)[0]

    def eviction_candidates(
        self, slots: npt.NDArray[np.intp], min_presentations: int, limit: int
    ) -> npt.NDArray[np.intp]:
        if not self.config.evict:
            return np.empty(0, dtype=np.intp)
        judged = slots[self.pool.gather("completions", slots) >= min_presentations]
        if not len(judged):
            return np.empty(0, dtype=np.intp)
        order = np.argsort(self.pool.gather("plr_score", judged), kind="stable")[:limit]
        candidates: npt.NDArray[np.intp] = judged[order]
        return candidates

    def stats(self) -> dict[str, float]:
        slots = self.pool.active_slots()
        if not len(slots):
            return {}
        probs, replay = self._distribution(slots)
        seen = self.pool.gather("completions", slots) > 0
        scores = self.pool.gather("plr_score", slots)[seen]
        return {
            "frac_seen": float(seen.mean()),
            "replay_prob": replay,
            "mean_priority": float(scores.mean()) if len(scores) else 0.0,
            "max_priority": float(scores.max()) if len(scores) else 0.0,
            "max_sample_prob": float(probs.max()),
            "sampling_entropy": float(-(probs * np.log(np.maximum(probs, 1e-300))).sum()),
        }
