"""Generators in stages: task id ``i`` belongs to stage ``i % stages``.

The stage is a function of the id alone, so a curriculum algorithm, which sees only the
pool's ids and columns, knows each task's stage (:class:`~agora.algorithms.SequentialConfig`
samples one stage after another). The pool draws ids uniformly, so each stage holds about
``1 / stages`` of it.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import Field

from agora.config import TConfig
from agora.generators.base import (
    AnyTaskGeneratorConfig,
    GeneratedTask,
    TaskGenerator,
    TaskGeneratorConfig,
    merged_bucket_axes,
)
from agora.generators.rng import TaskRandom

__all__ = ["StagedTaskGenerator"]


class StagedTaskGenerator(TaskGenerator[TConfig]):
    """Task ``i`` is drawn by the generator of stage ``i % len(stages)``."""

    class Config(TaskGeneratorConfig["StagedTaskGenerator[Any]"]):
        stages: list[AnyTaskGeneratorConfig] = Field(
            default_factory=list, min_length=1, description="One generator per stage, in order."
        )

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._stages: list[TaskGenerator[TConfig]] = [stage.create() for stage in config.stages]

    @property
    def has_labels(self) -> bool:
        return super().has_labels or any(stage.has_labels for stage in self._stages)

    def bucket_axes(self) -> dict[str, list[Any]]:
        return merged_bucket_axes(self._stages)

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[TConfig]:
        return self._stages[task_id % len(self._stages)].generate(task_id, TaskRandom(rng.getrandbits(64)))
