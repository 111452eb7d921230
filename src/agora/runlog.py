"""A run log: what the curriculum did during training, appended to a JSON-lines file.

Call :meth:`RunLog.episode` after every completed episode (the wrappers do, given
``run_log=``). It counts the episode under its label and bucket values, which is a few dict
updates, and every ``every`` episodes appends one ``episodes`` record: those counts and score
sums since the previous record (so evicted tasks count too), a histogram of the values drawn
from each continuous ``Span`` bucket, and ``curriculum.stats()``. Every ``pool_every``
episodes it also appends a ``pool`` record: the top tasks by sampling probability with their
labels and bucket values, and histograms of learning progress and per-task success.
``agora report`` turns the file into figures.

Each record is one ``write`` to a file opened for appending, so the processes of a vectorised
env can share one log: every record names its process (``pid``), and a copy of a ``RunLog``
sent to another process (pickled) starts counting from zero there.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np

from agora.generators.values import Span
from agora.handles import CurriculumLike, TaskHandle

__all__ = ["RUN_LOG_FORMAT", "RunLog"]

RUN_LOG_FORMAT = 1

_Counts = dict[Any, list[float]]
"""key -> [episodes, score sum]."""


class RunLog:
    """Appends curriculum statistics to ``path`` every ``every`` episodes (see the module doc).

    Args:
        path: the JSON-lines file (created, or appended to).
        every: episodes of this process between ``episodes`` records.
        pool_every: episodes between ``pool`` records (default ``10 * every``); 0 turns them off.
        top: tasks listed in a ``pool`` record.
        bins: histogram bins (per ``Span``, and for learning progress and success).
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        every: int = 1000,
        pool_every: int | None = None,
        top: int = 20,
        bins: int = 20,
    ) -> None:
        for name, value in (("every", every), ("top", top), ("bins", bins)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"RunLog {name} must be a positive int, got {value!r}")
        pool_every = 10 * every if pool_every is None else pool_every
        if isinstance(pool_every, bool) or not isinstance(pool_every, int) or pool_every < 0:
            raise ValueError(f"RunLog pool_every must be a non-negative int, got {pool_every!r}")
        self.path = Path(path)
        if self.path.is_dir():
            raise IsADirectoryError(f"RunLog path {self.path} is a folder; give a file name")
        if not self.path.parent.is_dir():  # fail now, not at the first record deep in training
            raise FileNotFoundError(f"RunLog folder {self.path.parent} does not exist; create it first")
        self.every, self.pool_every, self.top, self.bins = every, pool_every, top, bins
        self._reset()

    def _reset(self) -> None:
        self.num_episodes = 0
        """Episodes this process has counted."""
        self._pending = 0
        self._next_pool = self.pool_every
        self._labels: _Counts = {}
        self._buckets: dict[str, _Counts] = {}
        self._spans: dict[str, list[_SpanBins]] | None = None  # path -> a histogram per Span
        self._started = False

    def __getstate__(self) -> dict[str, Any]:
        keys = ("path", "every", "pool_every", "top", "bins")
        return {key: self.__dict__[key] for key in keys}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._reset()

    # -- per episode ----------------------------------------------------------------------

    def episode(self, curriculum: CurriculumLike[Any], task: TaskHandle[Any] | int, score: float) -> None:
        """Count one completed episode of ``task`` (a handle or a task id) with ``score``."""
        score = float(score)
        generated = curriculum.generated(task if isinstance(task, int) else task.task_id)
        if self._spans is None:
            self._spans = _span_axes(curriculum.task_generator.bucket_axes(), self.bins)
        _count(self._labels, generated.label, score)
        buckets = self._buckets
        for path, value in generated.bucket_values.items():
            spans = self._spans.get(path)
            key = value
            if spans is not None and isinstance(value, (int, float)):
                for bins in spans:
                    if bins.low <= value <= bins.high:
                        bins.add(value)
                        key = bins.key
                        break
            counts = buckets.get(path)
            if counts is None:
                counts = buckets[path] = {}
            _count(counts, key, score)
        self.num_episodes += 1
        self._pending += 1
        if self._pending >= self.every:
            self.record(curriculum, pool=self.pool_every > 0 and self.num_episodes >= self._next_pool)

    # -- records --------------------------------------------------------------------------

    def record(self, curriculum: CurriculumLike[Any], *, pool: bool = True) -> None:
        """Append an ``episodes`` record now (and a ``pool`` record if ``pool``), e.g. at the end of a run."""
        if not self._started:
            self._write({"kind": "start", "format": RUN_LOG_FORMAT, **self._header(curriculum)})
            self._started = True
        if self._spans is None:
            self._spans = _span_axes(curriculum.task_generator.bucket_axes(), self.bins)
        self._write(
            {
                "kind": "episodes",
                "episodes": self._pending,
                "total": self.num_episodes,
                "labels": {_key(k): v for k, v in self._labels.items()},
                "buckets": {p: {_key(k): v for k, v in c.items()} for p, c in self._buckets.items()},
                "spans": {p: [bins.counts for bins in spans] for p, spans in self._spans.items()},
                "stats": curriculum.stats(),
            }
        )
        self._pending = 0
        self._labels, self._buckets = {}, {}
        for spans in self._spans.values():
            for bins in spans:
                bins.counts = [0] * len(bins.counts)
        if pool:
            summary = pool_summary(curriculum, self.top, self.bins)
            if summary is not None:
                self._write({"kind": "pool", "total": self.num_episodes, **summary})
            if self.pool_every:
                self._next_pool = (self.num_episodes // self.pool_every + 1) * self.pool_every

    def flush(self, curriculum: CurriculumLike[Any]) -> None:
        """Record the episodes counted since the last record, if any (wrappers call this on close);
        with a pool record unless ``pool_every`` is 0."""
        if self._pending:
            self.record(curriculum, pool=self.pool_every > 0)

    def _header(self, curriculum: CurriculumLike[Any]) -> dict[str, Any]:
        try:  # not agora.__version__: the package imports this module
            agora_version = version("agora-rl")
        except PackageNotFoundError:
            agora_version = "0.0.0+unknown"
        spans = _span_axes(curriculum.task_generator.bucket_axes(), self.bins)
        return {
            "agora_version": agora_version,
            "every": self.every,
            "spans": {path: [[b.low, b.high, len(b.counts)] for b in e] for path, e in spans.items()},
        }

    def _write(self, record: dict[str, Any]) -> None:
        record = {"kind": record.pop("kind"), "time": time.time(), "pid": os.getpid(), **record}
        data = (json.dumps(record, default=str) + "\n").encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
        finally:
            os.close(fd)


def pool_summary(curriculum: CurriculumLike[Any], top: int, bins: int) -> dict[str, Any] | None:
    """Top tasks by sampling probability and the pool's LP / success histograms (None without a
    local view of the pool, e.g. a Ray client)."""
    probabilities = getattr(curriculum, "sampling_probabilities", None)
    get_state = getattr(curriculum, "get_state", None)
    if probabilities is None or get_state is None:
        return None
    from agora.checkpoint import CheckpointView

    view = CheckpointView(get_state())
    by_id = probabilities()
    ids = view.ids[view.active]
    completions = view.active_column("completions").astype(np.float64)
    score_sum = view.active_column("score_sum")
    label_ids = view.active_column("label")
    p = np.fromiter((by_id.get(int(t), 0.0) for t in ids), dtype=np.float64, count=len(ids))
    played = completions > 0
    success = score_sum[played] / completions[played]
    order = np.argsort(-p, kind="stable")[:top]
    tasks = []
    for i in order.tolist():
        task_id = int(ids[i])
        generated = curriculum.generated(task_id)
        tasks.append(
            {
                "task_id": task_id,
                "p": float(p[i]),
                "label": generated.label,
                "buckets": generated.bucket_values,
                "completions": int(completions[i]),
                "mean_score": float(score_sum[i] / completions[i]) if completions[i] else None,
            }
        )
    out: dict[str, Any] = {"num_active": len(ids), "top": tasks, "success": _histogram(success, bins, 0, 1)}
    if "lp_score" in view.columns:
        out["lp"] = _histogram(view.active_column("lp_score").astype(np.float64), bins, 0, None)
    if view.labels:
        counts = np.bincount(label_ids[label_ids >= 0], minlength=len(view.labels))
        out["pool_labels"] = dict(zip(view.labels, counts.tolist(), strict=True))
    return out


def _histogram(values: np.ndarray[Any, Any], bins: int, low: float, high: float | None) -> dict[str, Any]:
    """Counts and edges over [min(low, values), max(high, values)]."""
    finite = values[np.isfinite(values)]
    lo = min(low, float(finite.min())) if len(finite) else low
    hi = max(high if high is not None else lo, float(finite.max()) if len(finite) else lo)
    if hi <= lo:
        hi = lo + 1.0
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi))
    return {"counts": counts.tolist(), "edges": edges.tolist()}


