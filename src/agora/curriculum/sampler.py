"""The pre-drawn queue: ``refresh_interval`` slots drawn at once in proportion to the weights."""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["Sampler"]


class Sampler:
    """Pre-drawn slots, handed out from the end.

    :attr:`queue` is a list for single hand-outs (``queue.pop()`` on the per-episode path) and
    is only ever changed in place, so the per-episode code binds it once; the same slots as an
    array (of which the list is a prefix: it only shrinks) serve batches.
    """

    def __init__(self) -> None:
        self.queue: list[int] = []
        self._array: npt.NDArray[np.intp] = np.empty(0, dtype=np.intp)

    def draw(
        self,
        weights: npt.NDArray[np.float64],
        active: npt.NDArray[np.intp],
        rng: np.random.Generator,
        n: int,
        all_slots: npt.NDArray[np.intp] | None = None,
    ) -> None:
        """Pre-draw ``n`` of ``active`` independently in proportion to ``weights`` (valid, summing > 0).

        Sorted uniforms (normalised exponential spacings) make the CDF look-up a merge, and a
        shuffle then puts the draws in random order: the same distribution as unsorted
        uniforms at half the cost (random look-ups into a large CDF miss the cache).
        ``all_slots``: the pool's every-slot array; when ``active`` is it, positions are slots.
        """
        cdf = np.cumsum(weights)
        spacings = rng.standard_exponential(n + 1)
        np.cumsum(spacings, out=spacings)
        uniforms = spacings[:-1] * (cdf[-1] / spacings[-1])
        draws = np.searchsorted(cdf, uniforms, side="right")
        # A uniform equal to the total (a zero last spacing) must still land on a weighted slot.
        np.minimum(draws, np.searchsorted(cdf, cdf[-1], side="left"), out=draws)
        rng.shuffle(draws)
        self.set(draws if active is all_slots else active[draws])

    def set(self, slots: npt.NDArray[np.intp]) -> None:
        """Make ``slots`` the queue (handed out from the end)."""
        slots.flags.writeable = False  # batches hand out views of it
        self._array = slots
        self.queue[:] = slots.tolist()

    def clear(self) -> None:
        self.set(np.empty(0, dtype=np.intp))

    def take(self, k: int) -> npt.NDArray[np.intp]:
        """Remove and return the next ``k`` slots (``k`` <= the queue's length), in hand-out order."""
        left = len(self.queue)
        chunk = self._array[left - k : left][::-1]
        del self.queue[left - k :]
        return chunk
