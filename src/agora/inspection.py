"""What a checkpoint says about its pool, as data: ``agora inspect`` (table or ``--json``) and the
checkpoint section of ``agora report``.

Works without building the curriculum. Sampling probabilities come from the saved algorithm
state over a pool rebuilt from the saved arrays, so only the algorithm config's class must be
importable (agora's own always are). Labels and bucket values come from regenerating the top
tasks; an env config class that cannot be imported here (e.g. defined in the training script's
``__main__``) is replaced by a stand-in, since drawing bucket values never builds a config. If
a generator class itself cannot be imported, bucket values come from the tasks' slice bins and
the bucket axes the checkpoint stores with its slice statistics.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, TypeAdapter

from agora._table import format_table
from agora.checkpoint import CheckpointView, check_state
from agora.config import import_path, load_symbol
from agora.curriculum.labels import LABEL_TOTALS
from agora.curriculum.stat_loggers import entry_from_state
from agora.generators.values import Span

__all__ = ["format_summary", "summarize"]


class _StandInEnv(BaseModel):
    """Takes the place of an env config class that is not importable here; never built into a task."""

    model_config = ConfigDict(extra="allow")


def summarize(state: dict[str, Any], source: str, top: int) -> dict[str, Any]:
    """A JSON-ready summary of checkpoint ``state``: counters, the ``top`` tasks by sampling
    probability, labels (share of active tasks and of their episodes) and bucket entries
    (episodes including evicted tasks). ``CheckpointError`` if it is not a curriculum state."""
    view = CheckpointView(state, source)
    completions = view.active_column("completions").astype(np.float64)
    score_sum = view.active_column("score_sum")
    means = np.divide(score_sum, completions, out=np.zeros_like(score_sum), where=completions > 0)
    lp = view.active_column("lp_score").astype(np.float64) if "lp_score" in view.columns else None
    probabilities, notes = _probabilities(view, state)
    if probabilities is not None:
        key, order_by = "sampling probability", probabilities
    elif lp is not None:
        key, order_by = "lp_score", lp
    else:
        key, order_by = "mean score", means
    generator, problem = _generator(view.config)
    saved = _saved_axes(state)
    axes = saved if saved is not None else generator.bucket_axes() if generator is not None else {}
    if problem and saved:
        notes.append(
            "bucket values from the checkpoint's bucket bins (a Span shows its range), as the "
            f"generator cannot be rebuilt here: {problem}"
        )
    elif problem:
        notes.append(f"labels from the pool; bucket values unavailable: {problem}")
    label_ids = view.active_column("label")
    tasks = []
    for i in np.argsort(-order_by, kind="stable")[:top].tolist():
        task_id = int(view.ids[view.active[i]])
        if generator is not None:
            buckets = dict(generator.generate(task_id).bucket_values)
        else:
            buckets = _binned_values(view, axes, int(view.active[i]))
        tasks.append(
            {
                "task_id": task_id,
                "sampling_probability": None if probabilities is None else float(probabilities[i]),
                "lp_score": None if lp is None else float(lp[i]),
                "completions": int(completions[i]),
                "mean_score": float(means[i]),
                "label": view.labels[label_ids[i]] if 0 <= label_ids[i] < len(view.labels) else None,
                "buckets": buckets,
            }
        )
    header = view.header
    pool_episodes = float(completions.sum())
    summary: dict[str, Any] = {
        "checkpoint": source,
        "algorithm": view.algorithm_type,
        "active_tasks": len(view.active),
        "slots": len(view.ids),
        "counters": {
            name: int(header[name])
            for name in ("num_completed", "num_scheduled", "num_created", "num_evicted", "num_stale")
        },
        "sorted_by": key,
        "top": tasks,
        "labels": _labels(view, label_ids, completions),
        "episodes_of_active_tasks": int(pool_episodes),
        "buckets": _buckets(view, state, axes, completions),
        "notes": notes,
    }
    return summary


def _labels(
    view: CheckpointView, label_ids: npt.NDArray[Any], completions: npt.NDArray[np.float64]
) -> dict[str, dict[str, float]]:
    """Per label: active tasks and their share, evicted tasks, and episodes (evicted tasks'
    included) with their share of all episodes."""
    if not view.labels:
        return {}
    known = label_ids >= 0
    tasks = np.bincount(label_ids[known], minlength=len(view.labels))
    live = np.bincount(label_ids[known], weights=completions[known], minlength=len(view.labels))
    retired = view.label_totals
    episodes = live + retired[:, LABEL_TOTALS.index("num_completed")]
    evicted = retired[:, LABEL_TOTALS.index("num_evicted")]
    total = max(float(view.header["num_completed"]), 1.0)
    return {
        label: {
            "active_tasks": int(tasks[j]),
            "task_share": float(tasks[j] / max(len(view.active), 1)),
            "evicted_tasks": int(evicted[j]),
            "episodes": int(episodes[j]),
            "episode_share": float(episodes[j] / total),
        }
        for j, label in enumerate(view.labels)
    }


def _saved_axes(state: dict[str, Any]) -> dict[str, list[Any]] | None:
    """The analysed bucket axes stored with the slice statistics (None in older checkpoints)."""
    slices = state.get("slices")
    saved = slices.get("axes") if isinstance(slices, dict) else None
    if not isinstance(saved, dict):
        return None
    return {str(path): [entry_from_state(e) for e in entries] for path, entries in saved.items()}


def _binned_values(view: CheckpointView, axes: dict[str, list[Any]], slot: int) -> dict[str, Any]:
    """A task's bucket entry on each analysed axis, from its slice bins (0: not on that axis)."""
    out = {}
    for i, (path, entries) in enumerate(axes.items()):
        column = view.columns.get(f"slice_{i}")
        index = int(column[slot]) if column is not None else 0
        if 0 < index <= len(entries):
            entry = entries[index - 1]
            out[path] = str(entry) if isinstance(entry, Span) else entry
    return out


