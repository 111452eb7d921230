"""The curriculum shared over Ray, against a real local Ray cluster (no mocks)."""

from __future__ import annotations

import os
import pickle
import random
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

import agora
from agora.algorithms import LearningProgressConfig, PLRConfig
from agora.curriculum import Curriculum, CurriculumConfig

if os.environ.get("AGORA_REQUIRE_OPTIONAL") == "1":
    import gymnasium
    import ray
else:
    ray = pytest.importorskip("ray")
    gymnasium = pytest.importorskip("gymnasium")

from agora.distributed import ClientOptions, CurriculumShutDown, RayCurriculum
from agora.wrappers.gymnasium import GymnasiumCurriculumWrapper

# Workers must unpickle the functions and models defined here without importing this file.
ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])


class Corridor(BaseModel):
    length: int = 5


def corridor_config(**kwargs: Any) -> CurriculumConfig:
    generator = agora.bucketed(Corridor()).add_bucket("length", [3, 5, 8])
    return CurriculumConfig(
        task_generator=generator, num_active_tasks=kwargs.pop("num_active_tasks", 64), **kwargs
    )


@pytest.fixture(scope="module")
def cluster() -> Iterator[None]:
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


@ray.remote(num_cpus=0.25)
def play(curriculum: RayCurriculum, episodes: int) -> tuple[int, list[int], bool]:
    """Play ``episodes`` with scores that depend on the task; report what was handed out."""
    handed_out = []
    configs_match = True
    with curriculum.client() as client:
        for _ in range(episodes):
            task = client.get_task()
            cfg = task.get_env_cfg()
            configs_match &= cfg.length == task.get_bucket_values()["length"]
            handed_out.append(task.task_id)
            task.complete(cfg.length / 10)
    return episodes, handed_out, configs_match


@ray.remote(num_cpus=0.25)
class Worker:
    """Keeps one client open across calls, like a long-running rollout worker."""

    def __init__(self, curriculum: RayCurriculum, options: ClientOptions) -> None:
        self.client = curriculum.client(options)
        self.completed: Counter[int] = Counter()
        self.rng = random.Random(0)

    def run(self, episodes: int, pause_s: float = 0.0) -> int:
        for _ in range(episodes):
            time.sleep(pause_s)
            task = self.client.get_task()
            task.complete(self.rng.random())
            self.completed[task.task_id] += 1
        return episodes

    def try_get_task(self) -> str:
        try:
            self.client.get_task()
        except CurriculumShutDown as exc:
            return f"shut down: {exc}"
        return "got a task"

    def close(self) -> dict[int, int]:
        self.client.close()
        return dict(self.completed)


def wait_for_restarts(curriculum: RayCurriculum, restarts: int) -> None:
    """Wait until the actor has restarted ``restarts`` times (``ray.kill`` is asynchronous)."""
    deadline = time.monotonic() + 60
    while curriculum.stats()["distributed/num_restarts"] < restarts:
        assert time.monotonic() < deadline, "the curriculum actor did not restart"
        time.sleep(0.05)


def completions_by_task(curriculum: RayCurriculum, path: Path) -> dict[int, int]:
    """Per-task completions of the shared curriculum, read back through a checkpoint."""
    curriculum.save(path)
    local: Curriculum[Any] = Curriculum(curriculum.config)
    local.load(path)
    ids = local.pool.array("ids")
    completions = local.pool.array("completions")
    return {int(ids[s]): int(completions[s]) for s in local.pool.active_slots() if completions[s]}


def test_four_workers_record_every_completion(cluster: None) -> None:
    curriculum = RayCurriculum.start(corridor_config())
    try:
        results = ray.get([play.remote(curriculum, 2000) for _ in range(4)])
        stats = curriculum.stats()
        active = set(curriculum.active_task_ids())
    finally:
        ray.kill(curriculum.actor)
    assert sum(n for n, _, _ in results) == 8000
    assert stats["num_completed"] == 8000
    assert stats["distributed/num_open_clients"] == 0
    for _, handed_out, configs_match in results:
        assert configs_match
        assert set(handed_out) <= active


