"""Task generators: deterministic functions from a task id to an environment config.

A generator is built from its pydantic ``Config`` (``MyGenerator.Config(...).create()``).
The same task id gives an equal config in any process, so pools, checkpoints and shared
memory only ever store ids. ``generate`` is cheap: it draws the label and bucket values
and defers building the (possibly large) config until ``GeneratedTask.config`` is read.

Mutated ids. The built-in generators (single, bucketed, set) also enumerate their tasks:
each task is a point of a finite space of ``space_size`` points (a mixed-radix number over
the bucket entries, see :mod:`agora.generators.bucketed`). :meth:`TaskGenerator.mutate`
edits a task and returns the id ``MUTATED_ID_BASE + point`` of the edited one. Fresh ids
lie below ``max_task_id <= 2**62 = MUTATED_ID_BASE``, so the two never collide, and a
mutated id names its config by itself: no parent, edit history or table is needed to
rebuild it in another process or after a checkpoint, and an edit of an edit is again one
id (chains of mutations collapse to the point they reached).
"""

from __future__ import annotations

import json
import operator
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Generic, Self, TypeVar

import yaml
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

from agora.config import TConfig, apply_overrides, import_path, load_symbol
from agora.generators.invariants import AnyInvariantRule
from agora.generators.rng import TaskRandom
from agora.migrate.names import METTAGRID_CONFIG, OLD_PACKAGE

if TYPE_CHECKING:
    from agora.curriculum import CurriculumConfig

__all__ = [
    "MUTATED_ID_BASE",
    "AnyTaskGeneratorConfig",
    "GeneratedTask",
    "TaskGenerator",
    "TaskGeneratorConfig",
    "merged_bucket_axes",
]

TGenerator = TypeVar("TGenerator", bound="TaskGenerator[Any]")

MUTATED_ID_BASE = 2**62
"""Ids from here on (up to ``2**63``) are mutated tasks: ``MUTATED_ID_BASE + point``."""

MAX_SPACE_SIZE = 2**63 - MUTATED_ID_BASE
"""A space with more points than this cannot be enumerated in int64 ids (no mutation)."""


class GeneratedTask(Generic[TConfig]):
    """One generated task: its label and bucket values now, its config on first access."""

    __slots__ = ("__dict__", "_build", "bucket_values", "label", "task_id")

    def __init__(
        self,
        task_id: int,
        build: Callable[[], TConfig],
        label: str | None = None,
        bucket_values: dict[str, Any] | None = None,
    ) -> None:
        self.task_id = task_id
        self.label = label
        self.bucket_values: dict[str, Any] = bucket_values if bucket_values is not None else {}
        self._build = build

    @cached_property
    def config(self) -> TConfig:
        return self._build()


