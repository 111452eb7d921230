"""A generator that varies config fields by drawing each from a bucket of values."""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, field_validator

from agora.config import TConfig, apply_overrides
from agora.generators.base import AnyTaskGeneratorConfig, GeneratedTask, TaskGenerator, TaskGeneratorConfig
from agora.generators.rng import TaskRandom
from agora.generators.single import SingleTaskGenerator
from agora.generators.values import BucketValue, Span

__all__ = ["BucketValue", "BucketedTaskGenerator", "Span"]


class BucketedTaskGenerator(TaskGenerator[TConfig]):
    """Draw one value per bucket path and apply them as overrides to the child's config.

    The drawn values come back as ``GeneratedTask.bucket_values`` (``{path: value}``),
    which the curriculum keeps for per-bucket statistics.
    """

    class Config(TaskGeneratorConfig["BucketedTaskGenerator[Any]"]):
        child_generator_config: AnyTaskGeneratorConfig = Field(description="Generator of the base config.")
        buckets: dict[str, list[BucketValue]] = Field(
            default_factory=dict, description="Dotted config path -> values (or Spans) to draw from."
        )

        @field_validator("buckets")
        @classmethod
        def _non_empty(cls, buckets: dict[str, list[BucketValue]]) -> dict[str, list[BucketValue]]:
            for path, values in buckets.items():
                if not values:
                    raise ValueError(f"bucket {path!r} has no values")
            return buckets

        @classmethod
        def from_mg(cls, config: BaseModel) -> BucketedTaskGenerator.Config:
            """The seed system's constructor: buckets over the single task ``config`` (any pydantic
            model, a MettaGridConfig in the seed), with no buckets yet (same as :func:`agora.bucketed`)."""
            return cls(child_generator_config=SingleTaskGenerator.Config(env=config))

        def add_bucket(self, path: str, values: Sequence[BucketValue]) -> BucketedTaskGenerator.Config:
            """Add a bucket (chainable); a path may only be bucketed once."""
            if path in self.buckets:
                raise ValueError(f"bucket {path!r} already exists")
            self.buckets = {**self.buckets, path: list(values)}
            return self

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        if not config.buckets:
            raise ValueError("BucketedTaskGenerator needs at least one bucket (use add_bucket)")
        self._buckets = list(config.buckets.items())
        self._child: TaskGenerator[TConfig] = config.child_generator_config.create()

    @property
    def has_labels(self) -> bool:
        return super().has_labels or self._child.has_labels

    def bucket_axes(self) -> dict[str, list[Any]]:
        return {**self._child.bucket_axes(), **{path: list(bucket) for path, bucket in self._buckets}}

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[TConfig]:
        values: dict[str, Any] = {}
        for path, bucket in self._buckets:
            value = bucket[rng.randrange(len(bucket))]
            values[path] = value.sample(rng) if isinstance(value, Span) else value
        child = self._child.generate(task_id, TaskRandom(rng.getrandbits(64)))
        return GeneratedTask(
            task_id,
            lambda: apply_overrides(child.config, values),
            label=child.label,
            bucket_values={**child.bucket_values, **values},
        )