def _buckets(
    view: CheckpointView,
    state: dict[str, Any],
    axes: dict[str, list[Any]],
    completions: npt.NDArray[np.float64],
) -> dict[str, dict[str, int]]:
    """Episodes per bucket entry on each analysed axis, evicted tasks included (from the slice
    statistics: live tasks' pool columns plus what evicted tasks left behind)."""
    slices = state.get("slices")
    if not isinstance(slices, dict):
        return {}
    out = {}
    for i, (path, retired) in enumerate(slices.get("retired_counts", {}).items()):
        column = f"slice_{i}"
        entries = axes.get(path)
        if entries is None or column not in view.columns or len(retired) != len(entries) + 1:
            continue
        live = np.bincount(view.active_column(column), weights=completions, minlength=len(retired))
        total = live + np.asarray(retired, dtype=np.float64)
        out[path] = {str(entry): int(count) for entry, count in zip(entries, total[1:], strict=True)}
    return out


def _probabilities(
    view: CheckpointView, state: dict[str, Any]
) -> tuple[npt.NDArray[np.float64] | None, list[str]]:
    """Each active task's sampling probability, from the saved algorithm over the saved pool."""
    from agora.algorithms import AnyAlgorithmConfig
    from agora.curriculum.stat_loggers import SliceAnalyzer
    from agora.pool import TaskPool

    try:
        config = TypeAdapter(AnyAlgorithmConfig).validate_python(view.config["algorithm_config"])
        axes = sum(name.startswith("slice_") for name in view.columns)
        pool = TaskPool(len(view.ids), (*config.pool_fields(), *SliceAnalyzer.fields(axes)))
        checked = check_state(state, config=state["config"], pool=pool, strict=True)
        for name, array in checked.arrays.items():
            pool.backend.array(name)[:] = array
        pool.rebuild_table()
        algorithm = config.create(pool)
        algorithm.load_state(checked.algorithm)
        weights = np.asarray(algorithm.weights(pool.active_slots()), dtype=np.float64)
    except Exception as exc:  # e.g. a user's algorithm class not importable here
        return None, [f"sampling probabilities unavailable: {type(exc).__name__}: {exc}".splitlines()[0]]
    total = weights.sum()
    if not total > 0:  # the curriculum samples uniformly then
        return np.full(len(weights), 1.0 / max(len(weights), 1)), []
    return weights / total, []