class _SpanBins:
    """The histogram of the values drawn from one ``Span`` (an int Span: one bin per int, at most
    ``bins``)."""

    __slots__ = ("_scale", "_top", "counts", "high", "key", "low")

    def __init__(self, span: Span, bins: int) -> None:
        self.low, self.high, self.key = span.range_min, span.range_max, str(span)
        integer = isinstance(self.low, int) and isinstance(self.high, int)
        self.counts = [0] * (min(bins, int(self.high) - int(self.low) + 1) if integer else bins)
        self._top = len(self.counts) - 1
        width = (
            float(self.high) - float(self.low) + (1.0 if integer else 0.0)
        )  # ints lo..hi fill [lo, hi + 1)
        self._scale = len(self.counts) / width

    def add(self, value: float) -> None:
        self.counts[min(int((value - self.low) * self._scale), self._top)] += 1


def _span_axes(axes: Mapping[str, list[Any]], bins: int) -> dict[str, list[_SpanBins]]:
    """Per bucket path that has Spans: a zeroed histogram per Span."""
    out = {}
    for path, entries in axes.items():
        spans = [_SpanBins(entry, bins) for entry in entries if isinstance(entry, Span)]
        if spans:
            out[path] = spans
    return out


def _count(counts: _Counts, key: Any, score: float) -> None:
    entry = counts.get(key)
    if entry is None:
        counts[key] = [1, score]
    else:
        entry[0] += 1
        entry[1] += score


def _key(key: Any) -> str:
    return "" if key is None else str(key)
