"""Checkpoints: the curriculum state as JSON-ready data, its checks, its files, and a read-only view.

A state is a dict with ``format_version``, ``config`` (the ``CurriculumConfig`` as JSON),
``rng``, ``queue`` (pre-drawn slots), ``labels``, ``label_totals`` (per label, in the order of
``labels``: what evicted tasks left behind, see ``agora.curriculum.labels.LabelTotals``; absent
in older states, read as zeros), ``pool`` (one base64 blob per pool array, tables excepted),
``algorithm`` and ``slices``. Whatever runs a curriculum (the Ray actor, a trainer) can store
its own part under ``extensions`` (:func:`set_extension` / :func:`get_extension`); loading a
curriculum ignores it.

:func:`capture` builds a state, :func:`check_state` validates one against a pool without
changing anything (the curriculum applies the result), :func:`write_checkpoint` /
:func:`read_checkpoint` store it atomically with a checksum, and :class:`CheckpointView`
reads one without building a curriculum (``agora inspect``).
"""

from __future__ import annotations

import base64
import glob
import hashlib
import json
import os
import tempfile
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from agora.pool import HEADER, TaskPool

__all__ = [
    "CHECKPOINT_FORMAT",
    "CheckedState",
    "CheckpointError",
    "CheckpointView",
    "capture",
    "check_checkpoint_folder",
    "check_state",
    "decode_array",
    "defining_config",
    "get_extension",
    "label_totals",
    "read_checkpoint",
    "set_extension",
    "write_checkpoint",
]

CHECKPOINT_FORMAT = 1

EXTENSIONS = "extensions"
"""The state key under which callers keep their own parts, ``{name: JSON data}``."""

_REBUILT = frozenset({"table_keys", "table_slots"})
"""Pool arrays not stored: the id -> slot table is rebuilt from the ids on load."""

_DEPLOYMENT_FIELDS = ("config_cache_size", "use_shared_memory", "session_id", "shared_update_batch")
"""Config fields that say how a curriculum runs, not what it is: left out of the comparisons
behind checkpoint loading and joining a shared session."""

_SUPERSEDED_FIELDS = frozenset({"seed"})
"""Config fields whose effect a checkpoint replaces: the seed only starts the random stream,
and a checkpoint stores the stream's state. Differing only in them, a checkpoint loads with a
warning even when strict, as the seed system loaded them."""

_MOVED_FIELDS = ("max_slice_axes", "enable_detailed_slice_logging")
"""Fields of ``CurriculumConfig`` that older configs kept only on the algorithm config."""


class CheckpointError(ValueError):
    """A checkpoint could not be loaded; the curriculum was left unchanged."""


def defining_config(config: dict[str, Any]) -> dict[str, Any]:
    """A ``CurriculumConfig.model_dump(mode="json")`` without its deployment fields.

    The curriculum's knobs are compared once, at the top level, whether the dump is older (they
    were algorithm fields) or newer (the algorithm config mirrors them).
    """
    out = {k: v for k, v in config.items() if k not in _DEPLOYMENT_FIELDS}
    if out.get("mutation", 0) is None:
        del out["mutation"]  # off: as in configs dumped before mutation existed
    algorithm = out.get("algorithm_config")
    if isinstance(algorithm, dict):
        for name in _MOVED_FIELDS:
            if name in algorithm:
                out.setdefault(name, algorithm[name])
        knobs = _DEPLOYMENT_FIELDS + _MOVED_FIELDS
        out["algorithm_config"] = {k: v for k, v in algorithm.items() if k not in knobs}
    return out


# -- capture and restore ---------------------------------------------------------------------


def capture(
    *,
    config: dict[str, Any],
    rng: np.random.Generator,
    queue: Iterable[int],
    labels: list[str],
    label_totals: list[list[float]],
    pool: TaskPool,
    algorithm: Any,
    slices: Any,
) -> dict[str, Any]:
    """The state of a curriculum from its parts (``config``: its JSON dump)."""
    arrays = {
        spec.name: _encode(pool.backend.array(spec.name))
        for spec in pool.backend.layout
        if spec.name not in _REBUILT and spec.name not in pool.tables
    }
    return {
        "format_version": CHECKPOINT_FORMAT,
        "config": config,
        "rng": rng.bit_generator.state,
        "queue": list(queue),
        "labels": list(labels),
        "label_totals": label_totals,
        "pool": arrays,
        "algorithm": algorithm,
        "slices": slices,
    }


