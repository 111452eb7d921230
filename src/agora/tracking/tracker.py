"""Per-task performance tracking in pool columns.

The tracker keeps, for every active task: completion count and mean score (core pool
columns), EMAs of the score, of the squared score and of success, the last score, the
creation time, the learning-progress score written at each refresh, and a ring buffer of
the last ``memory`` outcomes. Ring outcomes are clipped to [0, 1] and stored as 16-bit
fixed point (resolution 1/65535, exact integer sums; raw scores live in the mean, the EMAs
and ``last_score``), which keeps the whole LP state under 200 bytes per task. A slot is
zeroed when a task is created, so an evicted task's history never leaks into its successor.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agora.pool import SlotField, TaskPool
from agora.tracking.memory import LocalMemoryBackend

__all__ = ["RATE_SCALE", "LocalTaskTracker", "TaskTracker"]

RATE_SCALE = 65535
"""Fixed-point scale of the outcome ring: an outcome x in [0, 1] is stored as round(x * 65535)."""


class TaskTracker:
    """Running statistics of each task in a :class:`TaskPool`, updated in O(1) per episode."""

    @staticmethod
    def fields(memory: int) -> tuple[SlotField, ...]:
        return (
            ("reward_ema", "f", 1),
            ("reward_sq_ema", "f", 1),
            ("success_ema", "f", 1),
            ("lp_score", "f", 1),
            ("recent_sum", "I", 1),  # sum of the ring, in units of 1/RATE_SCALE
            ("recent", "H", memory),
        )

    def __init__(self, pool: TaskPool, *, memory: int, ema_alpha: float, success_threshold: float) -> None:
        self.pool = pool
        self.memory = memory
        self.ema_alpha = ema_alpha
        self.success_threshold = success_threshold
        self._completions = pool.view("completions")
        self._reward = pool.view("reward_ema")
        self._reward_sq = pool.view("reward_sq_ema")
        self._success = pool.view("success_ema")
        self._recent = pool.view("recent")
        self._recent_sum = pool.view("recent_sum")

    def update(self, slot: int, score: float) -> float:
        """Fold one score into the task's statistics; returns its recent success rate."""
        n = self._completions[slot]  # already counts this episode
        a = self.ema_alpha
        success = 1.0 if score >= self.success_threshold else 0.0
        if n == 1:
            self._reward[slot] = score
            self._reward_sq[slot] = score * score
            self._success[slot] = success
        else:
            self._reward[slot] = a * score + (1.0 - a) * self._reward[slot]
            self._reward_sq[slot] = a * score * score + (1.0 - a) * self._reward_sq[slot]
            self._success[slot] = a * success + (1.0 - a) * self._success[slot]
        memory = self.memory
        i = slot * memory + (n - 1) % memory
        old = self._recent[i] if n > memory else 0
        new = round(min(max(score, 0.0), 1.0) * RATE_SCALE)
        self._recent[i] = new
        total = self._recent_sum[slot] + new - old
        self._recent_sum[slot] = total
        rate: float = total / (RATE_SCALE * (n if n < memory else memory))
        return rate

    def update_many(
        self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]
    ) -> npt.NDArray[np.float64]:
        """Vectorised :meth:`update` for distinct slots (bit-identical results).

        Written for few numpy calls (each costs about a microsecond at batch sizes of a few
        hundred, more than its arithmetic): EMAs are blended as float64 straight from the
        float32 gather, and the ring is read unconditionally because a slot's unwritten ring
        entries are zero (slots are zeroed when a task is created).
        """
        pool, a, memory = self.pool, self.ema_alpha, self.memory
        n = pool.array("completions")[slots]  # already counts this episode
        success = scores >= self.success_threshold
        a_scores = a * scores
        blends = (
            ("reward_ema", scores, a_scores),
            ("reward_sq_ema", scores * scores, a_scores * scores),  # update()'s order of operations
            ("success_ema", success, success * a),
        )
        first = n == 1 if n.min(initial=2) == 1 else None  # a task's first outcome sets its EMAs
        for name, first_value, step in blends:
            column = pool.array(name)
            blended = np.multiply(column[slots], 1.0 - a, dtype=np.float64)
            blended += step
            if first is not None:
                np.copyto(blended, first_value, where=first)
            column[slots] = blended
        ring = pool.backend.array("recent")
        index = slots * memory
        index += (n - 1) % memory
        old = ring[index]
        new = np.maximum(scores, 0.0)  # clipped to [0, 1] (np.clip costs twice as much)
        np.minimum(new, 1.0, out=new)
        new *= RATE_SCALE
        np.round(new, out=new)
        ring[index] = new
        recent_sum = pool.array("recent_sum")
        total = recent_sum[slots] + new
        total -= old
        recent_sum[slots] = total
        rate: npt.NDArray[np.float64] = total / (RATE_SCALE * np.minimum(n, memory))
        return rate

    def recent_rate(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """Mean of each task's recent clipped outcomes (0 for tasks never played)."""
        n = np.minimum(self.pool.gather("completions", slots), self.memory).astype(np.float64) * RATE_SCALE
        total = self.pool.gather("recent_sum", slots).astype(np.float64)
        rate: npt.NDArray[np.float64] = np.divide(total, n, out=np.zeros(len(slots)), where=n > 0)
        return rate

    def recent_scores(self, slot: int) -> list[float]:
        """The task's recent outcomes, oldest first."""
        n = int(self._completions[slot])
        row = self.pool.array("recent")[slot] / RATE_SCALE
        if n <= self.memory:
            return row[:n].tolist()  # type: ignore[no-any-return]
        start = n % self.memory
        return np.concatenate([row[start:], row[:start]]).tolist()  # type: ignore[no-any-return]

    def get_task_stats(self, task_id: int) -> dict[str, float] | None:
        """All tracked values of one task, or None if it is not in the pool."""
        slot = self.pool.slot_of(task_id)
        if slot is None:
            return None
        n = float(self._completions[slot])
        return {
            "completion_count": n,
            "mean_score": float(self.pool.view("score_sum")[slot]) / n if n else 0.0,
            "reward_ema": float(self._reward[slot]),
            "reward_sq_ema": float(self._reward_sq[slot]),
            "success_rate_ema": float(self._success[slot]),
            "lp_score": float(self.pool.view("lp_score")[slot]),
            "last_score": float(self.pool.view("last_score")[slot]),
            "created_at": float(self.pool.view("created_at")[slot]),
            "recent_rate": float(self.recent_rate(np.array([slot]))[0]),
        }

    def global_stats(self, recent_rate: npt.NDArray[np.float64] | None = None) -> dict[str, float]:
        """Means over the active tasks; ``recent_rate``: their :meth:`recent_rate`, if known."""
        active = self.pool.active_slots()
        if not len(active):
            return {}
        rate = self.recent_rate(active) if recent_rate is None else recent_rate
        return {
            "mean_reward_ema": float(self.pool.gather("reward_ema", active).mean()),
            "mean_success_rate_ema": float(self.pool.gather("success_ema", active).mean()),
            "mean_recent_rate": float(rate.mean()),
        }


def LocalTaskTracker(
    capacity: int = 1000, memory: int = 25, ema_alpha: float = 0.02, success_threshold: float = 0.5
) -> TaskTracker:
    """A tracker over a private pool in this process's memory (for standalone use and tests)."""
    pool = TaskPool(capacity, TaskTracker.fields(memory), LocalMemoryBackend)
    pool.initialize()
    return TaskTracker(pool, memory=memory, ema_alpha=ema_alpha, success_threshold=success_threshold)
