"""GymnasiumCurriculumWrapper under gymnasium's own vector envs."""

from __future__ import annotations

import multiprocessing
import pickle
import sys
import warnings
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import agora
from conftest import new_session
from optional_deps import require

gymnasium = require("gymnasium")

from agora.report import read_run_log  # noqa: E402
from agora.wrappers import _common  # noqa: E402
from agora.wrappers.gymnasium import GymnasiumCurriculumWrapper  # noqa: E402

TASK_ID = "env_curriculum/task_id"


class Corridor(BaseModel):
    """Walk ``length`` steps (reward 1 each); optionally report success at the end."""

    length: int = 3
    reports_success: bool = False


class CorridorEnv(gymnasium.Env[np.ndarray, np.int64]):
    observation_space = gymnasium.spaces.Box(0.0, 100.0, shape=(1,), dtype=np.float32)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self) -> None:
        self.task = Corridor()
        self.position = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        super().reset(seed=seed)
        self.position = 0
        return np.zeros(1, dtype=np.float32), {"length": self.task.length}

    def step(self, action: np.int64) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        self.position += 1
        done = self.position >= self.task.length
        info: dict[str, Any] = {}
        if done and self.task.reports_success:
            info["success"] = bool(action)  # action 1 at the last step succeeds
        return np.full(1, self.position, dtype=np.float32), 1.0, done, False, info


def set_task(env: CorridorEnv, config: Corridor) -> None:
    env.task = config


def corridor_curriculum() -> agora.CurriculumConfig:
    gen = (
        agora.bucketed(Corridor())
        .add_bucket("length", [2, 3, 5])
        .add_bucket("reports_success", [False, True])
    )
    return gen.to_curriculum(num_active_tasks=12, seed=3)


def make_env(
    curriculum: Any, stats_interval: int = 1000, run_log: agora.RunLog | None = None
) -> GymnasiumCurriculumWrapper:
    return GymnasiumCurriculumWrapper(
        CorridorEnv(), curriculum, apply_config=set_task, stats_interval=stats_interval, run_log=run_log
    )


def run_vector(
    vec: Any, steps: int, seed: int = 0, until_stats: bool = False
) -> tuple[list[tuple[int, int]], dict[str, Any]]:
    """Step with random actions; returns (task id, observed length) per finished episode and the last info.

    ``until_stats``: after ``steps``, go on until one info carries every env's statistics (an
    env's autoreset step reports none).
    """
    rng = np.random.default_rng(seed)
    _, info = vec.reset(seed=seed)
    since = np.zeros(vec.num_envs, dtype=int)
    was_done = np.zeros(vec.num_envs, dtype=bool)
    episodes = []
    step = 0
    while step < steps or (until_stats and not np.all(info.get("_env_curriculum/num_completed", False))):
        assert step < steps + 100, "no step reported every env's statistics"
        step += 1
        _, _, terminated, truncated, info = vec.step(rng.integers(0, 2, size=vec.num_envs))
        # Gymnasium's default autoreset: the step after an episode end is that env's reset.
        since = np.where(was_done, 0, since + 1)
        was_done = terminated | truncated
        for i in np.flatnonzero(was_done):
            episodes.append((int(info[TASK_ID][i]), int(since[i])))
    return episodes, info


def test_sync_vector_env_shares_a_curriculum_and_scores_each_episode() -> None:
    curriculum = corridor_curriculum().make()
    generator = curriculum.task_generator
    vec = gymnasium.vector.SyncVectorEnv([partial(make_env, curriculum) for _ in range(3)])
    try:
        episodes, _ = run_vector(vec, 60)
    finally:
        vec.close()
    assert len(episodes) > 20
    for task_id, length in episodes:
        assert length == generator.get_task(task_id).length  # the task's config was the one played
    assert {length for _, length in episodes} == {2, 3, 5}
    assert curriculum.stats()["num_completed"] == len(episodes)
    # Score: the return (= length) unless the env reported success, then 0 or 1.
    pool = curriculum.pool
    for task_id in {t for t, _ in episodes}:
        slot = pool.slot_of(task_id)
        mean = pool.array("score_sum")[slot] / pool.array("completions")[slot]
        cfg = generator.get_task(task_id)
        if cfg.reports_success:
            assert 0.0 <= mean <= 1.0
        else:
            assert mean == cfg.length


def test_async_vector_env_workers_report_every_episode() -> None:
    # Each worker process builds its curriculum from the config; statistics every step let
    # the last info carry each worker's completion count.
    vec = gymnasium.vector.AsyncVectorEnv([partial(make_env, corridor_curriculum(), 1) for _ in range(2)])
    try:
        episodes, info = run_vector(vec, 150, until_stats=True)
    finally:
        vec.close()
    assert {length for _, length in episodes} == {2, 3, 5}
    completed = info["env_curriculum/num_completed"]
    assert info["_env_curriculum/num_completed"].all()
    assert completed.sum() == len(episodes)


