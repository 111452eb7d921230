"""The priority channel (a learner's score beside the success score) and Robust PLR's ``is_replay``.

Local, and shared memory with real processes; Ray is in test_distributed.py, the wrappers'
``info`` keys in the wrapper tests.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import signal
from typing import Any

import numpy as np
import pytest
from pydantic import BaseModel

import agora
from agora.algorithms import LearningProgressConfig, PLRConfig
from conftest import new_session

TIMEOUT = 120


class Level(BaseModel):
    level: int = 0


def config(
    num_tasks: int,
    *,
    session: str | None = None,
    algorithm: Any = None,
    max_task_id: int | None = None,
    **plr: Any,
) -> agora.CurriculumConfig:
    """Task ids 0 .. num_tasks - 1 (unless ``max_task_id``), refreshed every episode, no eviction."""
    shared = {"use_shared_memory": True, "session_id": session} if session else {}
    algorithm = algorithm or PLRConfig(**{"evict": False, **shared, **plr})
    return agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", list(range(num_tasks))),
        num_active_tasks=num_tasks,
        max_task_id=max_task_id or num_tasks,
        refresh_interval=1,
        seed=0,
        algorithm_config=algorithm,
    )


def priorities_of(curriculum: agora.Curriculum[Any]) -> dict[int, float]:
    """Task id -> PLR's priority S, read from the pool."""
    pool = curriculum.pool
    active = pool.active_slots()
    ids = pool.array("ids")[active].tolist()
    return dict(zip(ids, pool.array("plr_score")[active].tolist(), strict=True))


def priority(task_id: int) -> float:
    """A learner's priority that orders tasks opposite to their success."""
    return 10.0 + task_id


def success(task_id: int) -> float:
    return 1.0 - task_id / 10


# -- local -------------------------------------------------------------------------------


def test_plr_ranks_by_the_priority_and_the_statistics_keep_the_success_score() -> None:
    with config(4).make() as curriculum:
        for task_id in range(4):
            curriculum.update_task_performance(task_id, success(task_id), priority=priority(task_id))
        assert priorities_of(curriculum) == {t: priority(t) for t in range(4)}
        probabilities = curriculum.sampling_probabilities()
        assert max(probabilities, key=probabilities.__getitem__) == 3  # the highest priority, lowest success
        assert curriculum.stats()["mean_task_score"] == pytest.approx(np.mean([success(t) for t in range(4)]))
        curriculum.update_task_performance(3, 0.25)  # no priority: PLR falls back to the score
        assert priorities_of(curriculum)[3] == 0.25


def test_complete_reports_the_priority() -> None:
    with config(4).make() as curriculum:
        task = curriculum.get_task()
        task.complete(0.0, priority=7.5)
        assert priorities_of(curriculum)[task.task_id] == 7.5
        assert task.mean_score == 0.0


def test_the_batch_call_equals_single_calls_in_order() -> None:
    rng = np.random.default_rng(1)
    task_ids = rng.integers(0, 8, size=200)  # many repeats: the in-order and round paths both run
    scores, given = rng.random(200), rng.normal(size=200)
    one, many = config(8, alpha=0.3).make(), config(8, alpha=0.3).make()
    for task_id, score, p in zip(task_ids.tolist(), scores.tolist(), given.tolist(), strict=True):
        one.update_task_performance(task_id, score, priority=p)
    many.update_task_performance_many(task_ids, scores, priorities=given)
    assert priorities_of(many) == pytest.approx(priorities_of(one), rel=1e-12)
    assert many.stats() == pytest.approx(one.stats())


