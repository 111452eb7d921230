"""Bucket values: what one entry of a bucket can be (a literal or a :class:`Span`).

A leaf module (it imports nothing from agora), so statistics can bin by bucket entries and stay below
the generators.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, ConfigDict, model_validator

__all__ = ["BucketValue", "Span"]


class Span(BaseModel):
    """A continuous range: ints draw an int in ``[min, max]``, otherwise a float."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    range_min: int | float
    range_max: int | float

    def __init__(self, range_min: int | float | None = None, range_max: int | float | None = None, **kw: Any):
        if range_min is not None:
            kw["range_min"] = range_min
        if range_max is not None:
            kw["range_max"] = range_max
        super().__init__(**kw)

    @model_validator(mode="after")
    def _ordered(self) -> Span:
        if not self.range_min < self.range_max:
            raise ValueError(f"Span needs range_min < range_max, got {self.range_min} >= {self.range_max}")
        return self

    def sample(self, rng: random.Random) -> int | float:
        lo, hi = self.range_min, self.range_max
        if isinstance(lo, int) and isinstance(hi, int):
            return rng.randint(lo, hi)
        return rng.uniform(lo, hi)

    def __str__(self) -> str:
        return f"{self.range_min}-{self.range_max}"


BucketValue = Span | bool | int | float | str
"""One entry of a bucket: a literal value or a :class:`Span`."""
