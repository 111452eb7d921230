"""Shared test fixtures that must be importable by name (from spawned processes and by
checkpoint/serialisation round trips): environment config models and a small evicting
algorithm.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, Field

from agora import CurriculumAlgorithm, CurriculumAlgorithmConfig, TaskGeneratorConfig
from agora.pool import SlotField, TaskPool


class AgentConfig(BaseModel):
    speed: float = 1.0
    vision: int = 5
    inventory: dict[str, int] = Field(default_factory=lambda: {"ore": 0})


class ObjectConfig(BaseModel):
    hp: int = 1
    cooldown: int = 0


class GameConfig(BaseModel):
    """A nested config: models inside models and inside dicts, plus plain dicts."""

    num_agents: int = 4
    width: int = 10
    height: int = 10
    agent: AgentConfig = Field(default_factory=AgentConfig)
    rewards: dict[str, float] = Field(default_factory=lambda: {"heart": 1.0, "ore": 0.1})
    objects: dict[str, ObjectConfig] = Field(
        default_factory=lambda: {"altar": ObjectConfig(hp=3), "mine": ObjectConfig()}
    )


class MazeConfig(BaseModel):
    """A flat config unrelated to :class:`GameConfig`."""

    size: int = 5
    wall_density: float = 0.2
    name: str = "maze"


def generate_dumps(generator_json: str, task_ids: list[int]) -> list[dict[str, Any]]:
    """Build a fresh generator from JSON and dump the configs of ``task_ids`` (run in a child)."""
    generator = TaskGeneratorConfig.from_json(generator_json).create()
    return [generator.get_task(task_id).model_dump() for task_id in task_ids]


class EvictPlayedConfig(CurriculumAlgorithmConfig):
    """Uniform sampling that evicts every task once it reached the presentation minimum."""

    type: str = "core_models.EvictPlayedConfig"

    def pool_fields(self) -> tuple[SlotField, ...]:
        return (("best", "d", 1), ("recent", "f", 3))

    def create(self, pool: TaskPool) -> EvictPlayed:
        return EvictPlayed(self, pool)


class EvictPlayed(CurriculumAlgorithm):
    evicts = True
    config: EvictPlayedConfig

    def __init__(self, config: EvictPlayedConfig, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self.num_updates = 0
        self.unserialisable = False

    def update(self, slot: int, score: float) -> None:
        self.num_updates += 1
        best = self.pool.view("best")
        best[slot] = max(best[slot], score)
        recent = self.pool.array("recent")
        recent[slot, :-1] = recent[slot, 1:]
        recent[slot, -1] = score

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return 1.0 + self.pool.array("best")[slots]

    def eviction_candidates(
        self, slots: npt.NDArray[np.intp], min_presentations: int, limit: int
    ) -> npt.NDArray[np.intp]:
        return slots[self.pool.array("completions")[slots] >= min_presentations][:limit]

    def stats(self) -> dict[str, float]:
        return {"num_updates": self.num_updates}

    def get_state(self) -> dict[str, Any]:
        # ``unserialisable`` lets a test make a checkpoint that cannot be written.
        return {"num_updates": object() if self.unserialisable else self.num_updates}

    def load_state(self, state: dict[str, Any]) -> None:
        self.num_updates = int(state["num_updates"])
