"""A weighted mixture of generators."""

from __future__ import annotations

import bisect
import itertools
import math
import random
from typing import Any

from pydantic import Field, model_validator

from agora.config import TConfig
from agora.generators.base import (
    AnyTaskGeneratorConfig,
    GeneratedTask,
    TaskGenerator,
    TaskGeneratorConfig,
    merged_bucket_axes,
)
from agora.generators.rng import TaskRandom

__all__ = ["TaskGeneratorSet"]


class TaskGeneratorSet(TaskGenerator[TConfig]):
    """Pick a child generator with probability proportional to its weight, per task id."""

    class Config(TaskGeneratorConfig["TaskGeneratorSet[Any]"]):
        task_generators: list[AnyTaskGeneratorConfig] = Field(default_factory=list)
        weights: list[float] = Field(default_factory=list, description="One positive weight per child.")

        @model_validator(mode="after")
        def _check_weights(self) -> TaskGeneratorSet.Config:
            _check_weights(len(self.task_generators), self.weights)
            return self

        def add(
            self, task_generator: TaskGeneratorConfig[Any], weight: float = 1.0
        ) -> TaskGeneratorSet.Config:
            """Add a child generator (chainable)."""
            if not (weight > 0 and math.isfinite(weight)):
                raise ValueError(f"weight must be positive and finite, got {weight}")
            self.task_generators.append(task_generator)
            self.weights.append(weight)
            return self

    _starts: list[int]
    """First point of each child's space (set with :attr:`space_size`)."""

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if not config.task_generators:
            raise ValueError("TaskGeneratorSet needs at least one task generator (use add)")
        _check_weights(len(config.task_generators), config.weights)  # add() mutates the lists in place
        self._children: list[TaskGenerator[TConfig]] = [c.create() for c in config.task_generators]
        self._cumulative = list(itertools.accumulate(config.weights))

    @property
    def has_labels(self) -> bool:
        return super().has_labels or any(child.has_labels for child in self._children)

    def bucket_axes(self) -> dict[str, list[Any]]:
        return merged_bucket_axes(self._children)

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[TConfig]:
        pick = bisect.bisect(self._cumulative, rng.random() * self._cumulative[-1])
        return self._children[pick].generate(task_id, TaskRandom(rng.getrandbits(64)))

    # -- the enumerated space: the children's spaces one after another --------------------

    def _space_size(self) -> int | None:
        sizes = [size for child in self._children if (size := child.space_size) is not None]
        if len(sizes) < len(self._children):
            return None
        self._starts = [0, *itertools.accumulate(sizes)][:-1]
        return sum(sizes)

    def _point(self, task_id: int, rng: random.Random) -> int:
        pick = bisect.bisect(self._cumulative, rng.random() * self._cumulative[-1])
        return self._starts[pick] + self._children[pick]._point(task_id, TaskRandom(rng.getrandbits(64)))

    def _at(self, task_id: int, point: int) -> GeneratedTask[TConfig]:
        pick = bisect.bisect_right(self._starts, point) - 1
        return self._children[pick].generate_point(task_id, point - self._starts[pick])

    def _mutated(self, point: int, rng: random.Random) -> int | None:
        """An edit inside the same child (a set's mutation never switches children)."""
        pick = bisect.bisect_right(self._starts, point) - 1
        child = self._children[pick]
        if not child.can_mutate:
            return None
        edited = child._mutated(point - self._starts[pick], rng)
        return None if edited is None else self._starts[pick] + edited


def _check_weights(num_generators: int, weights: list[float]) -> None:
    if any(not (w > 0 and math.isfinite(w)) for w in weights):
        raise ValueError(f"weights must all be positive and finite, got {weights}")
    if len(weights) != num_generators:
        raise ValueError(f"{len(weights)} weights for {num_generators} task generators")