def _generator(config_data: dict[str, Any]) -> tuple[Any, str]:
    """The task generator of a saved config, or None and why (its classes may not be importable)."""
    from agora.generators.base import AnyTaskGeneratorConfig

    adapter: TypeAdapter[Any] = TypeAdapter(AnyTaskGeneratorConfig)
    data = config_data.get("task_generator")
    try:
        return adapter.validate_python(data).create(), ""
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}".splitlines()[0]
    standing_in = copy.deepcopy(data)
    if not _stand_in_env_types(standing_in):
        return None, problem
    try:
        return adapter.validate_python(standing_in).create(), ""
    except Exception:  # a generator class itself is missing: report the first cause
        return None, problem


def _stand_in_env_types(node: Any) -> bool:
    """Point every ``env_type`` that cannot be imported here at :class:`_StandInEnv`; any changed?"""
    changed = False
    if isinstance(node, dict):
        env_type = node.get("env_type")
        if isinstance(env_type, str) and isinstance(node.get("env"), dict):
            try:
                load_symbol(env_type)
            except (ImportError, AttributeError):
                node["env_type"] = import_path(_StandInEnv)
                changed = True
        for value in node.values():
            changed |= _stand_in_env_types(value)
    elif isinstance(node, list):
        for value in node:
            changed |= _stand_in_env_types(value)
    return changed


def format_summary(summary: dict[str, Any]) -> str:
    """The text ``agora inspect`` prints for a :func:`summarize` result."""
    counters = summary["counters"]
    lines = [
        f"checkpoint {summary['checkpoint']}",
        f"algorithm {summary['algorithm']}, "
        f"pool {summary['active_tasks']:,} active of {summary['slots']:,} slots",
        f"completions {counters['num_completed']:,}, scheduled {counters['num_scheduled']:,}, "
        f"tasks created {counters['num_created']:,}, evicted {counters['num_evicted']:,}, "
        f"stale updates {counters['num_stale']:,}",
        "",
        f"top {len(summary['top'])} tasks by {summary['sorted_by']}:",
    ]
    rows = [
        [
            str(task["task_id"]),
            _number(task["sampling_probability"]),
            _number(task["lp_score"]),
            task["completions"],
            task["mean_score"],
            task["label"] or "",
            ", ".join(f"{k}={v}" for k, v in task["buckets"].items()),
        ]
        for task in summary["top"]
    ]
    columns = ["task id", "sampling p", "lp_score", "completions", "mean score", "label", "bucket values"]
    lines.append(format_table(columns, rows))
    if summary["labels"]:
        unattributed = counters["num_completed"] - sum(s["episodes"] for s in summary["labels"].values())
        lines += ["", "labels (episodes: evicted tasks included):"]
        label_rows = [
            [label, s["active_tasks"], s["task_share"], s["evicted_tasks"], s["episodes"], s["episode_share"]]
            for label, s in summary["labels"].items()
        ]
        columns = ["label", "active tasks", "share", "evicted tasks", "episodes", "episode share"]
        lines.append(format_table(columns, label_rows))
        if unattributed > 0:
            lines.append(
                f"({unattributed:,} episodes have no label: unlabelled tasks, or a checkpoint older "
                "than per-label totals)"
            )
    for path, counts in summary["buckets"].items():
        total = max(sum(counts.values()), 1)
        lines += ["", f"bucket {path} (episodes, evicted tasks included):"]
        lines.append(
            format_table(["value", "episodes", "share"], [[v, n, n / total] for v, n in counts.items()])
        )
    lines += [f"({note})" for note in summary["notes"]]
    return "\n".join(lines)


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:.4g}"
