"""Fields of the seed system's ``LearningProgressConfig`` that agora names differently or does not need.

Metta's configs and recipes set them, so :class:`~agora.LearningProgressConfig` accepts them
and those configs load unchanged. Three still act, through the agora field they stand for:

- ``early_progress_amplification`` is the seed's name for the reweighting θ, which agora
  calls ``progress_smoothing`` (the seed's ``progress_smoothing`` was an additive floor on LP
  instead: docs/migration.md).
- ``lp_gain`` (Metta's main branch, 2026-01) weighs a bonus for tasks already being solved,
  agora's ``performance_bonus_weight``. Metta multiplied it by the fast EMA, agora by the
  recent success rate, which the fast EMA follows.
- ``min_samples_for_lp`` is the number of outcomes the seed's basic (variance) scorer waited
  for; agora's basic scorer waits for ``sample_threshold`` outcomes, so with
  ``use_bidirectional=False`` it sets that. The seed's bidirectional scorer ignored it, as
  agora's does.

The others configured internals agora does not have; they are accepted, validated and have
no effect (each field's description says why).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field, model_validator

__all__ = ["SeedLearningProgressFields"]


class SeedLearningProgressFields(BaseModel):
    """The seed system's extra learning-progress fields (a base of ``LearningProgressConfig``)."""

    early_progress_amplification: float | None = Field(
        default=None,
        ge=0,
        le=0.5,
        description="The seed's name for progress_smoothing (θ of the reweighting, 0.5: off): if set, "
        "it is the θ used.",
    )
    lp_gain: float | None = Field(
        default=None,
        ge=0,
        description="Metta's name for performance_bonus_weight (its main branch, 2026-01): if set, "
        "LP gets lp_gain * the task's recent success rate added.",
    )
    min_samples_for_lp: int | None = Field(
        default=None,
        ge=1,
        description="The seed's basic-scorer threshold: with use_bidirectional=False it sets "
        "sample_threshold; no effect with the bidirectional scorer (as in the seed).",
    )
    basic_ema_initial_alpha: float = Field(
        default=0.3, gt=0, le=1, description="No effect: the seed declared it but nothing read it."
    )
    basic_ema_alpha_decay: float = Field(
        default=0.2, ge=0, le=1, description="No effect: the seed declared it but nothing read it."
    )
    max_memory_tasks: int | None = Field(
        default=None,
        gt=0,
        description="No effect: task statistics live in the pool, which holds num_active_tasks tasks "
        "(the seed also sized its tracker from num_active_tasks).",
    )
    show_curriculum_troubleshooting_logging: bool = Field(
        default=False,
        description="No effect: per-label statistics are always on (label/<label>/...), and per-task "
        "values come from Curriculum.sampling_probabilities() and the algorithm's pool columns.",
    )
    task_struct_size: int = Field(
        default=13,
        gt=0,
        description="No effect: the pool's layout follows the columns the algorithm declares "
        "(the seed's shared memory had a fixed row of this many floats).",
    )
    task_default_generator_type: float = Field(
        default=0.0,
        description="No effect: the seed stored it with every task and never read it; agora records "
        "each task's generator label instead.",
    )

    @model_validator(mode="after")
    def _seed_names_act(self) -> Any:
        self._stand_in("early_progress_amplification", "progress_smoothing")
        self._stand_in("lp_gain", "performance_bonus_weight")
        if not getattr(self, "use_bidirectional", True):
            self._stand_in("min_samples_for_lp", "sample_threshold")
        return self

    def _stand_in(self, seed_name: str, name: str) -> None:
        """Make field ``name`` hold ``seed_name``'s value when that was set (both set: must agree)."""
        value = getattr(self, seed_name)
        if value is None or seed_name not in self.model_fields_set:
            return
        if name in self.model_fields_set and getattr(self, name) != value:
            raise ValueError(
                f"{seed_name}={value!r} (the seed system's name for {name}) differs from "
                f"{name}={getattr(self, name)!r}: set one of them"
            )
        self.__dict__[name] = value  # no re-validation: the seed field has the same bounds
