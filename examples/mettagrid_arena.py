"""MettaGrid arena curriculum (after the arena recipe of the system agora came from).

Each task is the arena with its own inventory rewards and attack cost:

- for ore, batteries, lasers and armor, a reward weight per item held (0, anything in
  0.1-0.9 via ``Span``, or 1) and a cap on how many items count (1 or 2);
- the laser cost of an attack: 1 (combat) or 100 (attacks effectively off; the action
  space stays the same, which the invariant rule requires).

Runs a few hundred steps of random actions in ``pufferlib.vector.Serial`` envs sharing one
curriculum and prints its statistics::

    python examples/mettagrid_arena.py --agents 4 --envs 2 --steps 300
"""

from __future__ import annotations

import argparse
from functools import partial
from typing import Any

import numpy as np
import pufferlib.vector
from mettagrid.builder.envs import make_arena
from mettagrid.config.mettagrid_config import MettaGridConfig
from mettagrid.config.reward_config import inventoryReward

import agora
from agora.integrations import mettagrid as mg

ITEMS = ("ore_red", "battery_red", "laser", "armor")


def make_env(num_agents: int = 24, max_steps: int = 1000) -> MettaGridConfig:
    """The arena, with a (zero-weight) reward for each bucketed item for the buckets to set."""
    env = make_arena(num_agents=num_agents)
    env.game.max_steps = max_steps
    for item in ITEMS:
        env.game.agent.rewards[item] = inventoryReward(item, weight=0.0, max=1)
    return env


def make_curriculum(env: MettaGridConfig | None = None, **kwargs: Any) -> agora.CurriculumConfig:
    """Arena tasks sampled by learning progress; keyword arguments go to ``CurriculumConfig``."""
    kwargs.setdefault("algorithm_config", agora.LearningProgressConfig())
    tasks = mg.bucketed(env or make_env())
    for item in ITEMS:
        # inventoryReward(item, weight=w, max=m) is min(w * count, m): weights.0 is w, values.1 is m.
        reward = f"game.agent.rewards.{item}.reward"
        tasks.add_bucket(f"{reward}.values.0.weights.0", [0.0, agora.Span(0.1, 0.9), 1.0])
        tasks.add_bucket(f"{reward}.values.1.value", [1, 2])
    tasks.add_bucket("game.actions.attack.consumed_resources.laser", [1, 100])
    return tasks.to_curriculum(**kwargs)


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--agents", type=int, default=24)
    parser.add_argument("--envs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=300, help="vector steps of random actions")
    parser.add_argument("--max-steps", type=int, default=100, help="episode length")
    parser.add_argument("--tasks", type=int, default=1000, help="active tasks in the pool")
    args = parser.parse_args(argv)

    config = make_curriculum(make_env(args.agents, args.max_steps), num_active_tasks=args.tasks)
    curriculum = config.make()
    vecenv = pufferlib.vector.make(
        partial(mg.make_puffer_env, curriculum), num_envs=args.envs, backend=pufferlib.vector.Serial
    )
    rng = np.random.default_rng(0)
    vecenv.reset()
    for _ in range(args.steps):
        vecenv.step(rng.integers(0, vecenv.single_action_space.n, size=vecenv.num_agents))
    vecenv.close()
    stats = curriculum.stats()
    for key, value in sorted(stats.items()):
        print(f"{key:40s} {value:g}")
    return stats


if __name__ == "__main__":
    main()
