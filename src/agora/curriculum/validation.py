"""Checks on what callers report: task ids, scores and priorities, one at a time or as a batch.

Everything is checked before anything is buffered or applied, so a bad entry raises naming
the value and leaves the curriculum unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "ID_LIMIT",
    "MAX_SCORE",
    "checked_count",
    "checked_priority",
    "checked_score",
    "checked_task_id",
    "priority_batch",
    "score_batch",
    "unknown_id",
]

MAX_SCORE = 1e15
"""Largest score magnitude accepted: sums of up to 2**32 scores per task stay far from overflow,
so statistics stay finite. Larger or non-finite scores raise ``ValueError``."""
ID_LIMIT = 2**63
"""Task ids are int64 in the pool: fresh ones below ``max_task_id`` (at most 2**62), mutated ones above."""
_PLURAL = {"score": "scores", "priority": "priorities"}
"""The values checked here, as error messages name them."""
_NUMBER_TYPES = {float, int, np.float64, np.float32, np.int64, np.int32}
"""Types of scores in a Python sequence that need no check one by one."""


def unknown_id(task_id: int) -> str:
    """The error message for an id that is neither in the pool nor recently evicted."""
    return f"unknown task id {task_id!r}: not in the pool and not recently evicted"


def checked_task_id(task_id: object) -> int:
    """``task_id`` as an int, or the error naming it (raised before anything is buffered or changed)."""
    if type(task_id) is not int:
        if isinstance(task_id, bool | np.bool_) or not isinstance(task_id, int | np.integer):
            raise TypeError(f"task ids are ints, got {task_id!r} ({type(task_id).__name__})")
        task_id = int(task_id)
    if not 0 <= task_id < ID_LIMIT:
        raise ValueError(unknown_id(task_id))
    return task_id


def checked_score(task_id: int, score: object, what: str = "score") -> float:
    """``score`` as a float: any number (not text, not a bool) of magnitude at most :data:`MAX_SCORE`.

    ``what`` names the value in the error ("score", "priority")."""
    if type(score) is not float:
        whats = _PLURAL[what]
        if isinstance(score, str | bytes | bytearray | bool | np.bool_):
            raise TypeError(
                f"{what} for task {task_id} is {score!r} ({type(score).__name__}): {whats} are numbers"
            )
        try:
            score = float(score)  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise TypeError(
                f"{what} for task {task_id} is {score!r} ({type(score).__name__}): {whats} are numbers"
            ) from None
    if not -MAX_SCORE <= score <= MAX_SCORE:  # also False for NaN
        raise ValueError(
            f"{what} for task {task_id} is {score!r}: {_PLURAL[what]} must be finite numbers of magnitude "
            f"<= {MAX_SCORE:g}"
        )
    return score


def checked_priority(task_id: int, priority: object) -> float:
    """A learner's priority score (see ``Curriculum.update_task_performance``), checked like a score."""
    return checked_score(task_id, priority, "priority")


def checked_count(k: object) -> int:
    """``k`` as a number of tasks to hand out, or the error naming it."""
    if isinstance(k, bool) or not isinstance(k, int | np.integer):
        raise TypeError(f"get_tasks takes a number of tasks (an int), got {k!r} ({type(k).__name__})")
    if k < 0:
        raise ValueError(f"cannot get {k} tasks")
    return int(k)


def score_batch(
    given_ids: Sequence[int] | npt.NDArray[np.integer[Any]], scores: Sequence[float] | npt.ArrayLike
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Ids and scores of a batch as arrays, or the error that names the first bad entry."""
    raw = np.asarray(given_ids)
    if raw.ndim != 1:
        raise ValueError(f"task ids must be a 1-D sequence, got shape {raw.shape}: {_short(raw)}")
    if raw.dtype.kind == "O" or (raw.dtype.kind not in "iu" and not isinstance(given_ids, np.ndarray)):
        # Python objects (e.g. an int beyond int64 made the list float or object): check each.
        items = raw.tolist() if isinstance(given_ids, np.ndarray) else list(given_ids)
        ids = np.asarray([checked_task_id(task_id) for task_id in items], dtype=np.int64)
    elif len(raw) and raw.dtype.kind not in "iu":
        raise TypeError(f"task ids must be integers, got {raw.dtype} values such as {raw[0]!r}")
    elif raw.dtype.kind == "u" and len(raw) and raw.max() >= ID_LIMIT:
        raise ValueError(unknown_id(int(raw.max())))
    else:
        ids = raw.astype(np.int64, copy=False)
    return ids, _checked_values(ids, scores, "score")


def priority_batch(
    ids: npt.NDArray[np.int64], priorities: Sequence[float] | npt.ArrayLike
) -> npt.NDArray[np.float64]:
    """The priorities of a batch whose ids :func:`score_batch` checked, as an array, or the error
    that names the first bad entry."""
    return _checked_values(ids, priorities, "priority")


def _checked_values(
    ids: npt.NDArray[np.int64], scores: Sequence[float] | npt.ArrayLike, what: str
) -> npt.NDArray[np.float64]:
    """One number per id (``what``: "score" or "priority"), checked as :func:`checked_score`."""
    given = np.asarray(scores)
    if given.ndim != 1:
        raise ValueError(
            f"{_PLURAL[what]} must be a 1-D sequence like the task ids, got shape {given.shape}: "
            f"{_short(given)}"
        )
    if len(given) != len(ids):
        raise ValueError(f"{len(ids)} task ids but {len(given)} {_PLURAL[what]}")
    # A Python sequence converts text to str arrays but bools silently to numbers: check its types.
    plain = not isinstance(scores, np.ndarray) and not {type(v) for v in scores} <= _NUMBER_TYPES  # type: ignore[union-attr]
    if given.dtype.kind not in "iuf" or plain:
        items = given.tolist() if isinstance(scores, np.ndarray) else list(scores)  # type: ignore[arg-type]
        for task_id, score in zip(ids.tolist(), items, strict=True):
            checked_score(task_id, score, what)  # raises for the first bad one
    values = given.astype(np.float64)
    bad = ~(np.abs(values) <= MAX_SCORE)
    if bad.any():
        first = int(np.argmax(bad))
        checked_score(int(ids[first]), float(values[first]), what)
    return values


def _short(array: npt.NDArray[Any]) -> str:
    text = np.array2string(array, threshold=8, max_line_width=200)
    return text if len(text) <= 200 else text[:200] + "..."
