"""PettingZoo adapter: :class:`PettingZooCurriculumWrapper` for ``ParallelEnv``.

Same behaviour as the Gymnasium wrapper, for many agents: the task is applied at
``reset``; the episode ends when no agent is left in ``env.agents``; the score is the
episode return averaged over the agents present at ``reset``, unless agents report a success
value in their final ``info`` under ``success_key`` (default ``"success"``), in which case it
is the mean of the reported values; ``score_range`` scales returns onto [0, 1] as in the
Gymnasium wrapper. Priorities for PLR under ``priority_key`` (default ``"agora_priority"``) in
agents' final ``info`` are averaged the same way and reported beside the score. Every agent's
``info`` carries ``env_curriculum/task_id``, ``env_curriculum/task_label`` and
``env_curriculum/is_replay``; every ``stats_interval`` steps
the first agent's ``info`` also carries the curriculum statistics.
"""

from __future__ import annotations

from typing import Any

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
from agora.wrappers.gymnasium import SUCCESS_KEY

try:
    from pettingzoo.utils.wrappers import BaseParallelWrapper
except ImportError as exc:
    raise missing_extra("pettingzoo", "pettingzoo", exc) from exc

__all__ = ["PettingZooCurriculumWrapper"]


class PettingZooCurriculumWrapper(BaseParallelWrapper, DrivenWrapper):  # type: ignore[misc]  # pettingzoo is untyped
    """Applies a curriculum task at each ``reset`` and reports its score when all agents are done.

    Arguments as for :class:`~agora.wrappers.gymnasium.GymnasiumCurriculumWrapper`;
    ``apply_config`` receives ``env.unwrapped``. For MettaGrid's PettingZoo env use
    :func:`agora.integrations.mettagrid.make_pettingzoo_env`.
    """

    def __init__(
        self,
        env: Any,
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
        self._num_agents = 1
        self._task_info: dict[str, Any] = {}

    def reset(
        self, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[dict[Any, Any], dict[Any, dict[str, Any]]]:
        """Start the next task. A task whose episode this reset cuts short is not scored."""
        task = self._driver.next_task()
        self._apply_config(self.env.unwrapped, task.get_env_cfg())
        self._task_info = {
            TASK_ID_KEY: task.task_id,
            TASK_LABEL_KEY: task.get_label(),
            TASK_REPLAY_KEY: task.is_replay,
        }
        self._return = 0.0
        obs, infos = self.env.reset(seed=seed, options=options)
        self._num_agents = max(len(self.env.agents), 1)
        return obs, {agent: {**info, **self._task_info} for agent, info in infos.items()}

    def step(
        self, actions: dict[Any, Any]
    ) -> tuple[dict[Any, Any], dict[Any, Any], dict[Any, bool], dict[Any, bool], dict[Any, dict[str, Any]]]:
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self._return += sum(float(r) for r in rewards.values())
        out = {agent: {**info, **self._task_info} for agent, info in infos.items()}
        if not self.env.agents:
            key = self._success_key
            successes = [float(info[key]) for info in infos.values() if info.get(key) is not None]
            given = [
                info[self._priority_key]
                for info in infos.values()
                if info.get(self._priority_key) is not None
            ]
            priority = sum(float(p) for p in given) / len(given) if given else None
            driver = self._driver
            if successes:
                driver.finish(sum(successes) / len(successes), priority)
            else:
                driver.finish(driver.scaled(self._return / self._num_agents), priority)
        self._steps += 1
        if self._steps >= self._stats_interval and out:
            self._steps = 0
            next(iter(out.values())).update(self._driver.stats())
        return obs, rewards, terminations, truncations, out

    def close(self) -> None:
        super().close()
        self._driver.close()
