"""CurriculumEnv with real PufferLib vectorisation and real MettaGrid envs."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import BaseModel

import agora
from agora.algorithms import DiscreteRandomConfig, LearningProgressConfig
from conftest import new_session
from mettagrid_envs import small_arena
from optional_deps import require

require("mettagrid")
pufferlib = require("pufferlib")
gymnasium = require("gymnasium")
vector = require("pufferlib.vector")

from mettagrid.envs.mettagrid_puffer_env import MettaGridPufferEnv  # noqa: E402
from mettagrid.simulator import Simulator  # noqa: E402

from agora.integrations import mettagrid as mg  # noqa: E402
from agora.wrappers.puffer import MAX_TASK_ATTEMPTS, CurriculumEnv  # noqa: E402

SRC = str(Path(__file__).resolve().parents[1] / "src")


def bucketed_arena(**buckets: list[Any]) -> agora.BucketedTaskGenerator.Config:
    gen = mg.bucketed(small_arena())
    for path, values in buckets.items():
        gen.add_bucket(path.replace("__", "."), values)
    return gen


def episode_ends(terminals: npt.NDArray[np.bool_], truncations: npt.NDArray[np.bool_], n: int) -> Any:
    return terminals.reshape(n, -1).all(axis=1) | truncations.reshape(n, -1).all(axis=1)


def test_serial_envs_share_one_curriculum_and_play_each_tasks_config() -> None:
    gen = bucketed_arena(game__max_steps=[4, 7], game__map_builder__width=[6, 9])
    curriculum = gen.to_curriculum(num_active_tasks=16, seed=1).make()
    num_envs = 3
    vec = vector.make(partial(mg.make_puffer_env, curriculum), num_envs=num_envs, backend=vector.Serial)
    try:
        vec.reset()
        envs: list[CurriculumEnv] = vec.envs
        playing = [env.current_task for env in envs]
        steps = [0] * num_envs
        ends, lengths, widths = 0, set(), set()
        rng = np.random.default_rng(0)
        for _ in range(60):
            _, _, terminals, truncations, _ = vec.step(rng.integers(0, 5, size=vec.num_agents))
            ended = episode_ends(terminals, truncations, num_envs)
            for i, env in enumerate(envs):
                task_cfg = playing[i].get_env_cfg()
                width = env.env.current_simulation.map_width
                assert width == task_cfg.game.map_builder.width + 2  # the task's map is the one played
                widths.add(width)
                steps[i] += 1
                if ended[i]:
                    assert steps[i] == task_cfg.game.max_steps  # the task's episode length is the one played
                    lengths.add(steps[i])
                    ends += 1
                    steps[i] = 0
                    assert env.current_task is not playing[i]
                    playing[i] = env.current_task
        assert lengths == {4, 7}
        assert widths == {8, 11}
        assert ends > 10
        assert curriculum.stats()["num_completed"] == ends
        assert sum(env.num_episodes for env in envs) == ends
    finally:
        vec.close()


def test_multiprocessing_workers_report_every_completion() -> None:
    """Two worker processes, each with a curriculum built from the same config.

    Each worker's completion count comes back through ``info`` (statistics are reported
    every ``stats_interval`` steps), so their sum must equal the episode ends seen here.
    """
    gen = bucketed_arena(game__max_steps=[3, 5])
    config = gen.to_curriculum(num_active_tasks=8)
    interval = 30
    vec = vector.make(
        partial(mg.make_puffer_env, config, stats_interval=interval),
        num_envs=2,
        num_workers=2,
        backend=vector.Multiprocessing,
        overwork=True,
    )
    try:
        vec.reset()
        ends, lengths, steps = 0, set(), np.zeros(2, dtype=int)
        reported: list[dict[str, Any]] = []
        rng = np.random.default_rng(0)
        for _ in range(interval):
            _, _, terminals, truncations, infos = vec.step(rng.integers(0, 5, size=vec.num_agents))
            steps += 1
            ended = episode_ends(terminals, truncations, 2)
            lengths.update(steps[ended].tolist())
            steps[ended] = 0
            ends += int(ended.sum())
            reported.extend(info for info in infos if "env_curriculum/num_completed" in info)
        assert lengths == {3, 5}  # both buckets' episode lengths reached the worker envs
        assert len(reported) == 2
        assert sum(info["env_curriculum/num_completed"] for info in reported) == ends
    finally:
        vec.close()


def test_multiprocessing_workers_share_one_curriculum() -> None:
    """Workers build their curriculum from one config with a shared-memory session: one pool.

    The test process creates the session (and so owns and finally removes it); each worker's
    ``config.make()`` attaches to it. Scores are applied to the shared pool at once
    (``shared_update_batch=1``), so the count read here is exact after the last step.
    """
    session = new_session()
    algorithm = DiscreteRandomConfig(use_shared_memory=True, session_id=session, shared_update_batch=1)
    tasks = bucketed_arena(game__max_steps=[3, 5])
    config = tasks.to_curriculum(num_active_tasks=8, algorithm_config=algorithm)
    with config.make() as parent:
        vec = vector.make(
            partial(mg.make_puffer_env, config),
            num_envs=2,
            num_workers=2,
            backend=vector.Multiprocessing,
            overwork=True,
        )
        try:
            vec.reset()
            ends, lengths, steps = 0, set(), np.zeros(2, dtype=int)
            rng = np.random.default_rng(0)
            for _ in range(30):
                _, _, terminals, truncations, _ = vec.step(rng.integers(0, 5, size=vec.num_agents))
                steps += 1
                ended = episode_ends(terminals, truncations, 2)
                lengths.update(steps[ended].tolist())
                steps[ended] = 0
                ends += int(ended.sum())
            assert lengths == {3, 5}
            assert ends > 10
            assert parent.stats()["num_completed"] == ends
        finally:
            vec.close()


def test_statistics_are_batched_with_per_label_progress_and_samples() -> None:
    short = bucketed_arena(game__max_steps=[3])
    short.label = "short"
    long = bucketed_arena(game__max_steps=[5])
    long.label = "long"
    # The performance bonus makes every played task's LP positive, so no label's mean is 0 by chance.
    lp = LearningProgressConfig(sample_threshold=1, performance_bonus_weight=1.0)
    config = mg.merge([short, long]).to_curriculum(
        num_active_tasks=12, refresh_interval=4, algorithm_config=lp
    )
    curriculum = config.make()
    rng = np.random.default_rng(0)
    arena = MettaGridPufferEnv(Simulator(), small_arena())
    env = CurriculumEnv(arena, curriculum, episode_score=lambda env: rng.random(), stats_interval=10)
    env.reset()
    samples = {"short": 0, "long": 0}
    reports = []
    playing = env.current_task
    for step in range(1, 61):
        _, _, terminals, truncations, info = env.step(rng.integers(0, 5, size=env.num_agents))
        if terminals.all() or truncations.all():
            samples[playing.get_label()] += 1
            playing = env.current_task
        has_stats = any(key.startswith("env_curriculum/") for key in info)
        assert has_stats == (step % 10 == 0)
        if has_stats:
            reports.append(info)
    assert len(reports) == 6
    for label in samples:  # episode counts per label, each counted in exactly one report
        assert sum(r.get(f"env_curriculum/label/{label}/samples", 0) for r in reports) == samples[label]
    last = reports[-1]
    assert last["env_curriculum/num_completed"] == sum(samples.values())
    # Mean LP per label, checked against labels found through the generator instead of the pool.
    active = curriculum.pool.active_slots()
    ids = curriculum.pool.array("ids")[active]
    lp_scores = curriculum.pool.array("lp_score")[active]
    for label in samples:
        mine = [curriculum.generated(int(task_id)).label == label for task_id in ids]
        assert last[f"env_curriculum/label/{label}/num_active"] == sum(mine)
        assert last[f"env_curriculum/label/{label}/mean_lp"] == pytest.approx(float(lp_scores[mine].mean()))
        assert last[f"env_curriculum/label/{label}/mean_lp"] > 0


class Level(BaseModel):
    goal: int = 3


class CounterEnv(pufferlib.PufferEnv):
    """A native one-agent PufferEnv whose episodes last ``goal`` steps; no MettaGrid conventions."""

    def __init__(self, buf: Any = None, seed: int = 0) -> None:
        self.single_observation_space = gymnasium.spaces.Box(low=0, high=100, shape=(1,), dtype=np.float32)
        self.single_action_space = gymnasium.spaces.Discrete(2)
        self.num_agents = 1
        self.goal = 3
        self.played = 0
        self.next_goal = 3
        super().__init__(buf)

    def reset(self, seed: int | None = None) -> tuple[Any, list[dict[str, Any]]]:
        self.goal, self.played = self.next_goal, 0
        self.observations[:] = 0
        return self.observations, []

    def step(self, actions: Any) -> tuple[Any, Any, Any, Any, list[dict[str, Any]]]:
        if self.played == self.goal:  # auto-reset, as native PufferLib envs do
            self.reset()
        self.played += 1
        self.observations[:] = self.played
        self.rewards[:] = 1.0
        self.terminals[:] = self.played == self.goal
        return self.observations, self.rewards, self.terminals, self.truncations, []

    def close(self) -> None:
        pass


def test_other_envs_plug_in_with_two_callables() -> None:
    gen = agora.bucketed(Level()).add_bucket("goal", [2, 4])
    curriculum = gen.to_curriculum(num_active_tasks=6).make()

    def apply_config(env: CounterEnv, cfg: Level) -> None:
        env.next_goal = cfg.goal

    def episode_score(env: CounterEnv) -> float:
        return env.played * 10.0

    env = CurriculumEnv(CounterEnv(), curriculum, apply_config=apply_config, episode_score=episode_score)
    assert env.single_action_space.n == 2
    assert env.num_agents == 1
    env.reset()
    goals = []
    for _ in range(30):
        task = env.current_task
        _, rewards, terminals, _, _ = env.step(np.zeros(1, dtype=np.int32))
        assert rewards is env.rewards  # buffers are the wrapped env's own arrays
        if terminals.all():
            goals.append(task.get_env_cfg().goal)
            assert env.env.played == task.get_env_cfg().goal
            assert task.mean_score == pytest.approx(10.0 * task.get_env_cfg().goal)
    assert set(goals) == {2, 4}
    assert curriculum.stats()["num_completed"] == len(goals)
    assert env.goal == env.env.goal  # other attributes come from the wrapped env


def test_episode_priority_reaches_plr() -> None:
    from agora.algorithms import PLRConfig

    gen = agora.bucketed(Level()).add_bucket("goal", [2, 4])
    curriculum = gen.to_curriculum(num_active_tasks=6, algorithm_config=PLRConfig(evict=False)).make()

    def apply_config(env: CounterEnv, cfg: Level) -> None:
        env.next_goal = cfg.goal

    env = CurriculumEnv(
        CounterEnv(),
        curriculum,
        apply_config=apply_config,
        episode_score=lambda env: 0.0,
        episode_priority=lambda env: env.played * 10.0,
    )
    env.reset()
    played = set()
    for _ in range(30):
        task = env.current_task
        _, _, terminals, _, _ = env.step(np.zeros(1, dtype=np.int32))
        if terminals.all():
            played.add(task.task_id)
    assert played
    pool = curriculum.pool
    for task_id in played:
        slot = pool.slot_of(task_id)
        assert pool.array("plr_score")[slot] == 10.0 * curriculum.generated(task_id).config.goal
        assert pool.array("last_score")[slot] == 0.0


def test_default_hooks_need_mettagrid_methods() -> None:
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    with pytest.raises(TypeError, match=r"no set_mg_config\(\).*apply_config="):
        CurriculumEnv(CounterEnv(), curriculum)
    with pytest.raises(TypeError, match=r"no get_episode_rewards\(\).*episode_score="):
        CurriculumEnv(CounterEnv(), curriculum, apply_config=lambda env, cfg: None)


def test_the_first_task_is_taken_at_construction_and_kept_by_the_first_reset() -> None:
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    env = CurriculumEnv(CounterEnv(), curriculum, apply_config=lambda e, c: None, episode_score=lambda e: 0.0)
    first = env.current_task
    assert first is not None
    assert curriculum.stats()["num_scheduled"] == 1
    env.reset()  # nothing of the first task was played: no task is wasted
    assert env.current_task is first
    assert curriculum.stats()["num_scheduled"] == 1
    env.reset()  # a second reset in a row replaces it (unscored: it was never stepped)
    assert curriculum.stats()["num_scheduled"] == 2


def test_stepping_before_reset_plays_the_first_task() -> None:
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    env = CurriculumEnv(CounterEnv(), curriculum, apply_config=lambda e, c: None, episode_score=lambda e: 0.5)
    first = env.current_task
    assert first is not None
    for _ in range(3):  # CounterEnv's episodes last 3 steps
        env.step(np.zeros(1, dtype=np.int32))
    assert first.num_completions == 1
    assert first.mean_score == 0.5
    assert env.current_task is not first


def test_step_passes_keyword_arguments_to_the_env() -> None:
    seen: list[dict[str, Any]] = []

    class KeywordEnv(CounterEnv):
        def step(self, actions: Any, **kwargs: Any) -> tuple[Any, Any, Any, Any, list[dict[str, Any]]]:
            seen.append(kwargs)
            return super().step(actions)

    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    env = CurriculumEnv(KeywordEnv(), curriculum, apply_config=lambda e, c: None, episode_score=lambda e: 0.0)
    env.step(np.zeros(1, dtype=np.int32), render=True)
    assert seen == [{"render": True}]


def test_a_refused_config_is_skipped_for_another_task() -> None:
    gen = agora.bucketed(Level()).add_bucket("goal", [2, 5])
    curriculum = gen.to_curriculum(num_active_tasks=8, seed=0).make()

    def apply_config(env: CounterEnv, cfg: Level) -> None:
        if cfg.goal == 5:
            raise ValueError("this env cannot play goal 5")
        env.next_goal = cfg.goal

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        env = CurriculumEnv(CounterEnv(), curriculum, apply_config=apply_config, episode_score=lambda e: 1.0)
        env.reset()
        for _ in range(20):
            env.step(np.zeros(1, dtype=np.int32))
    task = env.current_task
    assert task is not None
    assert task.get_env_cfg().goal == 2
    refused = [w for w in caught if "refused the config" in str(w.message)]
    assert refused, "some goal-5 task was drawn and skipped"
    assert curriculum.stats()["num_completed"] == 10  # only goal-2 episodes (2 steps each) were scored


def test_an_env_refusing_every_config_raises_after_the_last_attempt() -> None:
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()

    def refuse(env: CounterEnv, cfg: Level) -> None:
        raise ValueError("no")

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        with pytest.raises(RuntimeError, match=f"refused the configs of {MAX_TASK_ATTEMPTS} tasks"):
            CurriculumEnv(CounterEnv(), curriculum, apply_config=refuse, episode_score=lambda e: 0.0)
    assert curriculum.stats()["num_scheduled"] == MAX_TASK_ATTEMPTS
    assert curriculum.stats()["num_completed"] == 0


def test_bad_stats_interval_is_rejected() -> None:
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    with pytest.raises(ValueError, match="stats_interval must be a positive int"):
        CurriculumEnv(
            CounterEnv(),
            curriculum,
            apply_config=lambda e, c: None,
            episode_score=lambda e: 0.0,
            stats_interval=0,
        )


def test_the_statistics_interval_can_change_and_a_report_be_forced() -> None:
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    env = CurriculumEnv(CounterEnv(), curriculum, apply_config=lambda e, c: None, episode_score=lambda e: 0.0)

    def reporting_steps(steps: int) -> list[int]:
        found = []
        for step in range(1, steps + 1):
            infos = env.step(np.zeros(1, dtype=np.int64))[4]  # a list of dicts, as the env returns
            if any(key.startswith("env_curriculum/") for info in infos for key in info):
                found.append(step)
        return found

    assert reporting_steps(20) == []  # the default interval is 1000 steps
    env.set_stats_update_frequency(3)  # counts from now
    assert reporting_steps(9) == [3, 6, 9]
    env.force_stats_update()
    assert reporting_steps(4) == [1, 4]  # the forced report, then every 3 steps again
    with pytest.raises(ValueError, match=r"stats_interval must be a positive int.*: 0"):
        env.set_stats_update_frequency(0)


@pytest.mark.parametrize(
    ("module", "blocked", "extra"),
    [
        ("agora.wrappers.puffer", "pufferlib", "puffer"),
        ("agora.wrappers.gymnasium", "gymnasium", "gymnasium"),
        ("agora.wrappers.pettingzoo", "pettingzoo", "pettingzoo"),
        ("agora.integrations.mettagrid", "mettagrid", "mettagrid"),
    ],
)
def test_missing_dependency_names_the_extra(module: str, blocked: str, extra: str) -> None:
    # sys.modules[name] = None makes Python's import of that package fail, as if uninstalled.
    code = f"import sys; sys.modules[{blocked!r}] = None; import {module}"
    env = {**os.environ, "PYTHONPATH": SRC}
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert result.returncode != 0
    assert f"pip install 'agora-rl[{extra}]'" in result.stderr
    assert "ImportError" in result.stderr
    if extra == "puffer":  # the plain extra pulls CUDA torch: the CPU route comes with it
        assert "pip install --index-url https://download.pytorch.org/whl/cpu torch==" in result.stderr
        assert "pip install --no-deps pufferlib-core" in result.stderr


def test_wrappers_package_exports_each_wrapper_lazily() -> None:
    require("pettingzoo")
    import agora.wrappers
    from agora.wrappers.gymnasium import GymnasiumCurriculumWrapper
    from agora.wrappers.pettingzoo import PettingZooCurriculumWrapper

    assert agora.wrappers.CurriculumEnv is CurriculumEnv
    assert agora.wrappers.GymnasiumCurriculumWrapper is GymnasiumCurriculumWrapper
    assert agora.wrappers.PettingZooCurriculumWrapper is PettingZooCurriculumWrapper
    with pytest.raises(AttributeError, match="NoSuchWrapper"):
        _ = agora.wrappers.NoSuchWrapper


def test_bad_curriculum_and_scores_are_named() -> None:
    with pytest.raises(TypeError, match="Curriculum or a CurriculumConfig, got dict"):
        CurriculumEnv(
            CounterEnv(),
            {"num_active_tasks": 4},  # type: ignore[arg-type]
            apply_config=lambda e, c: None,
            episode_score=lambda e: 0.0,
        )
    curriculum = agora.single_task(Level()).to_curriculum(num_active_tasks=2).make()
    env = CurriculumEnv(
        CounterEnv(), curriculum, apply_config=lambda e, c: None, episode_score=lambda e: float("nan")
    )
    env.reset()
    env.step(np.zeros(1, dtype=np.int32))
    env.step(np.zeros(1, dtype=np.int32))
    with pytest.raises(ValueError, match=r"episode score for task \d+ is nan"):
        env.step(np.zeros(1, dtype=np.int32))
    assert curriculum.stats()["num_completed"] == 0


def test_wrapper_overhead_benchmark_reports_both_envs() -> None:
    from agora.bench.wrapper_overhead import run

    result = run(quick=True)
    assert result["columns"] == ["env", "env steps/s", "agent steps/s", "overhead"]
    plain, wrapped, direct = result["rows"]
    assert float(plain[1].replace(",", "")) > 0
    assert float(wrapped[1].replace(",", "")) > 0
    assert direct[3].endswith("%")
    assert any("10,000 active tasks" in note for note in result["notes"])