def test_other_algorithms_ignore_the_priority() -> None:
    algorithm = LearningProgressConfig(sample_threshold=2)
    plain, prioritised = config(6, algorithm=algorithm).make(), config(6, algorithm=algorithm).make()
    for _ in range(40):
        task = plain.get_task()
        other = prioritised.get_task()
        assert task.task_id == other.task_id
        plain.update_task_performance(task.task_id, success(task.task_id))
        other.complete(success(task.task_id), priority=priority(task.task_id))
    plain.update_task_performance_many([0, 1], [0.5, 0.5])
    prioritised.update_task_performance_many([0, 1], [0.5, 0.5], priorities=[9.0, 9.0])
    assert plain.get_state() == prioritised.get_state()


def test_the_algorithm_only_api_takes_the_priority() -> None:
    algorithm = PLRConfig(evict=False, staleness_coef=0.0).standalone(3)
    for task_id in (7, 8, 9):
        algorithm.on_task_created(task_id)
    algorithm.update_task_performance(7, 1.0, priority=0.1)
    algorithm.update_task_performance(8, 0.0, priority=5.0)
    algorithm.update_task_performance(9, 0.0)  # the score stands in
    probabilities = algorithm.score_tasks([7, 8, 9])
    assert max(probabilities, key=probabilities.__getitem__) == 8
    with pytest.raises(ValueError, match="priority for task 7 is nan"):
        algorithm.update_task_performance(7, 1.0, priority=float("nan"))


@pytest.mark.parametrize(
    ("bad", "error", "match"),
    [
        (float("nan"), ValueError, "priority for task 1 is nan"),
        (float("inf"), ValueError, "priority for task 1 is inf"),
        ("high", TypeError, "priority for task 1 is 'high'"),
        (True, TypeError, "priority for task 1 is True"),
    ],
)
def test_an_invalid_priority_is_rejected_naming_it(bad: Any, error: type[Exception], match: str) -> None:
    with config(4).make() as curriculum:
        with pytest.raises(error, match=match):
            curriculum.update_task_performance(1, 0.5, priority=bad)
        with pytest.raises(error, match=match):
            curriculum.update_task_performance_many([0, 1], [0.5, 0.5], priorities=[1.0, bad])
        assert curriculum.stats()["num_completed"] == 0  # nothing was applied
        with pytest.raises(ValueError, match="2 task ids but 1 priorities"):
            curriculum.update_task_performance_many([0, 1], [0.5, 0.5], priorities=[1.0])


def test_priorities_survive_a_checkpoint(tmp_path: Any) -> None:
    with config(6, alpha=0.5).make() as curriculum:
        for task_id in range(4):
            curriculum.update_task_performance(task_id, 0.0, priority=priority(task_id))
        curriculum.save(tmp_path / "plr.json")
        restored = agora.Curriculum.from_checkpoint(tmp_path / "plr.json")
        assert priorities_of(restored) == priorities_of(curriculum)
        handed = [(t.task_id, t.is_replay) for t in curriculum.get_tasks(20)]
        assert [(t.task_id, t.is_replay) for t in restored.get_tasks(20)] == handed


def test_replays_follow_the_proportionate_schedule() -> None:
    with config(10, staleness_coef=0.0).make() as curriculum:
        first = curriculum.get_task()
        assert not first.is_replay  # nothing has a score yet
        for task_id in range(4):
            curriculum.update_task_performance(task_id, 1.0)
        tasks = [curriculum.get_task() for _ in range(3000)]
        assert all(task.is_replay == (task.task_id < 4) for task in tasks)
        share = np.mean([task.is_replay for task in tasks])
        assert share == pytest.approx(0.4, abs=0.04)  # 4 of 10 seen: replay probability 0.4
        batch = curriculum.get_tasks(500)
        assert batch.is_replay.tolist() == [task_id < 4 for task_id in batch.task_ids.tolist()]
        assert [task.is_replay for task in batch] == batch.is_replay.tolist()
        assert batch[0].is_replay == bool(batch.is_replay[0])
        # Fixed at hand-out: completing an exploratory task does not make it a replay.
        new = next(task for task in tasks if not task.is_replay)
        new.complete(0.5)
        assert not new.is_replay
        assert new.num_completions == 1


# -- shared memory, real processes ------------------------------------------------------------


