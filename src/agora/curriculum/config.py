"""``CurriculumConfig``: everything that defines a curriculum, including how its pool is shared."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from agora.algorithms.base import AnyAlgorithmConfig, DiscreteRandomConfig
from agora.config import CurriculumKnobs
from agora.curriculum.mutation import MutationConfig
from agora.generators.base import AnyTaskGeneratorConfig
from agora.generators.single import SingleTaskGenerator

if TYPE_CHECKING:
    from agora.curriculum.front import Curriculum

__all__ = ["CURRICULUM_KNOBS", "CurriculumConfig"]


CURRICULUM_KNOBS = tuple(CurriculumKnobs.model_fields)
"""CurriculumConfig fields that algorithm configs accept too (where older configs set them)."""


class CurriculumConfig(CurriculumKnobs):
    """Everything that defines a curriculum; ``make()`` builds it."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    task_generator: AnyTaskGeneratorConfig = Field(description="Generator mapping task ids to configs.")
    num_active_tasks: int = Field(default=10_000, gt=0, description="Pool size (always kept full).")
    max_task_id: int = Field(
        default=2**31 - 1, gt=0, le=2**62, description="Task ids are drawn from [0, max_task_id)."
    )
    seed: int = Field(default=0, ge=0, description="Seeds task-id draws and sampling.")
    min_presentations_for_eviction: int = Field(
        default=5, gt=0, description="Completions a task needs before it may be evicted."
    )
    algorithm_config: AnyAlgorithmConfig = Field(
        default_factory=DiscreteRandomConfig, description="How tasks are weighted and evicted."
    )
    refresh_interval: int | None = Field(
        default=None,
        gt=0,
        description="Episodes between refreshes of the sampling distribution (its maximum staleness); "
        "None means ceil(num_active_tasks / 4), at most 65536.",
    )
    config_cache_size: int = Field(default=256, ge=0, description="Generated configs kept in an LRU cache.")
    mutation: MutationConfig | None = Field(
        default=None,
        description="Make some replacement tasks edits of tasks the algorithm favours (ACCEL-style); "
        "None: every replacement is a fresh random id.",
    )

    @field_validator("algorithm_config", mode="before")
    @classmethod
    def _none_is_discrete_random(cls, value: Any) -> Any:
        """``None`` (the seed system's "no algorithm") is uniform sampling, the default."""
        return DiscreteRandomConfig() if value is None else value

    @model_validator(mode="after")
    def _pool_size_from_algorithm(self) -> CurriculumConfig:
        """An algorithm config's ``num_active_tasks`` sizes the pool when this config leaves it
        unset (the seed system's recipes set it there); set on both, they must agree."""
        declared = getattr(self.algorithm_config, "num_active_tasks", None)
        if declared is None or declared == self.num_active_tasks:
            return self
        if "num_active_tasks" in self.model_fields_set:
            raise ValueError(
                f"num_active_tasks is {self.num_active_tasks} on the CurriculumConfig but {declared} on its "
                f"algorithm_config ({type(self.algorithm_config).__name__}): set it in one place"
            )
        self.__dict__["num_active_tasks"] = declared
        return self

    @classmethod
    def from_mg(cls, config: BaseModel) -> CurriculumConfig:
        """The seed system's constructor: a curriculum over the single task ``config``."""
        return cls(task_generator=SingleTaskGenerator.Config(env=config))

    @model_validator(mode="after")
    def _one_value_per_knob(self) -> CurriculumConfig:
        """A knob set only on the algorithm config moves here; set on both, the values must agree.

        The algorithm config is replaced by a copy holding the same values (so code reading them
        there sees what the curriculum uses) that does not count them as set there, so assigning
        a knob here later just updates the copy.
        """
        algorithm = self.algorithm_config
        set_there = algorithm.model_fields_set.intersection(CURRICULUM_KNOBS)
        for name in sorted(set_there):
            mine, theirs = getattr(self, name), getattr(algorithm, name)
            if name not in self.model_fields_set:
                self.__dict__[name] = theirs  # no re-validation: the algorithm's field checked it
                self.__pydantic_fields_set__.add(name)
            elif mine != theirs:
                raise ValueError(
                    f"{name} is {mine!r} on the CurriculumConfig but {theirs!r} on its algorithm_config "
                    f"({type(algorithm).__name__}): set it in one place (the CurriculumConfig)"
                )
        differ = {n: getattr(self, n) for n in CURRICULUM_KNOBS if getattr(algorithm, n) != getattr(self, n)}
        if differ or set_there:
            mirrored = algorithm.model_copy(update=differ)
            mirrored.__pydantic_fields_set__.difference_update(CURRICULUM_KNOBS)
            self.__dict__["algorithm_config"] = mirrored
        if self.session_id == "":
            raise ValueError(
                "session_id is '': name the session (processes that build from the config find it by "
                "name) or leave it None for a new random session"
            )
        return self

    @model_validator(mode="after")
    def _pool_fits_id_space(self) -> CurriculumConfig:
        if self.num_active_tasks > self.max_task_id:
            raise ValueError(
                f"num_active_tasks ({self.num_active_tasks}) cannot exceed max_task_id ({self.max_task_id}): "
                "the pool needs that many distinct task ids"
            )
        return self

    def setting(self, name: str) -> Any:
        """The value of curriculum knob ``name`` that the curriculum uses.

        This config's, unless the algorithm config counts it as set: validation never leaves
        it so, but ``model_copy(update={"algorithm_config": ...})`` skips validation, and older
        code changes a knob that way (e.g. a local twin of a shared config).
        """
        algorithm = self.algorithm_config
        return getattr(algorithm if name in algorithm.model_fields_set else self, name)

    @property
    def effective_refresh_interval(self) -> int:
        if self.refresh_interval is not None:
            return self.refresh_interval
        return min(65_536, -(-self.num_active_tasks // 4))

    def make(self) -> Curriculum[Any]:
        """Build the curriculum described by this config."""
        from agora.curriculum.front import Curriculum  # the front end imports this module

        return Curriculum(self)
