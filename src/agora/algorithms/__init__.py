"""Curriculum algorithms: how tasks are weighted for sampling and chosen for eviction."""

from agora.algorithms.base import (
    AnyAlgorithmConfig,
    CurriculumAlgorithm,
    CurriculumAlgorithmConfig,
    DiscreteRandomConfig,
    DiscreteRandomCurriculum,
)

__all__ = [
    "AnyAlgorithmConfig",
    "CurriculumAlgorithm",
    "CurriculumAlgorithmConfig",
    "DiscreteRandomConfig",
    "DiscreteRandomCurriculum",
]