def _report_with_priorities(cfg: agora.CurriculumConfig, worker: int) -> None:
    """Report every task once with priority(task_id): single calls, complete() and a batch; no close()."""
    curriculum = cfg.make()
    mine = [t for t in range(16) if t % 2 == worker]
    for task_id in mine[:3]:
        curriculum.update_task_performance(task_id, success(task_id), priority=priority(task_id))
    task = curriculum.get_task()
    task.complete(success(task.task_id), priority=priority(task.task_id))
    rest = mine[3:]
    curriculum.update_task_performance_many(
        rest, [success(t) for t in rest], priorities=[priority(t) for t in rest]
    )
    for task_id in mine[:2]:  # buffered (fewer than shared_update_batch): delivered at exit
        curriculum.update_task_performance(task_id, success(task_id), priority=priority(task_id))


@pytest.mark.parametrize("method", ["spawn", "fork"])
def test_priorities_from_other_processes_reach_plr(method: str) -> None:
    cfg = config(16, session=new_session())
    with cfg.make() as owner:
        workers = [
            mp.get_context(method).Process(target=_report_with_priorities, args=(cfg, i)) for i in (0, 1)
        ]
        for process in workers:
            process.start()
        for process in workers:
            process.join(TIMEOUT)
        assert [p.exitcode for p in workers] == [0, 0]
        owner.flush()
        got = priorities_of(owner)
        played = owner.pool.array("completions")[owner.pool.active_slots()]
        assert {t: got[t] for t in range(16)} == {t: priority(t) for t in range(16)}
        assert int(played.sum()) == owner.stats()["num_completed"] == 16 + 2 + 2 + 2


@pytest.mark.parametrize("reports", [10, 100])  # buffers applied one by one, then vectorised
def test_a_shared_buffer_mixing_reports_with_and_without_priorities_equals_a_local_pool(reports: int) -> None:
    rng = np.random.default_rng(2)
    task_ids, scores, given = rng.integers(0, 8, reports), rng.random(reports), rng.normal(size=reports)
    local = config(8, alpha=0.5).make()
    with config(8, session=new_session(), alpha=0.5).make() as shared:
        for curriculum in (local, shared):
            for i, (task_id, score) in enumerate(zip(task_ids.tolist(), scores.tolist(), strict=True)):
                if i % 3:
                    curriculum.update_task_performance(task_id, score, priority=float(given[i]))
                else:
                    curriculum.update_task_performance(task_id, score)
        shared.flush()
        assert priorities_of(shared) == pytest.approx(priorities_of(local), rel=1e-12)
        assert shared.stats()["mean_task_score"] == pytest.approx(local.stats()["mean_task_score"])


def _killed_applying_priorities(cfg: agora.CurriculumConfig, task_ids: list[int]) -> None:
    curriculum = cfg.make()

    def die(*args: Any) -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    # In this child only: die inside the journalled batch, after the core columns changed.
    curriculum.algorithm.update_many_with_priority = die  # type: ignore[method-assign]
    curriculum.update_task_performance_many(task_ids, [1.0] * len(task_ids), priorities=[5.0] * len(task_ids))


def test_a_batch_of_priorities_killed_mid_apply_is_repaired() -> None:
    cfg = config(16, session=new_session(), max_task_id=10**6)
    with cfg.make() as owner:
        ids = owner.active_task_ids()
        owner.update_task_performance_many(ids, [0.0] * 16, priorities=[1.0] * 16)
        before = owner.stats()["num_completed"]
        torn, kept = ids[:3], ids[3:]
        process = mp.get_context("fork").Process(target=_killed_applying_priorities, args=(cfg, torn))
        process.start()
        process.join(TIMEOUT)
        assert process.exitcode == -signal.SIGKILL
        owner.flush()
        assert owner.stats()["num_completed"] == before  # none of the torn batch counts
        assert owner.shared_stats()["num_recoveries"] == 1
        got = priorities_of(owner)
        assert not set(torn) & set(got)  # the torn tasks were replaced by fresh ones
        assert {t: got[t] for t in kept} == dict.fromkeys(kept, 1.0)
        fresh = [t for t in got if t not in kept]
        assert [got[t] for t in fresh] == [0.0] * 3
        owner.update_task_performance_many(fresh, [1.0] * 3, priorities=[5.0] * 3)
        assert [priorities_of(owner)[t] for t in fresh] == [5.0] * 3  # and then it applies


