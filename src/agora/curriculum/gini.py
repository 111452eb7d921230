"""Gini coefficients of a pool: how unevenly episodes, learning progress and sampling spread.

The seed system logged them as ``curriculum_gini/*`` to see where a curriculum loses its
selectivity: LP that is concentrated on a few tasks (high ``raw_lp_scores``) but sampling
that is nearly uniform (low ``sampling_probs``) points at the transform between the two.
A coefficient is 0 when every task has the same share and approaches 1 when one task has
everything.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agora.pool import TaskPool

__all__ = ["GINI_PREFIX", "gini", "pool_gini"]

GINI_PREFIX = "curriculum_gini/"
"""Key prefix of the coefficients in ``stats()`` (the seed system's)."""


def gini(values: npt.ArrayLike) -> float:
    """The Gini coefficient of non-negative ``values`` (0.0 when there are none, or all are 0)."""
    x = np.sort(np.asarray(values, dtype=np.float64).ravel())
    if not x.size:
        return 0.0
    if not (np.isfinite(x).all() and x[0] >= 0):
        bad = x[~np.isfinite(x)][:1].tolist() or x[:1].tolist()
        raise ValueError(f"a Gini coefficient needs finite non-negative values, got {bad[0]!r}")
    total = float(x.sum())
    if total == 0:
        return 0.0
    n = x.size
    # Not np.dot: a multithreaded BLAS would spin on other processes' cores for large pools.
    weighted = float((np.arange(1, n + 1, dtype=np.float64) * x).sum())
    return 2.0 * weighted / (n * total) - (n + 1.0) / n


def pool_gini(
    pool: TaskPool,
    slots: npt.NDArray[np.intp],
    weights: npt.NDArray[np.float64],
    lp: npt.NDArray[np.float64] | None = None,
) -> dict[str, float]:
    """Coefficients over the tasks in ``slots``: their episodes (``pool_occupancy``), sampling
    ``weights`` (``sampling_probs``, scale-free), ``lp`` if given (``raw_lp_scores``) and the
    number of tasks of each label present (``pool_composition_by_label``)."""
    out = {
        f"{GINI_PREFIX}pool_occupancy": gini(pool.gather("completions", slots)),
        f"{GINI_PREFIX}sampling_probs": gini(weights),
    }
    if lp is not None:
        out[f"{GINI_PREFIX}raw_lp_scores"] = gini(lp)
    labels = pool.gather("label", slots)
    labels = labels[labels >= 0]
    if len(labels):
        out[f"{GINI_PREFIX}pool_composition_by_label"] = gini(np.unique(labels, return_counts=True)[1])
    return out
