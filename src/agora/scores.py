"""Priority scores for Prioritized Level Replay, computed from one rollout's numpy arrays.

PLR ranks tasks by how much the learner can still learn on them, measured from the rollout
it just played there: mostly from the value function's errors. Each function takes one
rollout of ``T`` steps on one task (several episodes of it are fine) as 1-D arrays:

- ``rewards[t]``: the reward after the action at step ``t``;
- ``values[t]``: the learner's value estimate V(s_t) of the state at step ``t``;
- ``dones[t]``: whether an episode ended with step ``t`` (no bootstrapping across it);
- ``last_value``: V of the state after the last step, for a rollout cut mid-episode (ignored
  when ``dones[-1]`` is set).

With the TD errors d_t = r_t + gamma * V(s_t+1) * (1 - done_t) - V(s_t) and the GAE
advantages A_t = d_t + gamma * lam * (1 - done_t) * A_t+1, the scores are means over the
rollout's steps: :func:`gae` of A, :func:`value_l1` of \\|A\\|, :func:`positive_value_loss` of
max(A, 0), :func:`one_step_td_error` of \\|d\\|, and :func:`max_mc` of (best return - V).
Report the result as the task's priority, beside its success score
(``curriculum.update_task_performance(task_id, success, priority=value_l1(...))``): PLR ranks
by it, the statistics and other algorithms keep the success (docs/plr-training.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["gae", "max_mc", "one_step_td_error", "positive_value_loss", "value_l1"]

Array = npt.ArrayLike


def _rollout(
    rewards: Array, values: Array, dones: Array
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    r = np.asarray(rewards, dtype=np.float64)
    v = np.asarray(values, dtype=np.float64)
    d = np.asarray(dones, dtype=bool)
    if r.ndim != 1 or not len(r):
        raise ValueError(f"rewards must be a non-empty 1-D array, got shape {r.shape}")
    if v.shape != r.shape or d.shape != r.shape:
        raise ValueError(
            f"rewards, values and dones must have the same shape, got {r.shape}, {v.shape} and {d.shape}"
        )
    return r, v, d


def _check_discount(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} must be in [0, 1], got {value}")


def _td_errors(
    r: npt.NDArray[np.float64],
    v: npt.NDArray[np.float64],
    d: npt.NDArray[np.bool_],
    gamma: float,
    last: float,
) -> npt.NDArray[np.float64]:
    _check_discount("gamma", gamma)
    following = np.append(v[1:], last)
    following[d] = 0.0  # an episode's last step bootstraps from nothing
    deltas: npt.NDArray[np.float64] = r + gamma * following - v
    return deltas


def _advantages(
    rewards: Array, values: Array, dones: Array, gamma: float, lam: float, last_value: float
) -> npt.NDArray[np.float64]:
    r, v, d = _rollout(rewards, values, dones)
    _check_discount("lam", lam)
    deltas = _td_errors(r, v, d, gamma, last_value)
    carry = gamma * lam * ~d
    advantages = np.empty_like(deltas)
    running = 0.0
    for t in range(len(deltas) - 1, -1, -1):  # a recurrence: one pass backwards
        running = float(deltas[t]) + float(carry[t]) * running
        advantages[t] = running
    return advantages


def gae(
    rewards: Array, values: Array, dones: Array, gamma: float, lam: float, last_value: float = 0.0
) -> float:
    """Mean GAE advantage: positive where the learner does better than it expects."""
    return float(_advantages(rewards, values, dones, gamma, lam, last_value).mean())


def value_l1(
    rewards: Array, values: Array, dones: Array, gamma: float, lam: float, last_value: float = 0.0
) -> float:
    """Mean absolute GAE advantage (PLR's default score, level-replay's ``value_l1``)."""
    return float(np.abs(_advantages(rewards, values, dones, gamma, lam, last_value)).mean())


def positive_value_loss(
    rewards: Array, values: Array, dones: Array, gamma: float, lam: float, last_value: float = 0.0
) -> float:
    """Mean of the positive part of the GAE advantages (Robust PLR, ACCEL): only where the
    learner underestimates what it can get, which noise alone does not favour."""
    advantages = _advantages(rewards, values, dones, gamma, lam, last_value)
    return float(np.maximum(advantages, 0.0).mean())


def one_step_td_error(
    rewards: Array, values: Array, dones: Array, gamma: float, last_value: float = 0.0
) -> float:
    """Mean absolute one-step TD error \\|r_t + gamma * V(s_t+1) - V(s_t)\\|."""
    r, v, d = _rollout(rewards, values, dones)
    return float(np.abs(_td_errors(r, v, d, gamma, last_value)).mean())


def max_mc(rewards: Array, values: Array, dones: Array, best_return: float | None = None) -> float:
    """Mean of (best return - V(s_t)) (MaxMC, as in jaxued): the regret estimate of a task.

    The best return is the highest undiscounted return of the rollout's finished episodes, or
    ``best_return`` (the highest seen on this task before, which the caller keeps) if that is
    higher. Without a finished episode and without ``best_return`` it raises ``ValueError``.
    """
    r, v, d = _rollout(rewards, values, dones)
    ends = np.flatnonzero(d)
    best = -np.inf if best_return is None else float(best_return)
    if len(ends):
        sums = np.cumsum(r)[ends]
        episode_returns: npt.NDArray[Any] = np.diff(sums, prepend=0.0)
        best = max(best, float(episode_returns.max()))
    if not np.isfinite(best):
        raise ValueError("max_mc needs a finished episode in the rollout or a finite best_return")
    return float((best - v).mean())
