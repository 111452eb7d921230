"""A generator that always returns the same config."""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel, Field, SerializeAsAny, model_validator

from agora.config import TConfig, import_path, load_symbol
from agora.generators.base import GeneratedTask, TaskGenerator, TaskGeneratorConfig

__all__ = ["SingleTaskGenerator"]


class SingleTaskGenerator(TaskGenerator[TConfig]):
    """Every task id maps to a deep copy of one config (plus the generator's overrides)."""

    class Config(TaskGeneratorConfig["SingleTaskGenerator[Any]"]):
        env: SerializeAsAny[BaseModel] = Field(description="The config every task returns.")
        env_type: str = Field(
            default="", description="Import path of the env config class, filled in automatically."
        )

        @model_validator(mode="before")
        @classmethod
        def _resolve_env_type(cls, data: Any) -> Any:
            # Remember the config class so JSON/YAML round trips rebuild the same type, and keep
            # a private copy so later edits of the caller's model cannot change task ids' configs.
            if not isinstance(data, dict):
                return data
            env = data.get("env")
            if isinstance(env, BaseModel):
                return {**data, "env": env.model_copy(deep=True), "env_type": import_path(type(env))}
            if isinstance(env, dict):
                if not data.get("env_type"):
                    raise ValueError("`env` given as a dict needs `env_type` (import path of its model)")
                env_cls = load_symbol(data["env_type"])
                return {**data, "env": env_cls.model_validate(env)}
            return data

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._env: TConfig = config.env  # type: ignore[assignment]

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[TConfig]:
        return GeneratedTask(task_id, lambda: self._env.model_copy(deep=True))
