"""One-line constructors for the common curriculum shapes (names kept from the seed system)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from agora.curriculum import CurriculumConfig
from agora.generators import BucketedTaskGenerator, SingleTaskGenerator, TaskGeneratorConfig, TaskGeneratorSet

__all__ = ["bucketed", "env_curriculum", "merge", "single_task"]


def single_task(config: BaseModel, *, label: str | None = None) -> SingleTaskGenerator.Config:
    """A generator that always returns ``config``; ``label`` names its tasks in per-label statistics."""
    return SingleTaskGenerator.Config(env=config, label=label)


def bucketed(config: BaseModel, *, label: str | None = None) -> BucketedTaskGenerator.Config:
    """A bucketed generator over ``config``; add buckets with ``.add_bucket(path, values)``.

    ``label`` names its tasks in per-label statistics.
    """
    return BucketedTaskGenerator.Config(child_generator_config=single_task(config), label=label)


def merge(
    generators: Sequence[TaskGeneratorConfig[Any]],
    weights: Sequence[float] | None = None,
    *,
    label: str | None = None,
) -> TaskGeneratorSet.Config:
    """A weighted set of generators (equal weights by default).

    ``label`` is joined after the children's own labels (``child|label``), as for any nested generator.
    """
    weights = list(weights) if weights is not None else [1.0] * len(generators)
    return TaskGeneratorSet.Config(task_generators=list(generators), weights=weights, label=label)


def env_curriculum(config: BaseModel, **kwargs: Any) -> CurriculumConfig:
    """A curriculum over the single task ``config`` (keyword arguments go to CurriculumConfig)."""
    return CurriculumConfig(task_generator=single_task(config), **kwargs)
