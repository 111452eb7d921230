"""MettaGrid helpers: curricula over ``MettaGridConfig`` and ready-made wrapped envs.

``single_task``, ``bucketed``, ``merge`` and ``env_curriculum`` are the generic helpers
of :mod:`agora.helpers` with :class:`MettaGridInvariants` attached: a trainer sizes its
buffers and policy from the first env it sees, so every task must keep the agent count,
the number of resources and the number of enabled actions of the first one. A task that
changes any of them raises :class:`~agora.InvariantViolation` naming the task and the field
when it is generated, instead of a shape error deep inside training.

>>> from mettagrid.builder.envs import make_arena
>>> from agora.integrations import mettagrid as mg
>>> tasks = mg.bucketed(make_arena(num_agents=4)).add_bucket("game.max_steps", [100, 200])
>>> curriculum = tasks.to_curriculum(num_active_tasks=8).make()
>>> curriculum.get_task().get_env_cfg().game.max_steps in (100, 200)
True
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel

from agora import helpers
from agora.curriculum import CurriculumConfig
from agora.generators import BucketedTaskGenerator, InvariantRule, SingleTaskGenerator, TaskGeneratorSet
from agora.generators.base import TaskGeneratorConfig
from agora.handles import CurriculumLike
from agora.runlog import RunLog
from agora.wrappers._common import missing_extra

try:
    from mettagrid.config.mettagrid_config import MettaGridConfig
    from mettagrid.simulator import Simulator
except ImportError as exc:
    raise missing_extra("mettagrid", "mettagrid", exc) from exc

if TYPE_CHECKING:
    from agora.wrappers.pettingzoo import PettingZooCurriculumWrapper
    from agora.wrappers.puffer import CurriculumEnv

__all__ = [
    "MettaGridInvariants",
    "bucketed",
    "env_curriculum",
    "make_pettingzoo_env",
    "make_puffer_env",
    "merge",
    "set_pettingzoo_config",
    "single_task",
]


class MettaGridInvariants(InvariantRule):
    """Agent count, resource count and enabled-action count must equal the first task's."""

    def values(self, config: BaseModel) -> dict[str, Any]:
        if not isinstance(config, MettaGridConfig):
            raise TypeError(f"MettaGridInvariants checks MettaGridConfig tasks, got {type(config).__name__}")
        game = config.game
        return {
            "game.num_agents": game.num_agents,
            "len(game.resource_names)": len(game.resource_names),
            "enabled actions (len(game.actions.actions()))": len(game.actions.actions()),
        }


def _guarded(generator: TaskGeneratorConfig[Any]) -> TaskGeneratorConfig[Any]:
    if not any(isinstance(rule, MettaGridInvariants) for rule in generator.invariants):
        generator.invariants = [*generator.invariants, MettaGridInvariants()]
    return generator


def single_task(config: MettaGridConfig, *, label: str | None = None) -> SingleTaskGenerator.Config:
    """A generator that always returns ``config``."""
    return _guarded(helpers.single_task(config, label=label))  # type: ignore[return-value]


def bucketed(config: MettaGridConfig, *, label: str | None = None) -> BucketedTaskGenerator.Config:
    """A bucketed generator over ``config``; add buckets with ``.add_bucket(path, values)``."""
    return _guarded(helpers.bucketed(config, label=label))  # type: ignore[return-value]


def merge(
    generators: Sequence[TaskGeneratorConfig[Any]],
    weights: Sequence[float] | None = None,
    *,
    label: str | None = None,
) -> TaskGeneratorSet.Config:
    """A weighted set of generators whose tasks must all share the invariants."""
    return _guarded(helpers.merge(generators, weights, label=label))  # type: ignore[return-value]


def env_curriculum(config: MettaGridConfig, **kwargs: Any) -> CurriculumConfig:
    """A curriculum over the single task ``config`` (keyword arguments go to CurriculumConfig)."""
    return CurriculumConfig(task_generator=single_task(config), **kwargs)


def _first_config(curriculum: CurriculumLike[Any] | CurriculumConfig) -> MettaGridConfig:
    """A config of this curriculum to size the env with (the invariants make every task fit)."""
    if isinstance(curriculum, CurriculumConfig):
        config = curriculum.task_generator.create().get_task(0)
    else:  # a Curriculum or a Ray client: either has its generator built already
        config = curriculum.task_generator.get_task(0)
    if not isinstance(config, MettaGridConfig):
        raise TypeError(f"the curriculum's tasks are {type(config).__name__}, not MettaGridConfig")
    return config


def make_puffer_env(
    curriculum: CurriculumLike[Any] | CurriculumConfig,
    buf: Any = None,
    seed: int = 0,
    *,
    stats_interval: int = 1000,
    run_log: RunLog | None = None,
    **env_kwargs: Any,
) -> CurriculumEnv:
    """A ``MettaGridPufferEnv`` wrapped in :class:`~agora.wrappers.puffer.CurriculumEnv`.

    Its signature fits a ``pufferlib.vector`` env creator::

        vecenv = pufferlib.vector.make(functools.partial(make_puffer_env, curriculum_config), ...)

    With a :class:`~agora.CurriculumConfig` each env builds its own curriculum (shared across
    processes when it has ``use_shared_memory=True`` and a ``session_id``); a
    :class:`~agora.Curriculum` is shared by the envs of one process.
    ``env_kwargs`` go to ``MettaGridPufferEnv``; ``run_log`` to the wrapper.
    """
    from mettagrid.envs.mettagrid_puffer_env import MettaGridPufferEnv

    from agora.wrappers.puffer import CurriculumEnv

    env = MettaGridPufferEnv(Simulator(), _first_config(curriculum), buf=buf, seed=seed, **env_kwargs)
    return CurriculumEnv(env, curriculum, stats_interval=stats_interval, run_log=run_log)


def set_pettingzoo_config(env: Any, config: MettaGridConfig) -> None:
    """Make ``MettaGridPettingZooEnv`` play ``config`` from its next ``reset``.

    That env has no public setter: its ``reset`` builds the simulation from ``env._cfg``.
    """
    base = getattr(env, "unwrapped", env)
    if not hasattr(base, "_cfg"):
        raise TypeError(f"{type(base).__name__} is not a MettaGridPettingZooEnv (it has no _cfg to set)")
    base._cfg = config


def make_pettingzoo_env(
    curriculum: CurriculumLike[Any] | CurriculumConfig,
    *,
    stats_interval: int = 1000,
    run_log: RunLog | None = None,
    **env_kwargs: Any,
) -> PettingZooCurriculumWrapper:
    """A ``MettaGridPettingZooEnv`` in a PettingZooCurriculumWrapper (``env_kwargs`` go to the env)."""
    from mettagrid.envs.pettingzoo_env import MettaGridPettingZooEnv

    from agora.wrappers.pettingzoo import PettingZooCurriculumWrapper

    env = MettaGridPettingZooEnv(Simulator(), _first_config(curriculum), **env_kwargs)
    return PettingZooCurriculumWrapper(
        env, curriculum, apply_config=set_pettingzoo_config, stats_interval=stats_interval, run_log=run_log
    )
