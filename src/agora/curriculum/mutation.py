"""Task mutation (ACCEL-style): some replacement tasks are edits of tasks the algorithm favours.

When a refresh evicts tasks, each replacement is, with probability ``rate``, an edit
(:meth:`~agora.generators.TaskGenerator.mutate`) of a parent drawn from the tasks that stay,
instead of a fresh random id. The edit is a new task id that names its config by itself
(see :mod:`agora.generators.base`), so the pool still holds only ids and numbers, and local,
shared and restored curricula derive the same children from the same seed.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

__all__ = ["MutationConfig", "pick_parents"]


class MutationConfig(BaseModel):
    """Replacement tasks as edits of favoured tasks; ``CurriculumConfig.mutation`` (None: off)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    rate: float = Field(
        default=0.5,
        gt=0.0,
        le=1.0,
        description="Probability that a replacement task is an edit of a pool task rather than a fresh draw.",
    )
    parents: Literal["top", "weights"] = Field(
        default="top",
        description="How parents are drawn from the tasks that stay: uniformly from the top_k tasks by "
        "the algorithm's sampling weight, or in proportion to the weights.",
    )
    top_k: int = Field(default=16, gt=0, description="Parents' pool size with parents='top'.")


def pick_parents(
    config: MutationConfig, weights: npt.NDArray[np.float64], rng: np.random.Generator, k: int
) -> npt.NDArray[np.intp]:
    """``k`` positions into ``weights`` (valid, summing > 0), drawn as ``config.parents`` says."""
    if config.parents == "top":
        top = len(weights) if config.top_k >= len(weights) else config.top_k
        best = np.argpartition(-weights, top - 1)[:top] if top < len(weights) else np.arange(len(weights))
        picked: npt.NDArray[np.intp] = best[rng.integers(0, top, size=k)]
        return picked
    cdf = np.cumsum(weights)
    positions: npt.NDArray[np.intp] = np.searchsorted(cdf, rng.random(k) * cdf[-1], side="right")
    return np.minimum(positions, len(weights) - 1)
