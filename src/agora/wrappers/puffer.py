"""PufferLib adapter: :class:`CurriculumEnv` plays curriculum tasks in any ``PufferEnv``.

Native PufferLib envs reset themselves when an episode ends, so the wrapper works at the
episode boundary seen in ``step``: when every agent is terminated (or every agent
truncated) it reports the episode score, takes the next task and hands its config to the
env, which starts playing it with the episode that follows. The first task is taken when
the wrapper is built, so it may be stepped before any ``reset``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from typing import Any

import numpy as np

from agora.curriculum import CurriculumConfig
from agora.handles import CurriculumLike
from agora.runlog import RunLog
from agora.wrappers._common import (
    ApplyConfig,
    DrivenWrapper,
    ScoreRange,
    checked_stats_interval,
    missing_extra,
    require_method,
    resolve_apply_config,
)

try:
    from pufferlib import PufferEnv
except ImportError as exc:  # pufferlib-core, or the torch it imports, is missing
    raise missing_extra("pufferlib", "puffer", exc) from exc

__all__ = ["MAX_TASK_ATTEMPTS", "CurriculumEnv", "mean_episode_reward"]

MAX_TASK_ATTEMPTS = 10
"""Tasks tried in a row when the env refuses their configs, before the last error is raised."""

EpisodeScore = Callable[[Any], float]
"""``episode_score(env)``: the score of the episode that just ended in ``env``."""
EpisodePriority = Callable[[Any], float | None]
"""``episode_priority(env)``: a priority score for PLR of the episode that just ended (None: none)."""


def mean_episode_reward(env: Any) -> float:
    """MettaGrid's convention: the episode return of each agent, averaged over agents."""
    return float(np.mean(env.get_episode_rewards()))


def _buffer(name: str) -> property:
    """A buffer attribute read from and written to the wrapped env, which owns the arrays."""

    def get(self: CurriculumEnv) -> Any:
        return getattr(self.env, name)

    def set_(self: CurriculumEnv, value: Any) -> None:
        setattr(self.env, name, value)

    return property(get, set_, doc=f"The wrapped env's ``{name}`` buffer.")


