"""Curriculum algorithms: how tasks are weighted for sampling and chosen for eviction."""

from agora.algorithms.base import (
    AnyAlgorithmConfig,
    CurriculumAlgorithm,
    CurriculumAlgorithmConfig,
    DiscreteRandomConfig,
    DiscreteRandomCurriculum,
)
from agora.algorithms.learning_progress import LearningProgressAlgorithm, LearningProgressConfig
from agora.algorithms.scorers import BasicLPScorer, BidirectionalLPScorer, LPScorer

__all__ = [
    "AnyAlgorithmConfig",
    "BasicLPScorer",
    "BidirectionalLPScorer",
    "CurriculumAlgorithm",
    "CurriculumAlgorithmConfig",
    "DiscreteRandomConfig",
    "DiscreteRandomCurriculum",
    "LPScorer",
    "LearningProgressAlgorithm",
    "LearningProgressConfig",
]
