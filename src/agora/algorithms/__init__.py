"""Curriculum algorithms: how tasks are weighted for sampling and chosen for eviction."""

from typing import Any

from agora.algorithms.base import (
    AnyAlgorithmConfig,
    CurriculumAlgorithm,
    CurriculumAlgorithmConfig,
    DiscreteRandomConfig,
    DiscreteRandomCurriculum,
)
from agora.algorithms.learnability import LearnabilityAlgorithm, LearnabilityConfig
from agora.algorithms.learning_progress import LearningProgressAlgorithm, LearningProgressConfig
from agora.algorithms.plr import PLRAlgorithm, PLRConfig
from agora.algorithms.scorers import BasicLPScorer, BidirectionalLPScorer, LPScorer
from agora.algorithms.sequential import SequentialAlgorithm, SequentialConfig, Stage

__all__ = [
    "AlgorithmContractError",
    "AnyAlgorithmConfig",
    "BasicLPScorer",
    "BidirectionalLPScorer",
    "CurriculumAlgorithm",
    "CurriculumAlgorithmConfig",
    "DiscreteRandomConfig",
    "DiscreteRandomCurriculum",
    "LPScorer",
    "LearnabilityAlgorithm",
    "LearnabilityConfig",
    "LearningProgressAlgorithm",
    "LearningProgressConfig",
    "PLRAlgorithm",
    "PLRConfig",
    "SequentialAlgorithm",
    "SequentialConfig",
    "Stage",
    "check_algorithm",
]


def __getattr__(name: str) -> Any:
    # The checker builds curricula, and the curriculum imports this package: load it on first use.
    if name in ("check_algorithm", "AlgorithmContractError"):
        from agora.algorithms import check

        return getattr(check, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