def _replays_seen_by(cfg: agora.CurriculumConfig, results: Any) -> None:
    with cfg.make() as curriculum:
        results.put([(t.task_id, t.is_replay) for t in curriculum.get_tasks(200)])


def test_replays_in_a_shared_pool_include_other_processes_scores() -> None:
    cfg = config(10, session=new_session(), staleness_coef=0.0)
    with cfg.make() as owner:
        for task_id in range(4):
            owner.update_task_performance(task_id, 1.0)
        owner.flush()
        assert all(t.is_replay == (t.task_id < 4) for t in (owner.get_task() for _ in range(200)))
        ctx = mp.get_context("spawn")
        results = ctx.Queue()
        process = ctx.Process(target=_replays_seen_by, args=(cfg, results))
        process.start()
        handed = results.get(timeout=TIMEOUT)
        process.join(TIMEOUT)
        assert process.exitcode == 0
        assert all(is_replay == (task_id < 4) for task_id, is_replay in handed)
        assert 0 < sum(is_replay for _, is_replay in handed) < len(handed)


# -- the PPO loop of docs/plr-training.md --------------------------------------------------------


def test_the_documented_ppo_loop_reports_success_and_priority_per_episode() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "plr-training.md").read_text()
    section = text[text.index("## In a CleanRL") :]
    block = section[section.index("```python\n") + len("```python\n") : section.index("\n```\n")]
    num_steps, num_envs = 32, 3
    rng = np.random.default_rng(0)
    dones = rng.random((num_steps, num_envs)) < 0.15
    dones[-1, 0] = True  # env 0's last episode ends exactly at the rollout's end
    curriculum = config(8, staleness_coef=0.0).make()
    namespace: dict[str, Any] = {
        "np": np,
        "agora": agora,
        "curriculum": curriculum,
        "num_updates": 2,
        "num_steps": num_steps,
        "num_envs": num_envs,
        "task_ids": np.zeros((num_steps, num_envs), dtype=np.int64),
        "is_replay": np.zeros((num_steps, num_envs), dtype=bool),
        "rewards": rng.random((num_steps, num_envs)),
        "values": rng.random((num_steps, num_envs)),
        "dones": dones,
        "successes": dones * (rng.random((num_steps, num_envs)) < 0.5),
        "gamma": 0.99,
        "gae_lambda": 0.95,
    }
    exec(block, namespace)
    assert curriculum.stats()["num_completed"] == 2 * dones.sum()
    # The second rollout's episodes, reported env by env: the last report of a task stands (alpha 1).
    task_ids, rewards, values = namespace["task_ids"], namespace["rewards"], namespace["values"]
    expected = {}
    for e in range(num_envs):
        ends = np.flatnonzero(dones[:, e])
        for start, end in zip([0, *(ends[:-1] + 1).tolist()], ends.tolist(), strict=True):
            steps = slice(start, end + 1)
            expected[int(task_ids[end, e])] = agora.scores.positive_value_loss(
                rewards[steps, e], values[steps, e], dones[steps, e], 0.99, 0.95
            )
    got = priorities_of(curriculum)
    assert {t: got[t] for t in expected} == pytest.approx(expected)
    is_replay = namespace["is_replay"]
    assert namespace["train_mask"].tolist() == is_replay.reshape(-1).tolist()
    assert is_replay.any()  # the second rollout replays tasks the first one scored
    assert not is_replay.all()
