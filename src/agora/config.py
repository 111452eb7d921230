"""The task-config abstraction: anything that behaves like a pydantic v2 model.

agora never looks inside a task config except through dotted override paths, so a
config only needs to copy, dump and validate itself. Any ``pydantic.BaseModel`` fits.
"""

from __future__ import annotations

import importlib
from typing import Any, Protocol, Self, TypeVar, runtime_checkable

from pydantic import BaseModel

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
    """Import ``package.module.Name`` (nested qualnames such as ``Gen.Config`` allowed)."""
    parts = path.split(".")
    for split in range(len(parts) - 1, 0, -1):
        try:
            obj: Any = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        try:
            for attr in parts[split:]:
                obj = getattr(obj, attr)
        except AttributeError:
            break
        return obj
    raise ImportError(f"cannot import {path!r}: no importable module/attribute with that path")


def apply_overrides(config: TConfig, overrides: dict[str, Any]) -> TConfig:
    """Return a validated copy of ``config`` with dotted-path values replaced.

    Paths walk nested models, dicts and lists (``"game.agent.rewards.heart"``,
    ``"reward.weights.0"``: a list is indexed by a non-negative integer segment). Every
    segment must name an existing model field, dict key or list index, except that the last
    one may add a key to a dict; anything else raises ``KeyError`` naming the full path, so
    typos fail loudly. The result is re-validated, so a value of the wrong type is a pydantic
    ``ValidationError``.
    """
    if not overrides:
        return config
    data = config.model_dump()
    for path, value in overrides.items():
        model: Any = config
        node: Any = data
        keys = path.split(".")
        for depth, key in enumerate(keys):
            last = depth == len(keys) - 1
            index: str | int = key
            if isinstance(model, BaseModel):
                exists = key in type(model).model_fields and isinstance(node, dict)
                model = getattr(model, key, None)
            elif isinstance(model, dict):
                exists = (key in model or last) and isinstance(node, dict)
                model = model.get(key)
            elif isinstance(model, list) and key.isdigit() and int(key) < len(model):
                index = int(key)
                exists = isinstance(node, list) and index < len(node)
                model = model[index]
            else:
                exists = False
            if not exists:
                where = ".".join(keys[:depth]) or "the config root"
                raise KeyError(f"override path {path!r} does not exist: no field {key!r} in {where}")
            if last:
                node[index] = value
            elif isinstance(index, int):
                node = node[index]
            else:
                node = node.setdefault(index, {})
    return type(config).model_validate(data)
