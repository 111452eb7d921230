"""The task-config abstraction: anything that behaves like a pydantic v2 model.

agora never looks inside a task config except through dotted override paths, so a
config only needs to copy, dump and validate itself. Any ``pydantic.BaseModel`` fits.
"""

from __future__ import annotations

import importlib
import warnings
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel, Field

__all__ = ["TConfig", "TaskConfig", "apply_overrides", "import_path", "load_symbol"]


@runtime_checkable
class TaskConfig(Protocol):
    """What agora needs from an environment config (pydantic v2 models satisfy it)."""

    def model_copy(self, *, update: dict[str, Any] | None = None, deep: bool = False) -> Self: ...

    def model_dump(self, **kwargs: Any) -> dict[str, Any]: ...

    @classmethod
    def model_validate(cls, obj: Any, **kwargs: Any) -> Self: ...


TConfig = TypeVar("TConfig", bound=BaseModel)


def import_path(obj: type) -> str:
    """The ``module.QualName`` string that :func:`load_symbol` turns back into ``obj``."""
    return f"{obj.__module__}.{obj.__qualname__}"


def load_symbol(path: str) -> Any:
    """Import ``package.module.Name`` (nested qualnames such as ``Gen.Config`` allowed).

    Metta's ``metta.cogworks.curriculum...`` paths, found in configs saved by the seed
    system, load agora's class in their place with a ``DeprecationWarning``.
    """
    if path.startswith("metta.cogworks.curriculum."):
        path = _agora_path(path)
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        module = ".".join(parts[:split])
        try:
            obj: Any = importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name is None or not f"{module}.".startswith(f"{exc.name}."):
                raise  # the module exists but fails to import: show the real cause
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ImportError(f"cannot import {path!r}: no importable module/attribute with that path")


def _agora_path(path: str) -> str:
    from agora.migrate.names import new_path

    new = new_path(path)
    if new is None:
        raise ImportError(
            f"cannot import {path!r}: Metta's curriculum module had it, agora has no equivalent"
        )
    warnings.warn(
        f"{path!r} is a metta.cogworks.curriculum path: loading agora's {new!r} instead "
        "(save the config again, or run `agora migrate` on it, to store the new path)",
        DeprecationWarning,
        stacklevel=3,
    )
    return new


def apply_overrides(config: TConfig, overrides: dict[str, Any]) -> TConfig:
    """Return a validated copy of ``config`` with dotted-path values replaced.

    Paths walk nested models, dicts and lists (``"game.agent.rewards.heart"``,
    ``"reward.weights.0"``: a list is indexed by a non-negative integer segment). Every
    segment must name an existing model field, dict key or list index, except that the last
    one may add a key to a dict; anything else raises ``KeyError`` naming the full path, so
    typos fail loudly. Each model on the path is re-validated with the new value (a value of
    the wrong type is a pydantic ``ValidationError``; model validators run again).

    Models off the path are kept as they are rather than dumped and re-validated: a dump
    loses the concrete class of a field typed as a union of models without a discriminator
    (MettaGrid's reward expressions, for one), and re-validating would pick another class.
    The result therefore shares those sub-models with ``config``; generators pass a fresh
    config, so tasks never share mutable state.
    """
    for path, value in overrides.items():
        config = _replace(config, path.split("."), 0, value, path)
    return config


def _replace(node: Any, keys: list[str], depth: int, value: Any, path: str) -> Any:
    """``node`` with ``keys[depth:]`` set to ``value``: new containers along the path only."""
    key = keys[depth]
    last = depth == len(keys) - 1
    if isinstance(node, BaseModel) and key in type(node).model_fields:
        child = value if last else _replace(getattr(node, key), keys, depth + 1, value, path)
        fields = type(node).model_fields
        data = {(info.alias or name): getattr(node, name) for name, info in fields.items()}
        data.update(node.model_extra or {})
        data[fields[key].alias or key] = child
        return type(node).model_validate(data)
    if isinstance(node, dict) and (key in node or last):
        return {**node, key: value if last else _replace(node[key], keys, depth + 1, value, path)}
    if isinstance(node, list) and key.isdigit() and int(key) < len(node):
        items = list(node)
        index = int(key)
        items[index] = value if last else _replace(items[index], keys, depth + 1, value, path)
        return items
    where = ".".join(keys[:depth]) or "the config root"
    raise KeyError(f"override path {path!r} does not exist: no field {key!r} in {where}")


class CurriculumKnobs(BaseModel):
    """How a curriculum's pool is shared and what its statistics report.

    Fields of :class:`~agora.CurriculumConfig`, which algorithm configs accept too (the seed
    system and older configs set them there); ``CurriculumConfig`` takes them over.
    """

    use_shared_memory: bool = Field(
        default=False, description="Keep the pool in shared memory so that processes share one curriculum."
    )
    session_id: str | None = Field(
        default=None, description="Name of the shared pool; processes with the same id share it."
    )
    shared_update_batch: int = Field(
        default=256,
        gt=0,
        description="Scores a process buffers before applying them to the shared pool under its lock "
        "(amortises the lock; others see a process's scores at most this many episodes late).",
    )
    max_slice_axes: int = Field(default=3, ge=0, description="Bucket axes analysed by the SliceAnalyzer.")
    enable_detailed_slice_logging: bool = Field(
        default=False, description="Add per-bucket-entry counts and mean scores to stats()."
    )
