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


def apply_overrides(config: TConfig, overrides: dict[str, Any]) -> TConfig:
    """Return a validated copy of ``config`` with dotted-path values replaced.

    Paths walk nested models and dicts (``"game.agent.rewards.heart"``). Every segment must
    name an existing model field or dict key, except that the last one may add a key to a
    dict; anything else raises ``KeyError`` naming the full path, so typos fail loudly. The
    result is re-validated, so a value of the wrong type is a pydantic ``ValidationError``.
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
            if isinstance(model, BaseModel):
                exists = key in type(model).model_fields
                model = getattr(model, key, None)
            elif isinstance(model, dict):
                exists = key in model or last
                model = model.get(key)
            else:
                exists = False
            if not exists or not isinstance(node, dict):
                where = ".".join(keys[:depth]) or "the config root"
                raise KeyError(f"override path {path!r} does not exist: no field {key!r} in {where}")
            if last:
                node[key] = value
            else:
                node = node.setdefault(key, {})
    return type(config).model_validate(data)
