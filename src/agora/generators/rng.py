"""The random-number generator handed to task generators.

A ``random.Random`` seeded with an int runs Mersenne Twister's key schedule, about 9 µs;
a curriculum seeds one or two per task it creates. ``TaskRandom`` keeps the whole
``random.Random`` interface (``choice``, ``uniform``, ``randint``, ``shuffle``, ...) but
runs on SplitMix64, whose state is one 64-bit integer: seeding is free, streams for
nearby seeds are uncorrelated, and the sequence for a seed is the same on every
platform and Python version.
"""

from __future__ import annotations

import random
from typing import Any

__all__ = ["TaskRandom"]

_MASK = (1 << 64) - 1


class TaskRandom(random.Random):
    """``random.Random`` with a SplitMix64 core (Steele, Lea and Flood 2014)."""

    _state: int

    def seed(self, a: Any = None, version: int = 2) -> None:
        if not isinstance(a, int):
            raise TypeError(f"TaskRandom needs an int seed (a task id), got {type(a).__name__}")
        self._state = a & _MASK

    def getstate(self) -> Any:
        return self._state

    def setstate(self, state: Any) -> None:
        self._state = state

    def _next(self) -> int:
        state = self._state = (self._state + 0x9E3779B97F4A7C15) & _MASK
        z = ((state ^ (state >> 30)) * 0xBF58476D1CE4E5B9) & _MASK
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & _MASK
        return z ^ (z >> 31)

    def random(self) -> float:
        return (self._next() >> 11) * (1.0 / 9007199254740992.0)

    def _randbelow(self, n: int) -> int:
        # randrange, randint, choice and shuffle come here. One 64-bit draw, multiply and
        # shift (Lemire), instead of rejection sampling on getrandbits: no loop, and a bias
        # of at most n / 2**64.
        if n <= _MASK:
            return (self._next() * n) >> 64
        bits = n.bit_length()  # beyond 64 bits: rejection sampling, as random.Random does
        value = self.getrandbits(bits)
        while value >= n:
            value = self.getrandbits(bits)
        return value

    def getrandbits(self, k: int) -> int:
        if k < 0:
            raise ValueError("number of bits must be non-negative")
        bits, value = 0, 0
        while bits < k:
            value = (value << 64) | self._next()
            bits += 64
        return value >> (bits - k)
