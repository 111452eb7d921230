"""Task generators: single configs, bucketed variations, weighted sets."""

from agora.generators.base import (
    MUTATED_ID_BASE,
    AnyTaskGeneratorConfig,
    GeneratedTask,
    TaskGenerator,
    TaskGeneratorConfig,
)
from agora.generators.bucketed import BucketedTaskGenerator
from agora.generators.invariants import ConstantFields, InvariantRule, InvariantViolation
from agora.generators.rng import TaskRandom
from agora.generators.set import TaskGeneratorSet
from agora.generators.single import SingleTaskGenerator
from agora.generators.staged import StagedTaskGenerator
from agora.generators.values import BucketValue, Span

__all__ = [
    "MUTATED_ID_BASE",
    "AnyTaskGeneratorConfig",
    "BucketValue",
    "BucketedTaskGenerator",
    "ConstantFields",
    "GeneratedTask",
    "InvariantRule",
    "InvariantViolation",
    "SingleTaskGenerator",
    "Span",
    "StagedTaskGenerator",
    "TaskGenerator",
    "TaskGeneratorConfig",
    "TaskGeneratorSet",
    "TaskRandom",
]
