"""PettingZooCurriculumWrapper with MettaGrid's PettingZoo env."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import agora
from mettagrid_envs import small_arena
from optional_deps import require

require("mettagrid")
require("pettingzoo")
gymnasium = require("gymnasium")

from pettingzoo import ParallelEnv  # noqa: E402
from pettingzoo.test import parallel_api_test  # noqa: E402

from agora.integrations import mettagrid as mg  # noqa: E402
from agora.wrappers.pettingzoo import PettingZooCurriculumWrapper  # noqa: E402


def arena_curriculum(**kwargs: Any) -> agora.CurriculumConfig:
    gen = mg.bucketed(small_arena(num_agents=2)).add_bucket("game.max_steps", [3, 6])
    gen.label = "arena"
    return gen.to_curriculum(num_active_tasks=8, seed=2, **kwargs)


def test_each_episode_plays_its_task_and_is_scored() -> None:
    curriculum = arena_curriculum().make()
    env = mg.make_pettingzoo_env(curriculum)
    rng = np.random.default_rng(0)
    lengths = set()
    for episode in range(8):
        _, infos = env.reset(seed=episode)
        task = env.current_task
        assert set(infos) == set(env.possible_agents)
        for info in infos.values():
            assert info["env_curriculum/task_id"] == task.task_id
            assert info["env_curriculum/task_label"] == "arena"
        returns = dict.fromkeys(env.possible_agents, 0.0)
        steps = 0
        while env.agents:
            actions = {agent: int(rng.integers(0, 5)) for agent in env.agents}
            _, rewards, _, _, infos = env.step(actions)
            steps += 1
            for agent, reward in rewards.items():
                returns[agent] += reward
            assert all(info["env_curriculum/task_id"] == task.task_id for info in infos.values())
        assert steps == task.get_env_cfg().game.max_steps  # the task's config reached the env
        lengths.add(steps)
        assert env.current_task is None
        assert task.num_completions >= 1
        assert env.num_episodes == episode + 1
    assert lengths == {3, 6}
    assert curriculum.stats()["num_completed"] == 8
    env.close()


class Relay(BaseModel):
    length: int = 3
    reports_success: bool = False


class RelayEnv(ParallelEnv):  # type: ignore[misc]
    """Two agents; agent ``i`` earns ``i + 1`` per step; optionally reports success at the end."""

    metadata: dict[str, Any] = {"name": "relay_v0"}  # noqa: RUF012

    def __init__(self) -> None:
        self.possible_agents = [0, 1]
        self.agents: list[int] = []
        self.task = Relay()
        self.t = 0

    def observation_space(self, agent: int) -> Any:
        return gymnasium.spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)

    def action_space(self, agent: int) -> Any:
        return gymnasium.spaces.Discrete(2)

    def reset(self, seed: int | None = None, options: dict[str, Any] | None = None) -> Any:
        self.agents, self.t = list(self.possible_agents), 0
        return {a: np.zeros(1, dtype=np.float32) for a in self.agents}, {a: {} for a in self.agents}

    def step(self, actions: dict[int, int]) -> Any:
        self.t += 1
        done = self.t >= self.task.length
        agents = self.agents
        infos: dict[int, dict[str, Any]] = {a: {} for a in agents}
        if done and self.task.reports_success:
            infos = {a: {"success": bool(actions[a])} for a in agents}
        self.agents = [] if done else agents
        obs = {a: np.full(1, self.t, dtype=np.float32) for a in agents}
        return (
            obs,
            {a: float(a + 1) for a in agents},
            dict.fromkeys(agents, done),
            dict.fromkeys(agents, False),
            infos,
        )


def set_relay(env: RelayEnv, config: Relay) -> None:
    env.task = config


def test_score_is_the_mean_return_unless_agents_report_success() -> None:
    gen = agora.bucketed(Relay()).add_bucket("length", [2, 4]).add_bucket("reports_success", [False, True])
    curriculum = gen.to_curriculum(num_active_tasks=8).make()
    env = PettingZooCurriculumWrapper(RelayEnv(), curriculum, apply_config=set_relay)
    seen = set()
    for _ in range(12):
        env.reset()
        task = env.current_task
        cfg = task.get_env_cfg()
        before = task.num_completions * task.mean_score
        while env.agents:
            env.step({0: 1, 1: 0})  # agent 0 succeeds, agent 1 fails
        score = task.num_completions * task.mean_score - before
        seen.add(cfg.reports_success)
        if cfg.reports_success:
            assert score == pytest.approx(0.5)  # mean of the agents' success values
        else:
            assert score == pytest.approx(1.5 * cfg.length)  # (1 + 2) / 2 agents per step
    assert seen == {False, True}


def test_score_range_scales_the_mean_return_but_not_success() -> None:
    gen = agora.bucketed(Relay()).add_bucket("length", [2, 4]).add_bucket("reports_success", [False, True])
    curriculum = gen.to_curriculum(num_active_tasks=8).make()
    env = PettingZooCurriculumWrapper(RelayEnv(), curriculum, apply_config=set_relay, score_range=(0, 12))
    seen = set()
    for _ in range(12):
        env.reset()
        task = env.current_task
        cfg = task.get_env_cfg()
        before = task.num_completions * task.mean_score
        while env.agents:
            env.step({0: 1, 1: 0})
        score = task.num_completions * task.mean_score - before
        seen.add(cfg.reports_success)
        assert score == pytest.approx(0.5 if cfg.reports_success else 1.5 * cfg.length / 12)
    assert seen == {False, True}


def test_passes_the_pettingzoo_parallel_api_test() -> None:
    env = mg.make_pettingzoo_env(arena_curriculum())
    parallel_api_test(env, num_cycles=20)


def test_statistics_go_to_the_first_agent_every_k_steps() -> None:
    env = mg.make_pettingzoo_env(arena_curriculum(), stats_interval=5)
    env.reset()
    reports = []
    for step in range(1, 16):
        if not env.agents:
            env.reset()
        _, _, _, _, infos = env.step(dict.fromkeys(env.agents, 0))
        first, *others = infos.values()
        if "env_curriculum/num_completed" in first:
            reports.append(step)
            assert first["env_curriculum/label/arena/num_active"] == 8
        assert not any("env_curriculum/num_completed" in info for info in others)
    assert reports == [5, 10, 15]


def test_default_apply_config_needs_set_mg_config() -> None:
    from mettagrid.envs.pettingzoo_env import MettaGridPettingZooEnv
    from mettagrid.simulator import Simulator

    with pytest.raises(TypeError, match=r"MettaGridPettingZooEnv has no set_mg_config\(\)"):
        PettingZooCurriculumWrapper(MettaGridPettingZooEnv(Simulator(), small_arena()), arena_curriculum())


def test_the_agents_mean_priority_reaches_plr() -> None:
    from agora.algorithms import PLRConfig

    class PriorityRelayEnv(RelayEnv):  # type: ignore[misc]
        def step(self, actions: dict[int, int]) -> Any:
            obs, rewards, terms, truncs, infos = super().step(actions)
            if not self.agents:
                infos = {a: {**infos.get(a, {}), "agora_priority": float(i)} for i, a in enumerate(rewards)}
            return obs, rewards, terms, truncs, infos

    gen = agora.bucketed(Relay()).add_bucket("length", [2, 4])
    config = gen.to_curriculum(num_active_tasks=4, seed=0, algorithm_config=PLRConfig(evict=False))
    env = PettingZooCurriculumWrapper(PriorityRelayEnv(), config, apply_config=set_relay, score_range=(0, 12))
    _, infos = env.reset(seed=0)
    assert all(info["env_curriculum/is_replay"] is False for info in infos.values())
    task_id = env.current_task.task_id  # type: ignore[union-attr]
    while env.agents:
        env.step({agent: 0 for agent in env.agents})
    curriculum = env.curriculum
    assert isinstance(curriculum, agora.Curriculum)
    slot = curriculum.pool.slot_of(task_id)
    assert curriculum.pool.array("plr_score")[slot] == 0.5  # the mean of the agents' 0 and 1
    env.close()