class TaskGeneratorConfig(BaseModel, Generic[TGenerator]):
    """Base of every generator config; nested ``Config`` classes are bound automatically.

    Serialises with a ``type`` key holding the generator's import path, which is how
    :data:`AnyTaskGeneratorConfig` finds the right class again when loading JSON or YAML.
    """

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    _generator_cls: ClassVar[type[TaskGenerator[Any]] | None] = None

    label: str | None = Field(default=None, description="Label for per-label statistics.")
    overrides: dict[str, Any] = Field(
        default_factory=dict, description="Dotted-path values applied to every generated config."
    )
    invariants: list[AnyInvariantRule] = Field(
        default_factory=list, description="Rules every generated config must satisfy."
    )

    def create(self) -> TGenerator:
        """Instantiate the generator this config is bound to."""
        cls = type(self)._generator_cls
        if cls is None:
            raise TypeError(
                f"{type(self).__name__} is not bound to a TaskGenerator: define it as the nested "
                "`Config` class of a TaskGenerator subclass."
            )
        return cls(self)  # type: ignore[return-value]

    def to_curriculum(self, **kwargs: Any) -> CurriculumConfig:
        """A ``CurriculumConfig`` over this generator (keyword arguments are passed through)."""
        from agora.curriculum import CurriculumConfig

        return CurriculumConfig(task_generator=self, **kwargs)

    @model_serializer(mode="wrap")
    def _serialize_with_type(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # The generator's path when this is its own Config; a Config subclass names itself.
        generator = type(self)._generator_cls
        cls = generator if generator is not None and generator.Config is type(self) else type(self)
        return {"type": import_path(cls), **handler(self)}

    def to_json(self, indent: int | None = 2) -> str:
        return json.dumps(self.model_dump(mode="json"), indent=indent)

    def to_yaml(self) -> str:
        return yaml.safe_dump(self.model_dump(mode="json"), sort_keys=False)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """Load any generator config from a dict with a ``type`` key (polymorphic)."""
        if isinstance(data, dict) and "type" not in data and cls._generator_cls is not None:
            return cls.model_validate(data)  # a concrete class needs no ``type``
        cfg = _validate_any_generator(data, lambda d: cls.model_validate(d))
        if not isinstance(cfg, cls):
            raise TypeError(f"{data.get('type')!r} is not a {cls.__name__}")
        return cfg

    @classmethod
    def from_json(cls, text: str) -> Self:
        return cls.from_dict(json.loads(text))

    @classmethod
    def from_yaml(cls, text: str) -> Self:
        return cls.from_dict(yaml.safe_load(text))


class TaskGenerator(ABC, Generic[TConfig]):
    """Base class: deterministic ``task_id -> config``.

    Subclasses implement :meth:`_generate`, which receives a ``random.Random`` seeded by the
    caller and returns a :class:`GeneratedTask`. A nested ``Config(TaskGeneratorConfig)``
    class is bound to the subclass so that ``Config.create()`` builds it.
    """

    Config: ClassVar[type[TaskGeneratorConfig[Any]]]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        nested = cls.__dict__.get("Config")
        if isinstance(nested, type) and issubclass(nested, TaskGeneratorConfig):
            nested._generator_cls = cls

    def __init__(self, config: TaskGeneratorConfig[Any]) -> None:
        self.config = config
        self._reference: dict[int, dict[str, Any]] = {}

    @property
    def has_labels(self) -> bool:
        """Whether any generator in this tree sets a label (lets callers skip label lookups)."""
        return self.config.label is not None

    def bucket_axes(self) -> dict[str, list[Any]]:
        """Every bucket path in this tree with its declared entries (for slice statistics)."""
        return {}

    def generate(self, task_id: int, rng: random.Random | None = None) -> GeneratedTask[TConfig]:
        """Draw task ``task_id``. ``rng`` is given by parent generators; top-level calls omit it."""
        if rng is None and task_id >= MUTATED_ID_BASE and self.space_size is not None:
            return self.generate_point(task_id, self._point_of_mutated(task_id))
        if rng is None:
            rng = TaskRandom(operator.index(task_id))
        return self._finished(task_id, self._generate(task_id, rng))

    def generate_point(self, task_id: int, point: int) -> GeneratedTask[TConfig]:
        """The task at ``point`` of this generator's space (see :attr:`space_size`), as ``task_id``."""
        size = self.space_size
        if size is None or not 0 <= point < size:
            raise ValueError(f"point {point} is outside the {size} tasks of this {type(self).__name__}")
        return self._finished(task_id, self._at(task_id, point))

    def _finished(self, task_id: int, task: GeneratedTask[TConfig]) -> GeneratedTask[TConfig]:
        """``task`` with this generator's label, overrides and invariants."""
        cfg = self.config
        if cfg.label is not None:
            task.label = cfg.label if task.label is None else f"{task.label}|{cfg.label}"
        if cfg.overrides or cfg.invariants:
            inner = task._build
            task._build = lambda: self._finish(task_id, inner())
        return task

    def get_task(self, task_id: int) -> TConfig:
        """The config of task ``task_id``: equal for equal ids, in any process."""
        return self.generate(task_id).config

    def _finish(self, task_id: int, config: TConfig) -> TConfig:
        config = apply_overrides(config, self.config.overrides)
        for index, rule in enumerate(self.config.invariants):
            self._reference[index] = rule.check(task_id, config, self._reference.get(index))
        return config

    @abstractmethod
    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[TConfig]:
        """Draw the task from ``rng`` (seeded for this id) and return it with a lazy config."""

    # -- the enumerated space and mutation ------------------------------------------------

    @cached_property
    def space_size(self) -> int | None:
        """How many distinct tasks this generator enumerates; None when it does not (a custom
        generator without the hooks below, or a space beyond :data:`MAX_SPACE_SIZE`): no mutation."""
        size = self._space_size()
        return size if size is not None and size <= MAX_SPACE_SIZE else None

    @property
    def can_mutate(self) -> bool:
        """Whether :meth:`mutate` can edit tasks (the space is enumerated and has two points)."""
        return self.space_size is not None and self.space_size > 1

    def point_of(self, task_id: int) -> int:
        """The point of this generator's space that task ``task_id`` is (fresh or mutated)."""
        if self.space_size is None:
            raise TypeError(f"{type(self).__name__} does not enumerate its tasks (its space_size is None)")
        if task_id >= MUTATED_ID_BASE:
            return self._point_of_mutated(task_id)
        return self._point(task_id, TaskRandom(operator.index(task_id)))

    def mutate(self, task_id: int, rng: random.Random) -> int | None:
        """The id of an edit of task ``task_id``: one bucket value moved to a neighbouring entry of
        its bucket, or within its ``Span`` (see :mod:`agora.generators.bucketed`); ``rng`` picks
        the edit. None when the task has nothing to edit (e.g. a set's single-config child).

        Deterministic: equal ``task_id`` and ``rng`` state give the same id in any process.
        """
        if not self.can_mutate:
            raise TypeError(
                f"{type(self).__name__} cannot mutate tasks: it enumerates {self.space_size} tasks "
                "(mutation needs the built-in single, bucketed or set generators and at least two tasks)"
            )
        point = self._mutated(self.point_of(task_id), rng)
        return None if point is None else MUTATED_ID_BASE + point

    def _point_of_mutated(self, task_id: int) -> int:
        point = task_id - MUTATED_ID_BASE
        if not point < (self.space_size or 0):
            raise ValueError(
                f"task id {task_id} is a mutated id (>= 2**62) beyond the {self.space_size} tasks of "
                f"this {type(self).__name__}"
            )
        return point

    def _space_size(self) -> int | None:
        """Hook: the number of points of this generator's space, or None (not enumerated)."""
        return None

    def _point(self, task_id: int, rng: random.Random) -> int:
        """Hook: the point that :meth:`_generate` draws from ``rng`` (the same draws, in order)."""
        raise NotImplementedError

    def _at(self, task_id: int, point: int) -> GeneratedTask[TConfig]:
        """Hook: the task at ``point`` (``0 <= point < space_size``), without label or overrides."""
        raise NotImplementedError

    def _mutated(self, point: int, rng: random.Random) -> int | None:
        """Hook: a neighbouring point of ``point`` drawn with ``rng``, or None if it has none."""
        return None


def merged_bucket_axes(children: Iterable[TaskGenerator[Any]]) -> dict[str, list[Any]]:
    """The bucket axes of ``children`` together: children sharing a path contribute all their entries."""
    axes: dict[str, list[Any]] = {}
    for child in children:
        for path, entries in child.bucket_axes().items():
            merged = axes.setdefault(path, [])
            merged.extend(entry for entry in entries if entry not in merged)
    return axes


def _validate_any_generator(value: Any, handler: ValidatorFunctionWrapHandler | Callable[[Any], Any]) -> Any:
    """Resolve ``{"type": "pkg.mod.Generator", ...}`` to that generator's Config class."""
    if isinstance(value, TaskGeneratorConfig):
        return value
    if not isinstance(value, dict):
        return handler(value)
    if "type" not in value:
        raise ValueError("a task generator config needs a 'type' key: the import path of its TaskGenerator")
    target = value["type"]
    cls = load_symbol(target) if isinstance(target, str) else target
    if isinstance(cls, type) and issubclass(cls, TaskGenerator):
        cls = cls.Config
    if not (isinstance(cls, type) and issubclass(cls, TaskGeneratorConfig)):
        raise TypeError(f"'type' {target!r} is neither a TaskGenerator nor a TaskGeneratorConfig")
    data = {k: v for k, v in value.items() if k != "type"}
    if isinstance(target, str) and target.startswith(f"{OLD_PACKAGE}.") and isinstance(data.get("env"), dict):
        data.setdefault("env_type", METTAGRID_CONFIG)  # Metta's single-task configs held MettaGridConfigs
    return cls.model_validate(data)


AnyTaskGeneratorConfig = SerializeAsAny[
    Annotated[TaskGeneratorConfig[Any], WrapValidator(_validate_any_generator)]
]
"""Field type that accepts any generator config, including from JSON with a ``type`` key."""
