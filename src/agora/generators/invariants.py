"""Invariant rules: properties every task of a generator must share.

Trainers allocate buffers from the first environment they see (agent count, action
count, ...), so a task that changes such a property crashes training far from its cause.
A rule names the values that must stay constant; the generator checks each task it builds.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    SerializerFunctionWrapHandler,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    model_serializer,
)

from agora.config import import_path, load_symbol

__all__ = ["AnyInvariantRule", "ConstantFields", "InvariantRule", "InvariantViolation"]


class InvariantViolation(ValueError):
    """A generated task broke an invariant rule; the message names the task and the field."""


class InvariantRule(BaseModel, ABC):
    """Base rule: :meth:`values` extracts named values that must equal the first task's."""

    model_config = ConfigDict(extra="forbid")

    @abstractmethod
    def values(self, config: BaseModel) -> dict[str, Any]:
        """The named values of ``config`` that must not vary across tasks."""

    def check(self, task_id: int, config: BaseModel, reference: dict[str, Any] | None) -> dict[str, Any]:
        """Raise :class:`InvariantViolation` if ``config`` differs from ``reference``; return it."""
        found = self.values(config)
        if reference is None:
            return found
        for name, expected in reference.items():
            if found.get(name) != expected:
                raise InvariantViolation(
                    f"task {task_id}: {name!r} is {found.get(name)!r} but must stay {expected!r} "
                    f"across all tasks ({type(self).__name__})"
                )
        return reference

    @model_serializer(mode="wrap")
    def _serialize_with_type(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        return {"type": import_path(type(self)), **handler(self)}


class ConstantFields(InvariantRule):
    """The config values at these dotted paths must be equal in every task."""

    paths: list[str] = Field(min_length=1, description="Dotted paths into the config.")

    def values(self, config: BaseModel) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for path in self.paths:
            node: Any = config
            for key in path.split("."):
                try:
                    node = node[key] if isinstance(node, dict) else getattr(node, key)
                except (KeyError, AttributeError):
                    raise KeyError(f"invariant path {path!r} does not exist: no field {key!r}") from None
            out[path] = node
        return out


def _validate_rule(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    if isinstance(value, dict) and "type" in value:
        cls = load_symbol(value["type"])
        if not (isinstance(cls, type) and issubclass(cls, InvariantRule)):
            raise TypeError(f"'type' {value['type']!r} is not an InvariantRule")
        return cls.model_validate({k: v for k, v in value.items() if k != "type"})
    return handler(value)


AnyInvariantRule = SerializeAsAny[Annotated[InvariantRule, WrapValidator(_validate_rule)]]