def test_async_workers_append_every_episode_to_one_run_log(tmp_path: Path) -> None:
    config = corridor_curriculum()
    algorithm = agora.DiscreteRandomConfig(use_shared_memory=True, session_id=new_session())
    config = config.model_copy(update={"algorithm_config": algorithm})
    run_log = agora.RunLog(tmp_path / "run.jsonl", every=20)
    vec = gymnasium.vector.AsyncVectorEnv([partial(make_env, config, run_log=run_log) for _ in range(2)])
    try:
        episodes, _ = run_vector(vec, 150)
    finally:
        vec.close()  # each worker's wrapper records its last episodes
    data = read_run_log(run_log.path)
    assert data.processes == 2
    assert data.total_episodes == len(episodes)
    lengths = {}
    for record in data.episodes:
        for length, (count, _) in record["buckets"]["length"].items():
            lengths[int(length)] = lengths.get(int(length), 0) + count
    assert lengths == {n: sum(1 for _, seen in episodes if seen == n) for n in (2, 3, 5)}
    assert data.pool, "a shared pool is summarised from every worker"


def test_info_carries_the_task_and_success_replaces_the_return() -> None:
    gen = agora.bucketed(Corridor(reports_success=True)).add_bucket("length", [4])
    gen.label = "corridor"
    curriculum = gen.to_curriculum(num_active_tasks=3).make()
    env = make_env(curriculum)
    _, info = env.reset(seed=0)
    task = env.current_task
    assert info == {
        "length": 4,
        TASK_ID: task.task_id,
        "env_curriculum/task_label": "corridor",
        "env_curriculum/is_replay": False,
    }
    for action in (0, 0, 0, 1):
        _, _, terminated, _, info = env.step(action)
        assert info[TASK_ID] == task.task_id
    assert terminated
    assert env.current_task is None
    assert task.num_completions == 1
    assert task.mean_score == 1.0  # success, not the return of 4
    env.reset()
    for _ in range(4):
        env.step(0)
    assert curriculum.stats()["mean_task_score"] < 1.0


def test_statistics_every_k_steps_only() -> None:
    curriculum = corridor_curriculum().make()
    env = make_env(curriculum, stats_interval=4)
    env.reset(seed=0)
    with_stats = []
    for step in range(1, 13):
        _, _, terminated, truncated, info = env.step(1)
        if "env_curriculum/num_completed" in info:
            with_stats.append(step)
        if terminated or truncated:
            env.reset()
    assert with_stats == [4, 8, 12]


def test_statistics_interval_changes_and_forced_reports() -> None:
    env = make_env(corridor_curriculum().make())
    env.reset(seed=0)

    def reporting_steps(steps: int) -> list[int]:
        found = []
        for step in range(1, steps + 1):
            _, _, terminated, truncated, info = env.step(1)
            if "env_curriculum/num_completed" in info:
                found.append(step)
            if terminated or truncated:
                env.reset()
        return found

    env.set_stats_update_frequency(5)
    assert reporting_steps(10) == [5, 10]
    env.force_stats_update()
    assert reporting_steps(6) == [1, 6]


def test_default_apply_config_needs_set_mg_config() -> None:
    with pytest.raises(TypeError, match=r"CorridorEnv has no set_mg_config\(\).*apply_config="):
        GymnasiumCurriculumWrapper(CorridorEnv(), corridor_curriculum())


def test_works_with_a_builtin_gymnasium_env() -> None:
    class Pole(BaseModel):
        gravity: float = 9.8

    def apply(env: Any, cfg: Pole) -> None:
        env.gravity = cfg.gravity

    gen = agora.bucketed(Pole()).add_bucket("gravity", [agora.Span(5.0, 15.0)])
    curriculum = gen.to_curriculum(num_active_tasks=4).make()
    env = GymnasiumCurriculumWrapper(gymnasium.make("CartPole-v1"), curriculum, apply_config=apply)
    episodes = 0
    env.reset(seed=0)
    while episodes < 3:
        assert env.unwrapped.gravity == env.current_task.get_env_cfg().gravity
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        if terminated or truncated:
            episodes += 1
            env.reset()
    env.close()
    assert curriculum.stats()["num_completed"] == 3


def test_close_delivers_the_scores_a_shared_curriculum_buffers() -> None:
    config = corridor_curriculum()
    algorithm = agora.DiscreteRandomConfig(use_shared_memory=True, session_id=new_session())
    config = config.model_copy(update={"algorithm_config": algorithm, "refresh_interval": 1000})
    with config.make() as owner, config.make() as passed:
        env = make_env(passed)  # the wrapper does not own it: close() must still deliver its scores
        env.reset(seed=0)
        episodes = 0
        while episodes < 10:
            *_, terminated, truncated, _ = env.step(np.int64(1))
            if terminated or truncated:
                episodes += 1
                env.reset()
        assert owner.stats()["num_completed"] == 0  # still buffered in `passed`
        env.close()
        assert owner.stats()["num_completed"] == 10


