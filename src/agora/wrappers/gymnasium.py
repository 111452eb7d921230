"""Gymnasium adapter: :class:`GymnasiumCurriculumWrapper` plays one curriculum task per episode.

At ``reset`` the wrapper takes the next task and applies its config before resetting the
env; when the episode ends (terminated or truncated) it reports the score. The score is the
episode return, unless the env puts a success value in the final step's ``info`` under
``success_key`` (default ``"success"``; booleans count as 0 or 1), which is then used.
Learning progress reads scores as success rates in [0, 1]: for returns on another scale pass
``score_range=(low, high)``, which maps returns linearly onto [0, 1]; without either, the first
score outside [0, 1] warns once.

A priority score for PLR (e.g. a value error the env or an inner wrapper computed) may come in
the final ``info`` under ``priority_key`` (default ``"agora_priority"``); it is reported beside
the score (``update_task_performance(task_id, score, priority=...)``).

Every ``info`` carries the task: ``info["env_curriculum/task_id"]``,
``info["env_curriculum/task_label"]`` and ``info["env_curriculum/is_replay"]`` (whether the
task had a score when it was handed out: Robust PLR skips gradient updates on the others).
Every ``stats_interval`` steps it also carries the curriculum statistics (keys starting with
``env_curriculum/``).
"""

from __future__ import annotations

from typing import Any, SupportsFloat

from agora.curriculum import CurriculumConfig
from agora.handles import CurriculumLike
from agora.runlog import RunLog
from agora.wrappers._common import (
    PRIORITY_KEY,
    TASK_ID_KEY,
    TASK_LABEL_KEY,
    TASK_REPLAY_KEY,
    ApplyConfig,
    DrivenWrapper,
    ScoreRange,
    missing_extra,
    resolve_apply_config,
)

try:
    import gymnasium
except ImportError as exc:
    raise missing_extra("gymnasium", "gymnasium", exc) from exc

__all__ = ["SUCCESS_KEY", "GymnasiumCurriculumWrapper"]

SUCCESS_KEY = "success"
"""Default ``info`` key of an episode's success value, read when the episode ends."""


class GymnasiumCurriculumWrapper(gymnasium.Wrapper, DrivenWrapper):
    """Applies a curriculum task at each ``reset`` and reports its score at the episode end.

    Args:
        env: the Gymnasium env to wrap.
        curriculum: a :class:`~agora.Curriculum` or a :class:`~agora.CurriculumConfig` (built
            here; with a shared-memory algorithm config, processes share one pool, which is
            how ``AsyncVectorEnv`` workers share a curriculum).
        apply_config: ``apply_config(env, config)`` makes the env play ``config`` at its next
            reset; it receives the unwrapped env. Default: ``env.unwrapped.set_mg_config(config)``.
        success_key: ``info`` key of a success value that replaces the return as the score.
        priority_key: ``info`` key of a priority score reported beside it, if the final info has one.
        score_range: ``(low, high)`` returns that score 0 and 1 (linear between, clipped).
        stats_interval: steps between curriculum statistics in ``info``.
        run_log: an :class:`~agora.RunLog` that counts every episode (for ``agora report``).
    """

    def __init__(
        self,
        env: gymnasium.Env[Any, Any],
        curriculum: CurriculumLike[Any] | CurriculumConfig,
        *,
        apply_config: ApplyConfig | None = None,
        success_key: str = SUCCESS_KEY,
        priority_key: str = PRIORITY_KEY,
        score_range: ScoreRange | None = None,
        stats_interval: int = 1000,
        run_log: RunLog | None = None,
    ) -> None:
        super().__init__(env)
        self._apply_config = resolve_apply_config(env.unwrapped, apply_config)
        self._init_driver(curriculum, stats_interval, score_range, run_log)
        self._success_key = success_key
        self._priority_key = priority_key
        self._return = 0.0
        self._task_info: dict[str, Any] = {}

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start the next task. A task whose episode this reset cuts short is not scored."""
        task = self._driver.next_task()
        self._apply_config(self.env.unwrapped, task.get_env_cfg())
        self._task_info = {
            TASK_ID_KEY: task.task_id,
            TASK_LABEL_KEY: task.get_label(),
            TASK_REPLAY_KEY: task.is_replay,
        }
        self._return = 0.0
        obs, info = self.env.reset(seed=seed, options=options)
        return obs, {**info, **self._task_info}

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self._return += float(reward)
        out = {**info, **self._task_info}
        if terminated or truncated:
            success = info.get(self._success_key)
            driver = self._driver
            driver.finish(
                driver.scaled(self._return) if success is None else float(success),
                info.get(self._priority_key),
            )
        self._steps += 1
        if self._steps >= self._stats_interval:
            self._steps = 0
            out.update(self._driver.stats())
        return obs, reward, terminated, truncated, out

    def close(self) -> None:
        super().close()
        self._driver.close()