@dataclass(frozen=True)
class CheckedState:
    """A state that passed :func:`check_state`: decoded and consistent, ready to apply."""

    arrays: dict[str, npt.NDArray[Any]]
    rng: np.random.Generator
    queue: npt.NDArray[np.intp]
    labels: list[str]
    label_totals: npt.NDArray[np.float64]
    """One row per label (``LABEL_TOTALS`` columns), zeros for a state without them."""
    algorithm: Any
    slices: Any


def check_state(state: object, *, config: dict[str, Any], pool: TaskPool, strict: bool) -> CheckedState:
    """Validate ``state`` for a curriculum with JSON ``config`` over ``pool``; changes nothing.

    Raises :class:`CheckpointError` for a wrong format, a pool layout that differs, an
    inconsistent id map or free stack, label indices out of range or a queue of inactive
    slots; a config that differs is an error when ``strict``, else a warning.
    """
    if not isinstance(state, dict):
        raise CheckpointError(f"curriculum state must be a dict, got {type(state).__name__}")
    version = state.get("format_version")
    if type(version) is not int or version != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"unsupported checkpoint format_version {version!r} (expected {CHECKPOINT_FORMAT})"
        )
    # Deployment fields (shared or not, session, batching) may differ: resuming a shared run
    # under a new session, or a local checkpoint in a shared pool, is the same curriculum.
    mine, theirs = defining_config(config), defining_config(state["config"])
    if theirs != mine:
        diff = sorted(k for k in mine.keys() | theirs.keys() if mine.get(k) != theirs.get(k))
        message = f"checkpoint was saved with a different CurriculumConfig (differs in: {', '.join(diff)})"
        if strict and not set(diff) <= _SUPERSEDED_FIELDS:
            raise CheckpointError(message + "; pass strict=False to load it anyway")
        if set(diff) <= _SUPERSEDED_FIELDS:
            message += ", which the checkpoint's random state replaces: loading it"
        warnings.warn(message, stacklevel=5)  # the caller of Curriculum.load_state
    decoded = {}
    for spec in pool.backend.layout:
        if spec.name in _REBUILT or spec.name in pool.tables:
            continue
        if spec.name not in state["pool"]:
            raise CheckpointError(f"checkpoint has no pool array {spec.name!r}")
        array = decode_array(state["pool"][spec.name])
        target = pool.backend.array(spec.name)
        if array.shape != target.shape or array.dtype != target.dtype:
            raise CheckpointError(
                f"pool array {spec.name!r} is {array.dtype}{list(array.shape)} in the checkpoint but "
                f"{target.dtype}{list(target.shape)} here (pool size or algorithm layout differs)"
            )
        decoded[spec.name] = array
    rng = np.random.default_rng()
    rng.bit_generator.state = state["rng"]
    queue, labels = state["queue"], state["labels"]
    if not isinstance(labels, list) or not all(isinstance(label, str) for label in labels):
        raise CheckpointError("checkpoint labels must be a list of strings")
    _check_pool(decoded, queue, len(labels), pool.capacity)
    totals = label_totals(state, len(labels))
    return CheckedState(
        decoded,
        rng,
        np.asarray(queue, dtype=np.intp),
        labels,
        totals,
        state["algorithm"],
        state.get("slices"),
    )