def test_actor_restarts_lose_and_double_count_nothing(cluster: None, tmp_path: Path) -> None:
    curriculum = RayCurriculum.start(
        corridor_config(), checkpoint_path=tmp_path / "live.json", checkpoint_every=250
    )
    options = ClientOptions(prefetch=32, flush_every=16)
    workers = [Worker.remote(curriculum, options) for _ in range(2)]  # type: ignore[attr-defined]
    try:
        ray.get([w.run.remote(600) for w in workers])
        # Flushed-but-not-checkpointed and still-buffered scores exist now: kill between phases...
        ray.kill(curriculum.actor, no_restart=False)
        wait_for_restarts(curriculum, 1)
        running = [w.run.remote(600, pause_s=0.001) for w in workers]
        time.sleep(0.2)
        # ...and again while the workers are playing.
        ray.kill(curriculum.actor, no_restart=False)
        ray.get(running)
        played = Counter[int]()
        for counts in ray.get([w.close.remote() for w in workers]):
            played.update(counts)
        stats = curriculum.stats()
        recorded = completions_by_task(curriculum, tmp_path / "final.json")
    finally:
        ray.kill(curriculum.actor)
    assert stats["distributed/num_restarts"] == 2
    assert stats["distributed/num_resend_requests"] > 0  # recovery actually had work to redo
    assert sum(played.values()) == 2400
    assert stats["num_completed"] == 2400
    assert recorded == dict(played)  # per task: nothing lost, nothing counted twice
    assert stats["distributed/num_unknown"] == 0


def test_with_eviction_each_score_is_counted_exactly_once(cluster: None, tmp_path: Path) -> None:
    """Under learning progress, tasks are evicted while being played; after a restart, some
    prefetched ids may not exist in the reloaded pool. Each score still counts exactly once: as a
    completion, a stale update (evicted task) or an unknown one (task newer than the checkpoint)."""
    config = corridor_config(
        num_active_tasks=16, refresh_interval=8, algorithm_config=LearningProgressConfig(), seed=3
    )
    curriculum = RayCurriculum.start(config, checkpoint_path=tmp_path / "live.json", checkpoint_every=200)
    options = ClientOptions(prefetch=16, flush_every=8)
    workers = [Worker.remote(curriculum, options) for _ in range(2)]  # type: ignore[attr-defined]
    try:
        ray.get([w.run.remote(700) for w in workers])
        ray.kill(curriculum.actor, no_restart=False)
        wait_for_restarts(curriculum, 1)
        ray.get([w.run.remote(700) for w in workers])
        ray.get([w.close.remote() for w in workers])
        stats = curriculum.stats()
    finally:
        ray.kill(curriculum.actor)
    assert stats["num_evicted"] > 0
    assert stats["num_stale_updates"] > 0
    # A score for an evicted task counts as completed and, in addition, as a stale update.
    assert stats["num_completed"] + stats["distributed/num_unknown"] == 2800


def test_protocol_skips_duplicate_batches_and_rejects_gaps(cluster: None) -> None:
    curriculum = RayCurriculum.start(corridor_config(num_active_tasks=4))
    try:
        actor = curriculum.actor
        (task_id,) = ray.get(actor.exchange.remote("c", [], 1, False))[2]
        batch = (1, [task_id], [0.5], None)
        assert ray.get(actor.exchange.remote("c", [batch], 0, False))[:2] == (1, 1)
        assert ray.get(actor.exchange.remote("c", [batch], 0, False))[:2] == (1, 1)  # a retry
        assert ray.get(actor.exchange.remote("c", [(3, [task_id], [0.5], None)], 0, False))[:2] == (
            1,
            1,
        )  # gap
        stats = curriculum.stats()
    finally:
        ray.kill(curriculum.actor)
    assert stats["num_completed"] == 1
    assert stats["distributed/num_duplicate_batches"] == 1
    assert stats["distributed/num_resend_requests"] == 1


def test_scores_are_flushed_after_the_interval_without_more_episodes(cluster: None) -> None:
    curriculum = RayCurriculum.start(corridor_config())
    try:
        client = curriculum.client(flush_every=10_000, flush_interval_ms=20)
        for task in client.get_tasks(5):
            task.complete(1.0)
        deadline = time.monotonic() + 30
        while curriculum.stats()["num_completed"] < 5 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert curriculum.stats()["num_completed"] == 5
        client.close()
    finally:
        ray.kill(curriculum.actor)


def test_graceful_shutdown_flushes_every_client(cluster: None, tmp_path: Path) -> None:
    curriculum = RayCurriculum.start(corridor_config(), checkpoint_path=tmp_path / "live.json")
    # Buffers that flush neither by size, nor by age, nor with a task refill; only the heartbeat
    # (every 4 s) lets a client learn of the shutdown.
    options = ClientOptions(prefetch=1000, flush_every=10**6, flush_interval_ms=10**6, heartbeat_s=4)
    workers = [Worker.remote(curriculum, options) for _ in range(2)]  # type: ignore[attr-defined]
    ray.get([w.run.remote(300) for w in workers])
    assert curriculum.stats()["num_completed"] == 0
    final = curriculum.shutdown(timeout_s=60)
    assert final["num_completed"] == 600
    assert final["distributed/num_open_clients"] == 0
    assert all(r.startswith("shut down") for r in ray.get([w.try_get_task.remote() for w in workers]))
    state = agora.curriculum.read_checkpoint(tmp_path / "live.json")
    restored: Curriculum[Any] = Curriculum(curriculum.config)
    restored.load_state(state)
    assert restored.stats()["num_completed"] == 600
    for w in workers:
        ray.kill(w)


