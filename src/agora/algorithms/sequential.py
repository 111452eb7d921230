"""Sequential stages (as Syllabus's ``SequentialCurriculum``): one stage's tasks after another.

The task generator is a :class:`~agora.generators.StagedTaskGenerator` whose k-th generator
is stage k, so task id ``i`` belongs to stage ``i % len(stages)``; ``stages[k]`` says when
stage k is done: after ``episodes`` outcomes on its tasks, or once the mean score of its last
``window`` outcomes reaches ``mean_score`` (whichever comes first; the last stage never
ends). Tasks of the current stage are sampled evenly; ``replay_earlier`` of the mass goes
evenly to the tasks of earlier stages (against forgetting); later stages get nothing.

Where the current stage lives: in a pool column, ``stage_reached``, which every active task
holds (the highest stage any process has advanced to is the column's maximum), so it is
shared between processes and checkpointed with the pool. Conditions are checked at each
refresh, when the distribution can change anyway (``refresh_interval=1`` checks after
every episode). ``episodes`` counts every process's outcomes (the pool's ``completions``);
the score window holds the outcomes this process applied (a sample of the stage's recent
outcomes when several processes share the pool), kept with :meth:`get_state`. The pool is
never evicted: its tasks' counts are the stage's history.
"""

from __future__ import annotations

from collections import deque
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field, model_validator

from agora.algorithms.base import CurriculumAlgorithm, CurriculumAlgorithmConfig
from agora.pool import SlotField, TaskPool

__all__ = ["SequentialAlgorithm", "SequentialConfig", "Stage"]


class Stage(BaseModel):
    """When a stage is done (either condition; neither: never, which only the last stage may be)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    episodes: int | None = Field(
        default=None, gt=0, description="Done after this many outcomes on its tasks."
    )
    mean_score: float | None = Field(
        default=None, description="Done once the mean of its last `window` outcomes is at least this."
    )
    window: int = Field(
        default=100, gt=0, le=100_000, description="Outcomes the mean_score condition averages."
    )

    @property
    def ends(self) -> bool:
        return self.episodes is not None or self.mean_score is not None


class SequentialConfig(CurriculumAlgorithmConfig):
    """Stages in order; pair it with ``StagedTaskGenerator.Config(stages=[...])`` of as many generators."""

    type: Literal["sequential"] = "sequential"

    stages: list[Stage] = Field(min_length=1, description="When each stage is done, in order.")
    replay_earlier: float = Field(
        default=0.0, ge=0, lt=1, description="Share of episodes on tasks of earlier stages (evenly)."
    )

    @model_validator(mode="after")
    def _only_the_last_stage_is_open(self) -> SequentialConfig:
        open_stages = [k for k, stage in enumerate(self.stages[:-1]) if not stage.ends]
        if open_stages:
            raise ValueError(
                f"stage {open_stages[0]} has neither episodes nor mean_score: it would never end, and only "
                "the last stage may do that"
            )
        return self

    def pool_fields(self) -> tuple[SlotField, ...]:
        return (("stage_reached", "h", 1),)

    def create(self, pool: TaskPool) -> SequentialAlgorithm:
        if len(self.stages) > 32767:
            raise ValueError(f"at most 32,767 stages, got {len(self.stages)}")
        return SequentialAlgorithm(self, pool)


class SequentialAlgorithm(CurriculumAlgorithm):
    """Samples the current stage's tasks; moves on when its condition holds."""

    config: SequentialConfig

    def __init__(self, config: SequentialConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self._ids = pool.ids
        self._count = len(config.stages)
        self._stage = 0  # this process's view of the current stage, updated at refreshes
        self._window: deque[float] = deque(maxlen=config.stages[0].window)

    def update(self, slot: int, score: float) -> None:
        if self._ids[slot] % self._count == self._stage:
            self._window.append(score)

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        current = self.pool.array("ids")[slots] % self._count == self._stage
        self._window.extend(scores[current].tolist())

    def _stages_of(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.int64]:
        stages: npt.NDArray[np.int64] = self.pool.gather("ids", slots) % self._count
        return stages

    def stage(self) -> int:
        """The current stage: the highest any process has advanced to (O(pool))."""
        slots = self.pool.active_slots()
        return max(self._stage, int(self.pool.gather("stage_reached", slots).max(initial=0)))

    def _enter(self, stage: int) -> None:
        self._stage = stage
        self._window = deque(maxlen=self.config.stages[stage].window)

    def on_refresh(self) -> None:
        stage = self.stage()
        if stage != self._stage:  # another process (or a loaded checkpoint) moved on
            self._enter(stage)
        while self._stage < self._count - 1 and self._done(self._stage):
            self._enter(self._stage + 1)
        if self._stage > stage:
            reached = self.pool.array("stage_reached")
            reached[reached < self._stage] = self._stage  # every slot: the maximum survives any one

    def _done(self, stage: int) -> bool:
        condition = self.config.stages[stage]
        if condition.episodes is not None:
            slots = self.pool.active_slots()
            played = self.pool.gather("completions", slots)[self._stages_of(slots) == stage]
            if int(played.sum()) >= condition.episodes:
                return True
        window = self._window
        return (
            condition.mean_score is not None
            and len(window) == window.maxlen
            and sum(window) / len(window) >= condition.mean_score
        )

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        stages = self._stages_of(slots)
        current = stages == self._stage
        earlier = stages < self._stage
        weights = np.zeros(len(slots))
        n_current, n_earlier = int(current.sum()), int(earlier.sum())
        share = self.config.replay_earlier if n_earlier and n_current else float(not n_current)
        if n_current:
            weights[current] = (1.0 - share) / n_current
        if n_earlier:
            weights[earlier] = share / n_earlier
        return weights

    def stats(self) -> dict[str, float]:
        window = self._window
        return {
            "stage": float(self._stage),
            "stage_window_mean": sum(window) / len(window) if window else 0.0,
        }

    def get_state(self) -> dict[str, Any]:
        return {"stage": self._stage, "window": list(self._window)}

    def load_state(self, state: dict[str, Any]) -> None:
        self._enter(int(state.get("stage", 0)))
        self._window.extend(float(score) for score in state.get("window", []))