def play_episodes(env: GymnasiumCurriculumWrapper, episodes: int) -> None:
    env.reset(seed=0)
    done = 0
    while done < episodes:
        *_, terminated, truncated, _ = env.step(np.int64(0))
        if terminated or truncated:
            done += 1
            env.reset()


def test_score_range_scales_returns_onto_success_rates() -> None:
    gen = agora.bucketed(Corridor()).add_bucket("length", [2, 5])
    curriculum = gen.to_curriculum(num_active_tasks=2, seed=0).make()
    env = GymnasiumCurriculumWrapper(CorridorEnv(), curriculum, apply_config=set_task, score_range=(0, 4))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # scaled scores are in [0, 1]: no warning
        play_episodes(env, 6)
    pool = curriculum.pool
    for slot, task_id in enumerate(pool.ids):
        length = curriculum.generated(int(task_id)).config.length
        mean = pool.array("score_sum")[slot] / pool.array("completions")[slot]
        assert mean == min(length / 4, 1.0)  # 2 steps: 0.5; 5 steps: clipped to 1


@pytest.mark.parametrize("bad", [(1, 1), (2, 0), (0, float("inf")), (0,), "ab"])
def test_bad_score_range_is_named(bad: Any) -> None:
    with pytest.raises(ValueError, match="score_range"):
        GymnasiumCurriculumWrapper(
            CorridorEnv(), corridor_curriculum(), apply_config=set_task, score_range=bad
        )


def test_raw_returns_outside_the_unit_range_warn_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_common, "_scale_warned", False)
    env = make_env(corridor_curriculum().make())
    with pytest.warns(RuntimeWarning, match=r"clips them to \[0, 1\].*score_range") as record:
        play_episodes(env, 5)
    assert len([w for w in record if "score_range" in str(w.message)]) == 1


def _wrap_in_worker(pickled: bytes | None) -> list[str]:
    """In a worker: unpickle a curriculum (or take the inherited ``_FORKED``), wrap it; the warnings."""
    with warnings.catch_warnings(record=True) as record:
        warnings.simplefilter("always")
        make_env(pickle.loads(pickled) if pickled is not None else _FORKED)
    return [str(w.message) for w in record]


_FORKED: Any = None


def test_a_local_curriculum_copied_into_a_worker_warns_there(monkeypatch: pytest.MonkeyPatch) -> None:
    local = corridor_curriculum().make()
    monkeypatch.setattr(sys.modules[__name__], "_FORKED", local)
    ctx = multiprocessing.get_context("fork")
    for argument in (pickle.dumps(local), None):  # pickled to the worker; inherited by fork
        with ctx.Pool(1) as pool:
            messages = pool.apply(_wrap_in_worker, (argument,))
        assert len(messages) == 1
        assert "copy of a local Curriculum" in messages[0]
        assert "use_shared_memory=True" in messages[0]
    assert _wrap_in_worker(pickle.dumps(local)) == []  # in its own process: no warning


def test_a_shared_curriculum_in_a_worker_does_not_warn() -> None:
    config = corridor_curriculum()
    algorithm = agora.DiscreteRandomConfig(use_shared_memory=True, session_id=new_session())
    shared_config = config.model_copy(update={"algorithm_config": algorithm})
    with shared_config.make() as shared_curriculum, multiprocessing.get_context("fork").Pool(1) as pool:
        assert pool.apply(_wrap_in_worker, (pickle.dumps(shared_curriculum),)) == []


class PriorityCorridorEnv(CorridorEnv):
    """Puts a priority for PLR in the final ``info``, as an inner wrapper with value estimates would."""

    def step(self, action: np.int64) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = super().step(action)
        if terminated:
            info["agora_priority"] = 10.0 * self.task.length
        return obs, reward, terminated, truncated, info


def test_the_final_info_priority_reaches_plr_and_info_says_whether_the_task_is_a_replay() -> None:
    from agora.algorithms import PLRConfig

    config = (
        agora.bucketed(Corridor())
        .add_bucket("length", [2, 3, 5])
        .to_curriculum(
            num_active_tasks=6, seed=0, refresh_interval=1, algorithm_config=PLRConfig(evict=False)
        )
    )
    env = GymnasiumCurriculumWrapper(PriorityCorridorEnv(), config, apply_config=set_task, score_range=(0, 5))
    scored: set[int] = set()
    for episode in range(40):
        _, info = env.reset(seed=episode)
        task_id = info[TASK_ID]
        assert info["env_curriculum/is_replay"] == (task_id in scored)
        done = False
        while not done:
            _, _, done, _, step_info = env.step(np.int64(0))
            assert step_info["env_curriculum/is_replay"] == info["env_curriculum/is_replay"]
        scored.add(task_id)
    curriculum = env.curriculum
    assert isinstance(curriculum, agora.Curriculum)
    pool = curriculum.pool
    for task_id in scored:
        slot = pool.slot_of(task_id)
        length = curriculum.generated(task_id).config.length
        assert pool.array("plr_score")[slot] == 10.0 * length  # the priority, not the score
        assert pool.array("last_score")[slot] == pytest.approx(length / 5)  # the scaled return
    env.close()
