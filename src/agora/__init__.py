"""agora: curriculum learning for reinforcement learning.

A :class:`Curriculum` keeps a pool of tasks (ids mapped to environment configs by a task
generator), learns where the agent is making progress and samples those tasks more.

>>> from pydantic import BaseModel
>>> import agora
>>> class Maze(BaseModel):
...     size: int = 5
>>> gen = agora.bucketed(Maze()).add_bucket("size", [5, 7, 9])
>>> curriculum = agora.CurriculumConfig(task_generator=gen, num_active_tasks=16).make()
>>> task = curriculum.get_task()
>>> task.get_env_cfg().size in (5, 7, 9)
True
>>> curriculum.update_task_performance(task.task_id, 1.0)
"""

from importlib.metadata import PackageNotFoundError, version
from typing import Any

from agora import scores
from agora.algorithms import (
    CurriculumAlgorithm,
    CurriculumAlgorithmConfig,
    DiscreteRandomConfig,
    LearnabilityConfig,
    LearningProgressConfig,
    PLRConfig,
    SequentialConfig,
)
from agora.config import TaskConfig, TConfig
from agora.curriculum import (
    CheckpointError,
    Curriculum,
    CurriculumConfig,
    CurriculumTask,
    MutationConfig,
    TaskBatch,
    read_checkpoint,
)
from agora.generators import (
    BucketedTaskGenerator,
    ConstantFields,
    GeneratedTask,
    InvariantRule,
    InvariantViolation,
    SingleTaskGenerator,
    Span,
    StagedTaskGenerator,
    TaskGenerator,
    TaskGeneratorConfig,
    TaskGeneratorSet,
)
from agora.handles import CurriculumLike
from agora.helpers import bucketed, env_curriculum, merge, single_task
from agora.runlog import RunLog

_WRAPPERS = {"CurriculumEnv", "GymnasiumCurriculumWrapper", "PettingZooCurriculumWrapper"}


def __getattr__(name: str) -> Any:
    """Wrappers load lazily: ``agora.CurriculumEnv`` imports PufferLib (and torch) only when used.

    They are not in ``__all__``: without their extra installed they raise ImportError.
    """
    if name in _WRAPPERS:
        from agora import wrappers

        return getattr(wrappers, name)
    raise AttributeError(f"module 'agora' has no attribute {name!r}")


try:
    __version__ = version("agora-rl")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = [
    "BucketedTaskGenerator",
    "CheckpointError",
    "ConstantFields",
    "Curriculum",
    "CurriculumAlgorithm",
    "CurriculumAlgorithmConfig",
    "CurriculumConfig",
    "CurriculumLike",
    "CurriculumTask",
    "DiscreteRandomConfig",
    "GeneratedTask",
    "InvariantRule",
    "InvariantViolation",
    "LearnabilityConfig",
    "LearningProgressConfig",
    "MutationConfig",
    "PLRConfig",
    "RunLog",
    "SequentialConfig",
    "SingleTaskGenerator",
    "Span",
    "StagedTaskGenerator",
    "TConfig",
    "TaskBatch",
    "TaskConfig",
    "TaskGenerator",
    "TaskGeneratorConfig",
    "TaskGeneratorSet",
    "__version__",
    "bucketed",
    "env_curriculum",
    "merge",
    "read_checkpoint",
    "scores",
    "single_task",
]
