"""A generator that varies config fields by drawing each from a bucket of values.

Its space (for mutation, see :mod:`agora.generators.base`): each bucket is a line of
points in list order, one per literal entry, one per integer of an int :class:`Span` and
``SPAN_GRID + 1`` evenly spaced values of a float ``Span`` (its ends included). A task is
one point per bucket plus a point of the child's space, numbered in mixed radix (the first
bucket varies fastest, the child slowest). An edit (:meth:`TaskGenerator.mutate`) picks one
bucket, or the child, uniformly among those with more than one point, and moves its point:
from a literal entry to the neighbouring entry; inside a ``Span`` by 1 to a tenth of its
points (at least 1), stopping at the Span's end, and from its end to the neighbouring entry.
A fresh task's float ``Span`` value is rounded to the grid when it is encoded (by at most
half a grid step, ``(max - min) / 2000``), so a mutated child carries its parent's float
values on the grid.
"""

from __future__ import annotations

import bisect
import math
import random
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field, field_validator

from agora.config import TConfig, apply_overrides
from agora.generators.base import AnyTaskGeneratorConfig, GeneratedTask, TaskGenerator, TaskGeneratorConfig
from agora.generators.rng import TaskRandom
from agora.generators.single import SingleTaskGenerator
from agora.generators.values import BucketValue, Span

__all__ = ["SPAN_GRID", "BucketValue", "BucketedTaskGenerator", "Span"]

SPAN_GRID = 1000
"""Steps a float ``Span`` is divided into when a task is enumerated (``SPAN_GRID + 1`` points)."""


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
        self._axes = [_Axis(bucket) for _, bucket in self._buckets]
        self._child: TaskGenerator[TConfig] = config.child_generator_config.create()

    @property
    def has_labels(self) -> bool:
        return super().has_labels or self._child.has_labels

    def bucket_axes(self) -> dict[str, list[Any]]:
        return {**self._child.bucket_axes(), **{path: list(bucket) for path, bucket in self._buckets}}

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[TConfig]:
        values = self._draw(rng)
        child = self._child.generate(task_id, TaskRandom(rng.getrandbits(64)))
        return self._task(task_id, child, values)

    def _draw(self, rng: random.Random, points: list[int] | None = None) -> dict[str, Any]:
        """One value per bucket from ``rng``; ``points``: also collect each value's point."""
        values: dict[str, Any] = {}
        for (path, bucket), axis in zip(self._buckets, self._axes, strict=True):
            entry = rng.randrange(len(bucket))
            value = bucket[entry]
            values[path] = value.sample(rng) if isinstance(value, Span) else value
            if points is not None:
                points.append(axis.point(entry, values[path]))
        return values

    @staticmethod
    def _task(task_id: int, child: GeneratedTask[TConfig], values: dict[str, Any]) -> GeneratedTask[TConfig]:
        return GeneratedTask(
            task_id,
            lambda: apply_overrides(child.config, values),
            label=child.label,
            bucket_values={**child.bucket_values, **values},
        )

    # -- the enumerated space (see the module docstring) ----------------------------------

    def _space_size(self) -> int | None:
        child = self._child.space_size
        return None if child is None else math.prod(axis.size for axis in self._axes) * child

    def _point(self, task_id: int, rng: random.Random) -> int:
        points: list[int] = []
        self._draw(rng, points)
        return self._encode(points, self._child._point(task_id, TaskRandom(rng.getrandbits(64))))

    def _at(self, task_id: int, point: int) -> GeneratedTask[TConfig]:
        points, rest = self._decode(point)
        values = {
            path: axis.value(p) for (path, _), axis, p in zip(self._buckets, self._axes, points, strict=True)
        }
        return self._task(task_id, self._child.generate_point(task_id, rest), values)

    def _mutated(self, point: int, rng: random.Random) -> int | None:
        points, rest = self._decode(point)
        choices = [i for i, axis in enumerate(self._axes) if axis.size > 1]
        if self._child.can_mutate:
            choices.append(-1)  # the child's space
        rng.shuffle(choices)
        for choice in choices:
            if choice >= 0:
                points[choice] = self._axes[choice].step(points[choice], rng)
                return self._encode(points, rest)
            edited = self._child._mutated(rest, rng)
            if edited is not None:
                return self._encode(points, edited)
        return None

    def _encode(self, points: list[int], rest: int) -> int:
        for axis, p in zip(reversed(self._axes), reversed(points), strict=True):
            rest = rest * axis.size + p
        return rest

    def _decode(self, point: int) -> tuple[list[int], int]:
        points = []
        for axis in self._axes:
            point, p = divmod(point, axis.size)
            points.append(p)
        return points, point


class _Axis:
    """One bucket as a line of points (see the module docstring)."""

    def __init__(self, entries: list[BucketValue]) -> None:
        self.entries = entries
        self.starts: list[int] = []
        size = 0
        for entry in entries:
            self.starts.append(size)
            size += _width(entry)
        self.size = size

    def point(self, entry: int, value: Any) -> int:
        """The point of ``value`` drawn from entry ``entry``."""
        span, start = self.entries[entry], self.starts[entry]
        if not isinstance(span, Span):
            return start
        lo, hi = span.range_min, span.range_max
        if isinstance(lo, int) and isinstance(hi, int):
            return start + int(value) - lo
        return start + round((float(value) - lo) / (hi - lo) * SPAN_GRID)

    def value(self, point: int) -> Any:
        entry = bisect.bisect_right(self.starts, point) - 1
        span, offset = self.entries[entry], point - self.starts[entry]
        if not isinstance(span, Span):
            return span
        lo, hi = span.range_min, span.range_max
        if isinstance(lo, int) and isinstance(hi, int):
            return lo + offset
        return lo + (hi - lo) * (offset / SPAN_GRID)

    def step(self, point: int, rng: random.Random) -> int:
        """A neighbouring point of ``point`` (this axis has at least two)."""
        entry = bisect.bisect_right(self.starts, point) - 1
        start = self.starts[entry]
        end = start + _width(self.entries[entry]) - 1
        distance = 1 + rng.randrange(max(1, (end - start + 1) // 10))
        directions = (1, -1) if rng.random() < 0.5 else (-1, 1)
        for direction in directions:
            target = point + direction * distance
            if target < start:  # stop at the entry's end; from the end, to the neighbouring entry
                target = start if point > start else start - 1
            elif target > end:
                target = end if point < end else end + 1
            if 0 <= target < self.size:
                return target
        raise AssertionError(f"an axis of {self.size} points has no neighbour of {point}")


def _width(entry: BucketValue) -> int:
    """Points of one bucket entry."""
    if not isinstance(entry, Span):
        return 1
    lo, hi = entry.range_min, entry.range_max
    if isinstance(lo, int) and isinstance(hi, int):
        return hi - lo + 1
    return SPAN_GRID + 1