def label_totals(state: dict[str, Any], num_labels: int) -> npt.NDArray[np.float64]:
    """A state's ``label_totals`` as a ``(num_labels, 4)`` array (zeros if it has none), checked."""
    from agora.curriculum.labels import LABEL_TOTALS

    data = state.get("label_totals")
    if data is None:
        return np.zeros((num_labels, len(LABEL_TOTALS)))
    score = LABEL_TOTALS.index("score_sum")  # every other column counts something: >= 0
    try:
        rows = np.asarray(data, dtype=np.float64).reshape(-1, len(LABEL_TOTALS))
        valid = bool(
            len(rows) == num_labels
            and np.isfinite(rows).all()
            and (np.delete(rows, score, axis=1) >= 0).all()
        )
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise CheckpointError(
            f"checkpoint label_totals must hold {len(LABEL_TOTALS)} finite numbers per label "
            f"({', '.join(LABEL_TOTALS)}) for its {num_labels} labels"
        )
    return rows


def _check_pool(arrays: dict[str, npt.NDArray[Any]], queue: object, num_labels: int, capacity: int) -> None:
    """A checkpoint's pool and queue must be consistent before any of it is applied."""
    ids = arrays["ids"]
    active = ids[ids >= 0]
    unique, counts = np.unique(active, return_counts=True)
    if (counts > 1).any():
        raise CheckpointError(f"checkpoint pool holds task id {int(unique[counts > 1][0])} more than once")
    num_free = int(arrays["header"][HEADER.index("num_free")])
    empty = np.flatnonzero(ids < 0)
    if num_free != len(empty) or not np.array_equal(np.sort(arrays["free"][:num_free]), empty):
        raise CheckpointError("checkpoint pool's free-slot stack does not match its task ids")
    labels = arrays["label"]
    if len(labels) and (labels.min() < -1 or labels.max() >= num_labels):
        raise CheckpointError(f"checkpoint pool has label indices outside its {num_labels} labels")
    if not isinstance(queue, list) or not all(type(slot) is int for slot in queue):
        raise CheckpointError("checkpoint queue must be a list of slot numbers")
    bad = [slot for slot in queue if not 0 <= slot < capacity or ids[slot] < 0]
    if bad:
        raise CheckpointError(
            f"checkpoint queue holds slot {bad[0]}, not an active slot of this pool of {capacity}"
        )


# -- extensions --------------------------------------------------------------------------------


def set_extension(state: dict[str, Any], name: str, data: Any) -> None:
    """Store ``data`` (JSON-ready) as part ``name`` of ``state``'s extensions."""
    state.setdefault(EXTENSIONS, {})[name] = data


def get_extension(state: dict[str, Any], name: str) -> Any:
    """Part ``name`` of ``state``'s extensions, or None.

    Checkpoints written before extensions had their own key kept such a part at the top level
    (the Ray actor's ``distributed``); it is read from there too.
    """
    extensions = state.get(EXTENSIONS)
    if isinstance(extensions, dict) and name in extensions:
        return extensions[name]
    return state.get(name)


# -- files -----------------------------------------------------------------------------------


def check_checkpoint_folder(path: str | os.PathLike[str]) -> None:
    """Raise ``FileNotFoundError`` naming the folder if ``path``'s folder does not exist.

    Checked before writing, so the error names the folder rather than the temporary file.
    """
    folder = Path(path).absolute().parent
    if not folder.is_dir():
        problem = "is not a folder" if folder.exists() else "does not exist"
        raise FileNotFoundError(f"cannot save checkpoint {path}: the folder {folder} {problem}")


def write_checkpoint(path: str | os.PathLike[str], state: dict[str, Any]) -> None:
    """Write a :meth:`Curriculum.get_state` (extra keys allowed) atomically, with a checksum."""
    check_checkpoint_folder(path)
    payload = json.dumps(state, sort_keys=True)
    document = json.dumps(
        {"agora_checkpoint": CHECKPOINT_FORMAT, "sha256": _sha256(payload), "state": state}, sort_keys=True
    )
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.{os.getpid()}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(document)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # make the rename itself durable
        finally:
            os.close(directory)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _remove_stale_temp_files(target)


