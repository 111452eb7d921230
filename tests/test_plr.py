"""Prioritized Level Replay: its defining behaviours on tiny fixed-seed pools."""

from __future__ import annotations

import collections
import json
from collections.abc import Callable

import pytest
import yaml
from pydantic import BaseModel

import agora
from agora.algorithms import PLRConfig


class Level(BaseModel):
    level: int = 0


def plr_curriculum(num_tasks: int, seed: int = 0, **plr: object) -> agora.Curriculum[Level]:
    """A pool holding task ids 0 .. num_tasks - 1, refreshed every episode, no eviction by default."""
    algorithm = PLRConfig(**{"evict": False, **plr})  # type: ignore[arg-type]
    return agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", list(range(num_tasks))),
        num_active_tasks=num_tasks,
        max_task_id=num_tasks,
        refresh_interval=1,
        min_presentations_for_eviction=3,
        seed=seed,
        algorithm_config=algorithm,
    ).make()


def play(
    curriculum: agora.Curriculum[Level], episodes: int, score: Callable[[int], float]
) -> collections.Counter[int]:
    counts: collections.Counter[int] = collections.Counter()
    for _ in range(episodes):
        task_id = curriculum.get_task().task_id
        counts[task_id] += 1
        curriculum.update_task_performance(task_id, score(task_id))
    return counts


def test_the_highest_priority_task_is_replayed_most() -> None:
    curriculum = plr_curriculum(8)
    counts = play(curriculum, 3000, lambda task_id: task_id / 10)  # task 7 has the highest score
    assert counts.most_common(1)[0][0] == 7
    assert counts[7] > 0.5 * 3000  # rank 1 of 8 at beta 0.1 takes nearly all of the 0.7 score mass


def test_staleness_brings_back_a_neglected_task() -> None:
    # Task 3's priority ranks last (weight 4^-10 of the first): only staleness replays it.
    def score(task_id: int) -> float:
        return 0.0 if task_id == 3 else 1.0

    neglected = play(plr_curriculum(4, staleness_coef=0.0), 2000, score)
    stale = plr_curriculum(4, staleness_coef=0.3)
    revisited = play(stale, 2000, score)
    assert neglected[3] <= 3  # tried while unseen, then (almost) never again
    assert revisited[3] > 0.03 * 2000
    # Its share of the staleness mass grows while it waits: played, it drops back.
    probs = stale.sampling_probabilities()
    assert probs[3] > 1e-3


def test_unseen_tasks_are_tried_at_the_proportionate_rate() -> None:
    curriculum = plr_curriculum(10, staleness_coef=0.0)
    for task_id in range(4):
        curriculum.update_task_performance(task_id, 1.0 + task_id)
    probs = curriculum.sampling_probabilities()
    assert sum(probs[t] for t in range(4, 10)) == pytest.approx(0.6)  # 4 of 10 seen: replay 0.4
    assert probs[4] == pytest.approx(0.1)  # the unseen share evenly
    fixed = plr_curriculum(10, replay_schedule="fixed", replay_prob=0.8)
    for task_id in range(4):
        fixed.update_task_performance(task_id, 1.0)
    assert sum(fixed.sampling_probabilities()[t] for t in range(4)) == pytest.approx(0.8)
    waiting = plr_curriculum(10, min_seen_to_replay=0.5)
    for task_id in range(4):
        waiting.update_task_performance(task_id, 1.0)
    assert sum(waiting.sampling_probabilities()[t] for t in range(4)) == 0.0


def test_draws_try_unseen_tasks_at_the_proportionate_rate() -> None:
    # 5 of 20 tasks seen when the distribution is drawn: a quarter of the draws replay them.
    curriculum = agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", [0]),
        num_active_tasks=20,
        max_task_id=20,
        refresh_interval=4000,
        algorithm_config=PLRConfig(),
    ).make()
    for task_id in range(5):
        curriculum.update_task_performance(task_id, float(task_id))
    drawn = curriculum.get_tasks(4000).task_ids
    replayed = float((drawn < 5).mean())
    assert replayed == pytest.approx(0.25, abs=0.03)  # 4 standard deviations
    assert len(set(drawn[drawn >= 5].tolist())) == 15