class CurriculumEnv(PufferEnv, DrivenWrapper):  # type: ignore[misc]  # pufferlib is untyped
    """A ``PufferEnv`` that plays the tasks of a curriculum in the env it wraps.

    Args:
        env: the ``PufferEnv`` to wrap (for example ``MettaGridPufferEnv``), already built
            with the ``buf`` a vectoriser passed to the env creator.
        curriculum: a :class:`~agora.Curriculum` (shared by all wrappers holding it, in one
            process) or a :class:`~agora.CurriculumConfig` (each wrapper builds its own;
            processes share one pool when the algorithm config has ``use_shared_memory=True``
            and a ``session_id``).
        apply_config: ``apply_config(env, config)`` makes the env play ``config`` from its
            next episode on. Default: ``env.set_mg_config(config)``.
        episode_score: ``episode_score(env)`` returns the score of the episode that just
            ended. Default: ``env.get_episode_rewards()`` averaged over agents.
        episode_priority: ``episode_priority(env)`` returns a priority score for PLR of the
            episode that just ended (reported beside the score), or None. Default: none.
        score_range: ``(low, high)`` episode scores mapped onto [0, 1] (linear, clipped), for
            learning progress, which reads scores as success rates.
        stats_interval: curriculum statistics are added to ``info`` (keys starting with
            ``env_curriculum/``) once every this many steps.
        run_log: an :class:`~agora.RunLog` that counts every episode (for ``agora report``).

    When ``apply_config`` raises ``ValueError`` or ``AssertionError`` for a task (a config the
    env cannot play), the wrapper warns and takes another task, up to
    :data:`MAX_TASK_ATTEMPTS` in a row; the refused task gets no score (it was not played).

    Everything else (spaces, ``render``, ``notify``, ...) is delegated to ``env``; the
    buffers (``observations``, ``rewards``, ...) are the wrapped env's own arrays.
    """

    def __init__(
        self,
        env: Any,
        curriculum: CurriculumLike[Any] | CurriculumConfig,
        *,
        apply_config: ApplyConfig | None = None,
        episode_score: EpisodeScore | None = None,
        episode_priority: EpisodePriority | None = None,
        score_range: ScoreRange | None = None,
        stats_interval: int = 1000,
        run_log: RunLog | None = None,
    ) -> None:
        # PufferEnv.__init__ is not called: it would allocate a second set of buffers, while
        # the wrapped env already owns them (possibly slices of a vectoriser's shared memory).
        self._apply_config = resolve_apply_config(env, apply_config)
        if episode_score is None:
            require_method(env, "get_episode_rewards", "episode_score")
            episode_score = mean_episode_reward
        self.env = env
        self._init_driver(curriculum, stats_interval, score_range, run_log)
        self._episode_score = episode_score
        self._episode_priority = episode_priority
        self._steps = 0  # steps so far
        self._stats_interval = self._driver.stats_interval
        self._next_stats = self._stats_interval  # the step count of the next statistics report
        self.single_observation_space = env.single_observation_space
        self.single_action_space = env.single_action_space
        self.num_agents = env.num_agents
        self._start_task()
        # The step count when the current task was taken, while no reset has begun it: reset()
        # keeps a task not stepped since (-1: begun). Set at task starts only, so a step pays
        # nothing for it.
        self._fresh_at = 0

    observations = _buffer("observations")
    rewards = _buffer("rewards")
    terminals = _buffer("terminals")
    truncations = _buffer("truncations")
    masks = _buffer("masks")
    actions = _buffer("actions")
    teacher_actions = _buffer("teacher_actions")

    def __getattr__(self, name: str) -> Any:
        # Only reached for attributes this class does not define.
        if name == "env":  # not set yet (during __init__): avoid infinite recursion
            raise AttributeError(name)
        return getattr(self.env, name)

    @property
    def emulated(self) -> Any:
        return self.env.emulated

    @property
    def done(self) -> Any:
        return self.env.done

    def _start_task(self) -> None:
        """Take the next task and hand its config to the env, trying others if the env refuses it."""
        for attempt in range(1, MAX_TASK_ATTEMPTS + 1):
            task = self._driver.next_task()
            try:
                self._apply_config(self.env, task.get_env_cfg())
                return
            except (ValueError, AssertionError) as exc:
                if attempt == MAX_TASK_ATTEMPTS:
                    raise RuntimeError(
                        f"the env refused the configs of {MAX_TASK_ATTEMPTS} tasks in a row; the last, "
                        f"task {task.task_id}, with: {exc}"
                    ) from exc
                warnings.warn(
                    f"agora: the env refused the config of task {task.task_id} ({exc}); taking another task "
                    f"(attempt {attempt} of {MAX_TASK_ATTEMPTS})",
                    RuntimeWarning,
                    stacklevel=3,
                )

    def reset(self, seed: int | None = None) -> tuple[Any, Any]:
        """Start a new task, or the task taken since the last step if none of it was played yet.

        A task whose episode was cut short by this reset is not scored.
        """
        if self._steps != self._fresh_at:
            self._start_task()
        self._fresh_at = -1
        return self.env.reset(seed=seed)  # type: ignore[no-any-return]

    def step(self, actions: Any, **kwargs: Any) -> tuple[Any, Any, Any, Any, Any]:
        """Step the env (``kwargs`` go to its ``step``); at an episode end, score it, start the next task."""
        obs, rewards, terminals, truncations, infos = (
            self.env.step(actions, **kwargs) if kwargs else self.env.step(actions)
        )
        self._steps = steps = self._steps + 1
        # Agent 0 is checked first so that the common, mid-episode step costs two lookups.
        if (terminals[0] or truncations[0]) and (terminals.all() or truncations.all()):
            driver = self._driver
            priority = None if self._episode_priority is None else self._episode_priority(self.env)
            driver.finish(driver.scaled(self._episode_score(self.env)), priority)
            self._start_task()
            self._fresh_at = steps
        if steps >= self._next_stats:
            self._next_stats = steps + self._stats_interval
            stats = self._driver.stats()
            infos = [*infos, stats] if isinstance(infos, list) else {**(infos or {}), **stats}
        return obs, rewards, terminals, truncations, infos

    def set_stats_update_frequency(self, frequency: int) -> None:
        """Add curriculum statistics to ``info`` every ``frequency`` steps from now on."""
        # This wrapper counts all its steps (the task-start logic reads the count): move the due step.
        self._stats_interval = self._driver.stats_interval = checked_stats_interval(frequency)
        self._next_stats = self._steps + self._stats_interval

    def force_stats_update(self) -> None:
        """Add curriculum statistics to the next step's ``info``, whatever the interval."""
        self._next_stats = self._steps + 1

    def close(self) -> None:
        self.env.close()
        self._driver.close()