def _remove_stale_temp_files(target: Path) -> None:
    """Remove temp files of ``target`` left by writers killed mid-save (named ``.<name>.<pid>.*.tmp``).

    A file whose writer is still running (another process saving the same path) is kept; so
    is this process's own (another thread may be saving).
    """
    prefix = f".{target.name}."
    for candidate in target.parent.glob(f"{glob.escape(prefix)}*.tmp"):
        pid_text = candidate.name[len(prefix) :].split(".", 1)[0]
        pid = int(pid_text) if pid_text.isdigit() else None
        if pid == os.getpid() or (pid is not None and _process_alive(pid)):
            continue
        candidate.unlink(missing_ok=True)


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process
        return True
    return True


def read_checkpoint(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and verify a checkpoint file; returns the curriculum state inside it."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise CheckpointError(f"{path} is not an agora checkpoint (not UTF-8 text)") from exc
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise CheckpointError(f"{path} is truncated or not JSON ({exc.msg} at char {exc.pos})") from exc
    if not isinstance(document, dict) or "agora_checkpoint" not in document:
        raise CheckpointError(f"{path} is not an agora checkpoint")
    marker = document["agora_checkpoint"]
    if type(marker) is not int or marker != CHECKPOINT_FORMAT:
        raise CheckpointError(
            f"{path} has checkpoint format {marker!r}; this agora reads format {CHECKPOINT_FORMAT}"
        )
    state = document.get("state")
    if _sha256(json.dumps(state, sort_keys=True)) != document.get("sha256"):
        raise CheckpointError(f"{path} is corrupted: its checksum does not match its contents")
    if not isinstance(state, dict):
        raise CheckpointError(f"{path} holds no curriculum state")
    return state


# -- a read-only view ------------------------------------------------------------------------


class CheckpointView:
    """A checkpoint's pool, labels and config as read-only arrays, without building a curriculum.

    Needs none of the config's classes to be importable, so a checkpoint can be looked at
    anywhere (``agora inspect``). Raises :class:`CheckpointError` if ``state`` lacks what a
    checkpoint has.
    """

    def __init__(self, state: dict[str, Any], source: str | os.PathLike[str] = "the state") -> None:
        try:
            self.columns = {name: decode_array(blob) for name, blob in state["pool"].items()}
            self.header: dict[str, int] = dict(zip(HEADER, self.columns["header"].tolist(), strict=True))
            self.ids = self.columns["ids"]
            self.labels: list[str] = [str(label) for label in state["labels"]]
            self.label_totals = label_totals(state, len(self.labels))
            """Per label, what evicted tasks left behind (``LABEL_TOTALS`` columns)."""
            self.config: dict[str, Any] = dict(state["config"])
            missing = sorted({"completions", "score_sum", "label"} - self.columns.keys())
            if missing:
                raise KeyError(f"no pool array {missing[0]!r}")
        except (KeyError, TypeError, ValueError) as exc:
            raise CheckpointError(
                f"{source} is not a valid curriculum state ({type(exc).__name__}: {exc})"
            ) from exc
        self.active = np.flatnonzero(self.ids != -1)
        """Slots that hold a task."""

    @classmethod
    def read(cls, path: str | os.PathLike[str]) -> CheckpointView:
        """The view of checkpoint file ``path`` (verified as :func:`read_checkpoint` does)."""
        return cls(read_checkpoint(path), path)

    @property
    def algorithm_type(self) -> str:
        """The ``type`` of the saved algorithm config, or ``"?"``."""
        algorithm = self.config.get("algorithm_config")
        return str(algorithm.get("type", "?")) if isinstance(algorithm, dict) else "?"

    def active_column(self, name: str) -> npt.NDArray[Any]:
        """Pool column ``name`` at the active slots (``KeyError`` if the layout has no such column)."""
        return self.columns[name][self.active]


def _sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _encode(array: npt.NDArray[Any]) -> dict[str, Any]:
    return {
        "dtype": array.dtype.str,
        "shape": list(array.shape),
        "data": base64.b64encode(array.tobytes()).decode(),
    }


def decode_array(blob: dict[str, Any]) -> npt.NDArray[Any]:
    """A pool array from a checkpoint's ``state["pool"][name]`` (read-only)."""
    raw = base64.b64decode(blob["data"], validate=True)
    return np.frombuffer(raw, dtype=np.dtype(blob["dtype"])).reshape(blob["shape"])