def test_transforms_order_tasks_by_priority() -> None:
    for transform in ("rank", "power", "softmax", "eps_greedy"):
        curriculum = plr_curriculum(4, staleness_coef=0.0, score_transform=transform, temperature=0.5)
        for task_id, score in enumerate([0.1, 0.4, 0.2, 0.3]):
            curriculum.update_task_performance(task_id, score)
        probs = curriculum.sampling_probabilities()
        assert max(probs, key=probs.__getitem__) == 1, transform
        assert sum(probs.values()) == pytest.approx(1.0)
    rank = plr_curriculum(3, staleness_coef=0.0, temperature=1.0)
    for task_id, score in enumerate([5.0, 9.0, 7.0]):
        rank.update_task_performance(task_id, score)
    probs = rank.sampling_probabilities()  # h = 1 / rank: 1, 1/2, 1/3 for tasks 1, 2, 0
    assert [probs[1], probs[2], probs[0]] == pytest.approx([6 / 11, 3 / 11, 2 / 11])


def test_priority_is_an_ema_that_starts_at_the_first_score() -> None:
    curriculum = plr_curriculum(2, alpha=0.25)
    priority = curriculum.pool.array("plr_score")
    for score in (4.0, 0.0):
        curriculum.update_task_performance(0, score)
    assert priority[curriculum.pool.slot_of(0)] == pytest.approx(3.0)  # 4, then 4 + 0.25 * (0 - 4)
    replace = plr_curriculum(2)
    replace.update_task_performance_many([0, 0], [4.0, 1.5])
    assert replace.pool.array("plr_score")[replace.pool.slot_of(0)] == 1.5


def test_eviction_replaces_the_lowest_priority_judged_tasks() -> None:
    curriculum = plr_curriculum(6, evict=True)
    for task_id in range(6):
        for _ in range(3 if task_id != 5 else 2):  # task 5 is not judged yet (3 presentations)
            curriculum.update_task_performance(task_id, float(task_id))
    active = curriculum.pool.active_slots()
    candidates = curriculum.algorithm.eviction_candidates(active, 3, limit=2)
    assert curriculum.pool.array("ids")[candidates].tolist() == [0, 1]
    kept = plr_curriculum(6)
    for task_id in range(6):
        kept.update_task_performance_many([task_id] * 3, [0.0] * 3)
    assert len(kept.algorithm.eviction_candidates(kept.pool.active_slots(), 3, limit=6)) == 0


def test_eviction_brings_fresh_unseen_tasks_into_a_large_space() -> None:
    config = agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", list(range(1000))),
        num_active_tasks=20,
        refresh_interval=5,
        min_presentations_for_eviction=2,
        algorithm_config=PLRConfig(),
    )
    curriculum = config.make()
    play(curriculum, 600, lambda task_id: float(task_id % 7))
    assert curriculum.pool.counter("num_evicted") > 20
    stats = curriculum.stats()
    assert 0 < stats["algorithm/frac_seen"] <= 1
    assert stats["algorithm/replay_prob"] == stats["algorithm/frac_seen"]


def test_config_round_trips_through_json_and_yaml() -> None:
    algorithm = PLRConfig(
        score_transform="power", temperature=0.3, staleness_coef=0.1, replay_schedule="fixed"
    )
    config = agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", [1, 2]), algorithm_config=algorithm
    )
    from_json = agora.CurriculumConfig.model_validate_json(config.model_dump_json())
    from_yaml = agora.CurriculumConfig.model_validate(
        yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json")))
    )
    for loaded in (from_json, from_yaml):
        assert loaded.algorithm_config == algorithm
        assert isinstance(loaded.algorithm_config, PLRConfig)
    by_name = agora.CurriculumConfig.model_validate(
        {**json.loads(config.model_dump_json()), "algorithm_config": {"type": "plr"}}
    )
    assert by_name.algorithm_config == PLRConfig()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="temperature"):
        PLRConfig(temperature=0.0)
    with pytest.raises(ValueError, match="score_transform"):
        PLRConfig(score_transform="max")  # type: ignore[arg-type]