def test_save_and_resume_from_checkpoint(cluster: None, tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    first = RayCurriculum.start(corridor_config(), checkpoint_path=path, name="agora-test", namespace="t")
    try:
        assert RayCurriculum.connect("agora-test", namespace="t").config == first.config
        with first.client() as client:
            client.update_task_performance_many([t.task_id for t in client.get_tasks(7)], [0.25] * 7)
        first.save(tmp_path / "copy.json")
    finally:
        ray.kill(first.actor)
    local = Curriculum.from_checkpoint(tmp_path / "copy.json")
    assert local.stats()["num_completed"] == 7
    second = RayCurriculum.start(corridor_config(), checkpoint_path=path, resume=True)
    try:
        assert second.stats()["num_completed"] == 7
        assert set(second.active_task_ids()) == set(local.active_task_ids())
    finally:
        ray.kill(second.actor)


def test_checkpoint_into_a_missing_folder_is_a_clear_error(cluster: None, tmp_path: Path) -> None:
    missing = tmp_path / "missing"
    with pytest.raises(FileNotFoundError, match=rf"the folder {missing} does not exist"):
        RayCurriculum.start(corridor_config(), checkpoint_path=missing / "run.json")
    curriculum = RayCurriculum.start(corridor_config())
    try:
        with pytest.raises(FileNotFoundError, match=rf"the folder {missing} does not exist"):
            curriculum.save(missing / "copy.json")
        curriculum.save(tmp_path / "copy.json")  # the actor is unharmed
    finally:
        ray.kill(curriculum.actor)
    assert Curriculum.from_checkpoint(tmp_path / "copy.json").config == curriculum.config


def test_client_rejects_bad_input(cluster: None) -> None:
    curriculum = RayCurriculum.start(corridor_config())
    try:
        with curriculum.client() as client:
            task = client.get_task()
            with pytest.raises(ValueError, match="nan"):
                task.complete(float("nan"))
            with pytest.raises(ValueError, match="2 task ids but 1 scores"):
                client.update_task_performance_many([1, 2], [0.0])
            with pytest.raises(TypeError, match=r"\.client\(\) there"):
                pickle.dumps(client)
            assert pickle.loads(pickle.dumps(curriculum)).config == curriculum.config
        with pytest.raises(RuntimeError, match="is closed"):
            client.get_task()
    finally:
        ray.kill(curriculum.actor)


def test_priorities_reach_plr_in_the_actor_and_tasks_say_whether_they_are_replays(
    cluster: None, tmp_path: Path
) -> None:
    config = corridor_config(
        num_active_tasks=4, refresh_interval=1, algorithm_config=PLRConfig(evict=False, staleness_coef=0.0)
    )
    curriculum = RayCurriculum.start(config)
    try:
        with curriculum.client(prefetch=2) as client:
            first = client.get_task()
            assert not first.is_replay  # nothing had a score when the actor handed it out
            ids = curriculum.active_task_ids()
            first.complete(0.0, priority=10.0)
            rest = [t for t in ids if t != first.task_id]
            client.update_task_performance(rest[0], 1.0, priority=20.0)
            client.update_task_performance(rest[1], 0.5)  # no priority: the score stands in
            client.update_task_performance_many([rest[2]], [0.0], priorities=[30.0])
            with pytest.raises(ValueError, match="priority for task 1 is nan"):
                client.update_task_performance(1, 0.5, priority=float("nan"))
            with pytest.raises(ValueError, match="1 task ids but 2 priorities"):
                client.update_task_performance_many([1], [0.5], priorities=[1.0, 2.0])
            client.flush()
            # Every task has a score now: past the ids prefetched before the flush, all are replays.
            replays = [client.get_task().is_replay for _ in range(12)]
            assert all(replays[2:])
        curriculum.save(tmp_path / "plr.json")
    finally:
        ray.kill(curriculum.actor)
    local = Curriculum.from_checkpoint(tmp_path / "plr.json")
    active = local.pool.active_slots()
    ids_now, scores_now = (
        local.pool.array("ids")[active].tolist(),
        local.pool.array("plr_score")[active].tolist(),
    )
    got = dict(zip(ids_now, scores_now, strict=True))
    assert got == {first.task_id: 10.0, rest[0]: 20.0, rest[1]: 0.5, rest[2]: 30.0}
    assert local.stats()["mean_task_score"] == pytest.approx(0.375)  # success scores, not priorities


def test_restarts_need_a_checkpoint_path(cluster: None) -> None:
    with pytest.raises(ValueError, match="max_restarts=3 needs a checkpoint_path"):
        RayCurriculum.start(corridor_config(), max_restarts=3)
    with pytest.raises(ValueError, match="resume=True needs a checkpoint_path"):
        RayCurriculum.start(corridor_config(), resume=True)


class CorridorEnv(gymnasium.Env[int, int]):
    """Walk right until the end of a corridor whose length is set per episode."""

    observation_space = gymnasium.spaces.Discrete(100)
    action_space = gymnasium.spaces.Discrete(2)

    def __init__(self) -> None:
        self.length = 5
        self.position = 0

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[int, dict[str, Any]]:
        super().reset(seed=seed)
        self.position = 0
        return 0, {}

    def step(self, action: int) -> tuple[int, float, bool, bool, dict[str, Any]]:
        self.position += 1
        done = self.position >= self.length
        return self.position, 1.0 if done else 0.0, done, False, {}


def set_length(env: CorridorEnv, config: Corridor) -> None:
    env.length = config.length


@ray.remote(num_cpus=0.25)
def rollout(curriculum: RayCurriculum, episodes: int) -> tuple[list[tuple[int, int]], list[str], str]:
    """Episodes through agora's Gymnasium wrapper; returns (task id, length) pairs and stats keys."""
    played, stats_keys = [], []
    with curriculum.client() as client:
        env = GymnasiumCurriculumWrapper(CorridorEnv(), client, apply_config=set_length, stats_interval=20)
        for _ in range(episodes):
            _, info = env.reset()
            steps, done = 0, False
            while not done:
                _, _, terminated, truncated, step_info = env.step(1)
                steps, done = steps + 1, terminated or truncated
                stats_keys += [k for k in step_info if k.endswith("num_completed")]
            played.append((info["env_curriculum/task_id"], steps))
        env.close()
        still_open = type(client.get_task()).__name__  # the wrapper does not own the client
    return played, stats_keys, still_open


def test_gymnasium_env_runs_in_ray_workers(cluster: None) -> None:
    curriculum = RayCurriculum.start(corridor_config())
    try:
        results = ray.get([rollout.remote(curriculum, 50) for _ in range(2)])
        stats = curriculum.stats()
    finally:
        ray.kill(curriculum.actor)
    assert stats["num_completed"] == 100
    assert stats["mean_task_score"] == 1.0
    generator = curriculum.config.task_generator.create()
    for played, stats_keys, still_open in results:
        # Each episode followed its task's config, generated in the worker.
        assert all(steps == generator.generate(task_id).config.length for task_id, steps in played)
        assert stats_keys  # the wrapper reported the shared curriculum's statistics
        assert still_open == "ClientTask"
    assert {steps for played, _, _ in results for _, steps in played} == {3, 5, 8}


def test_without_ray_the_error_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['ray'] = None  # as if Ray were not installed\n"
        "import agora.distributed\n"
        "try:\n"
        "    agora.distributed.RayCurriculum.start(None)\n"
        "except ImportError as exc:\n"
        "    print(exc)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "pip install 'agora-rl[ray]'" in out


def test_benchmark_reports_cost_and_throughput(cluster: None) -> None:
    from agora.bench import distributed as bench

    result = bench.run(quick=True)
    assert result["columns"][0] == "measurement"
    assert len(result["rows"]) == 6
    assert all(len(row) == len(result["columns"]) for row in result["rows"])
    assert [row[1] for row in result["rows"][3:]] == ["1", "2", "4"]
    assert all(float(row[4].replace(",", "")) > 0 for row in result["rows"][3:])


def test_mettagrid_envs_size_themselves_from_a_ray_client(cluster: None) -> None:
    pytest.importorskip("mettagrid")
    pytest.importorskip("pettingzoo")
    from agora.integrations import mettagrid as mg
    from mettagrid_envs import small_arena

    curriculum = RayCurriculum.start(mg.env_curriculum(small_arena(), num_active_tasks=2))
    try:
        with curriculum.client() as client:
            env = mg.make_pettingzoo_env(client)  # a client has a built generator, no create()
            env.reset(seed=0)
            assert env.current_task is not None
            assert env.current_task.get_env_cfg().game.num_agents == 2
            env.close()
    finally:
        curriculum.shutdown(timeout_s=60)
