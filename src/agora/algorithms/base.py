"""The algorithm interface: how a curriculum scores, samples and evicts tasks.

The :class:`~agora.curriculum.Curriculum` owns the pool; an algorithm keeps its per-task
state in pool columns it declares (:meth:`CurriculumAlgorithmConfig.pool_fields`), sees
every score through :meth:`CurriculumAlgorithm.update` (O(1), on the hot path) and is
asked for sampling weights and eviction candidates only at refreshes, in vectorised form.

Each hook's docstring states its lock context on a shared pool: *under the lock* (other
processes wait: keep it O(1) per score) or *without it* (a lock-free read of the pool; the
hook only reads, or writes derived columns). A local pool runs the same calls in the same
order, with no lock. The pool engine (:mod:`agora.curriculum.engine`) calls them.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, overload

import numpy as np
import numpy.typing as npt
from pydantic import ConfigDict, SerializeAsAny, ValidatorFunctionWrapHandler, WrapValidator

from agora.config import CurriculumKnobs, load_symbol

if TYPE_CHECKING:
    from agora.algorithms.standalone import StandaloneAlgorithm
    from agora.pool import SlotField, TaskPool

__all__ = [
    "AnyAlgorithmConfig",
    "CurriculumAlgorithm",
    "CurriculumAlgorithmConfig",
    "DiscreteRandomConfig",
    "DiscreteRandomCurriculum",
]


class CurriculumAlgorithmConfig(CurriculumKnobs, ABC):
    """Base of algorithm configs; ``type`` is the discriminator in ``CurriculumConfig``."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    type: str
    """Short name (built-in algorithms) or import path (user algorithms) of this config class."""

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        default = cls.model_fields["type"].default
        if isinstance(default, str):
            _REGISTRY[default] = cls

    def pool_fields(self) -> tuple[SlotField, ...]:
        """Per-slot columns the algorithm needs in the pool (beyond the core ones)."""
        return ()

    @abstractmethod
    def create(self, pool: TaskPool) -> CurriculumAlgorithm:
        """Build the algorithm over ``pool`` (whose columns include :meth:`pool_fields`)."""

    def standalone(self, num_tasks: int) -> StandaloneAlgorithm:
        """This algorithm over a private pool of ``num_tasks`` tasks that the caller adds and
        removes itself (the seed system's ``create(num_tasks)``)."""
        from agora.algorithms.standalone import StandaloneAlgorithm

        return StandaloneAlgorithm(num_tasks, self)


_REGISTRY: dict[str, type[CurriculumAlgorithmConfig]] = {}


def _validate_any_algorithm(value: Any, handler: ValidatorFunctionWrapHandler) -> Any:
    """Find the config class from ``type``: a registered short name or an import path."""
    if isinstance(value, CurriculumAlgorithmConfig):
        return value
    if not isinstance(value, dict) or "type" not in value:
        return handler(value)
    name = value["type"]
    cls = _REGISTRY.get(name) or load_symbol(name)
    if not (isinstance(cls, type) and issubclass(cls, CurriculumAlgorithmConfig)):
        raise TypeError(f"algorithm type {name!r} is not a CurriculumAlgorithmConfig")
    return cls.model_validate(value)


AnyAlgorithmConfig = SerializeAsAny[
    Annotated[CurriculumAlgorithmConfig, WrapValidator(_validate_any_algorithm)]
]
"""Field type accepting any algorithm config, including from JSON by its ``type``."""


class CurriculumAlgorithm(ABC):
    """Scores tasks for sampling and picks eviction candidates."""

    evicts: ClassVar[bool] = False
    """Whether :meth:`eviction_candidates` may return anything (lets the curriculum skip it)."""

    def __init__(self, config: CurriculumAlgorithmConfig, pool: TaskPool) -> None:
        self.config = config
        self.pool = pool

    def update(self, slot: int, score: float) -> None:  # noqa: B027 - optional hook
        """Record one episode's score for the task in ``slot`` (hot path: keep it O(1)).

        Under the lock, after the core columns (completions, score sum, last score) counted it."""

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        """Vectorised :meth:`update` for distinct ``slots``; must give the same result.

        The default loops over :meth:`update`; override it to vectorise. Under the lock.
        """
        for slot, score in zip(slots.tolist(), scores.tolist(), strict=True):
            self.update(slot, score)

    def update_with_priority(self, slot: int, score: float, priority: float) -> None:
        """Record one episode's success ``score`` and the ``priority`` the learner reported for it.

        Only called when the caller gave a priority (``update_task_performance(..., priority=p)``);
        the default ignores it. An algorithm that ranks tasks by a learner signal (PLR)
        overrides it. Under the lock, as :meth:`update`."""
        self.update(slot, score)

    def update_many_with_priority(
        self,
        slots: npt.NDArray[np.intp],
        scores: npt.NDArray[np.float64],
        priorities: npt.NDArray[np.float64],
    ) -> None:
        """Vectorised :meth:`update_with_priority` for distinct ``slots`` (in a batch where some
        entries came without a priority, theirs equals their score). The default ignores it."""
        self.update_many(slots, scores)

    def on_refresh(self) -> None:  # noqa: B027 - optional hook
        """A refresh of the sampling distribution begins (before eviction and weights).

        Without the lock, after this process's buffered scores were applied."""

    def on_tasks_created(self, slots: npt.NDArray[np.intp]) -> None:  # noqa: B027 - optional hook
        """New tasks occupy ``slots`` (their columns are already zeroed). Under the lock."""

    def on_tasks_evicted(self, slots: npt.NDArray[np.intp]) -> None:  # noqa: B027 - optional hook
        """Tasks in ``slots`` are about to be removed (evicted, or replaced by a repair). Under the lock."""

    @abstractmethod
    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """Non-negative sampling weights for the active ``slots`` (vectorised, at refresh).

        Without the lock: read only."""

    def eviction_candidates(
        self, slots: npt.NDArray[np.intp], min_presentations: int, limit: int
    ) -> npt.NDArray[np.intp]:
        """Up to ``limit`` active slots that may be evicted, most evictable first (at refresh).

        Without the lock (the plan is re-checked under it): read only, or fill derived columns."""
        return np.empty(0, dtype=np.intp)

    def stats(self) -> dict[str, float]:
        """Algorithm statistics (flat, unprefixed)."""
        return {}

    def get_state(self) -> dict[str, Any]:
        """State not held in pool columns, as JSON-serialisable data."""
        return {}

    def load_state(self, state: dict[str, Any]) -> None:  # noqa: B027 - optional hook
        """Restore what :meth:`get_state` returned."""


class DiscreteRandomConfig(CurriculumAlgorithmConfig):
    """Uniform sampling over the active pool, no eviction: the baseline curriculum."""

    type: Literal["discrete_random"] = "discrete_random"

    @overload
    def create(self, pool: TaskPool) -> DiscreteRandomCurriculum: ...

    @overload
    def create(self, pool: int) -> StandaloneAlgorithm: ...

    def create(self, pool: TaskPool | int) -> DiscreteRandomCurriculum | StandaloneAlgorithm:
        """The algorithm over ``pool``, or over a private pool of that many tasks (:meth:`standalone`)."""
        if isinstance(pool, int):
            return self.standalone(pool)
        return DiscreteRandomCurriculum(self, pool)


class DiscreteRandomCurriculum(CurriculumAlgorithm):
    """Every active task is equally likely."""

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        """Nothing to do: uniform sampling keeps no per-task state (skips the default loop)."""

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return np.ones(len(slots))
