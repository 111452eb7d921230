"""Sampling for learnability (SFL): its defining behaviours on tiny fixed-seed pools."""

from __future__ import annotations

import json
from itertools import cycle

import numpy as np
import pytest
import yaml
from pydantic import BaseModel

import agora
from agora.algorithms import LearnabilityAlgorithm, LearnabilityConfig


class Level(BaseModel):
    level: int = 0


def sfl_curriculum(num_tasks: int = 12, **sfl: object) -> agora.Curriculum[Level]:
    """A pool holding task ids 0 .. num_tasks - 1, no eviction unless asked."""
    return agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", [0]),
        num_active_tasks=num_tasks,
        max_task_id=num_tasks,
        refresh_interval=1,
        min_presentations_for_eviction=4,
        algorithm_config=LearnabilityConfig(**{"evict": False, **sfl}),  # type: ignore[arg-type]
    ).make()


def report_kinds(curriculum: agora.Curriculum[Level], outcomes: int = 8) -> None:
    """Tasks 0-3 always fail (p = 0), 4-7 always succeed (p = 1), 8-11 alternate (p = 0.5)."""
    for task_id in range(12):
        pattern = [0.0] if task_id < 4 else [1.0] if task_id < 8 else [1.0, 0.0]
        for _, score in zip(range(outcomes), cycle(pattern), strict=False):
            curriculum.update_task_performance(task_id, score)


def buffer_ids(curriculum: agora.Curriculum[Level]) -> list[int]:
    algorithm = curriculum.algorithm
    assert isinstance(algorithm, LearnabilityAlgorithm)
    return sorted(curriculum.pool.array("ids")[algorithm.buffer(curriculum.pool.active_slots())].tolist())


def test_half_solved_tasks_fill_the_top_k_and_never_nor_always_solved_ones_do_not() -> None:
    curriculum = sfl_curriculum(top_k=6)
    report_kinds(curriculum)
    assert buffer_ids(curriculum) == [8, 9, 10, 11]  # p(1 - p) = 0 for the others: never in the buffer
    probs = curriculum.sampling_probabilities()
    assert probs[8] == pytest.approx(0.5 / 4 + 0.5 / 12)  # half on the buffer, half uniform
    assert probs[0] == probs[4] == pytest.approx(0.5 / 12)
    small = sfl_curriculum(top_k=2)
    report_kinds(small)
    assert len(buffer_ids(small)) == 2
    assert set(buffer_ids(small)) < {8, 9, 10, 11}


def test_tasks_are_judged_only_after_min_outcomes() -> None:
    curriculum = sfl_curriculum(min_outcomes=5)
    report_kinds(curriculum, outcomes=4)
    assert buffer_ids(curriculum) == []
    assert list(curriculum.sampling_probabilities().values()) == pytest.approx([1 / 12] * 12)


def test_proportional_sampling_follows_learnability() -> None:
    curriculum = sfl_curriculum(4, sampling="proportional", buffer_ratio=1.0, min_outcomes=4)
    for task_id, pattern in enumerate([[1.0, 0.0], [1.0, 1.0, 1.0, 0.0], [0.0], [1.0]]):
        for _, score in zip(range(4), cycle(pattern), strict=False):
            curriculum.update_task_performance(task_id, score)
    probs = curriculum.sampling_probabilities()  # p(1 - p): 0.25 and 0.1875
    assert [probs[0], probs[1], probs[2], probs[3]] == pytest.approx([0.25 / 0.4375, 0.1875 / 0.4375, 0, 0])


def test_success_rate_is_a_mean_then_an_ema() -> None:
    curriculum = sfl_curriculum(2, ema_alpha=0.25)
    rate = curriculum.pool.array("success_rate")
    slot = curriculum.pool.slot_of(0)
    for score in (1.0, 0.0, 1.0):  # mean of the first four outcomes (1 / n >= 0.25)
        curriculum.update_task_performance(0, score)
    assert rate[slot] == pytest.approx(2 / 3)
    curriculum.update_task_performance_many([0, 0], [0.0, 0.0])
    assert rate[slot] == pytest.approx(0.5 * 0.75)  # the mean of 4, then one EMA step at 0.25


def test_eviction_replaces_the_least_learnable_judged_tasks_outside_the_buffer() -> None:
    curriculum = sfl_curriculum(top_k=2, evict=True)
    report_kinds(curriculum)
    for task_id in (0, 4):  # the most played of the unlearnable ones go first
        curriculum.update_task_performance(task_id, 0.0 if task_id == 0 else 1.0)
    active = curriculum.pool.active_slots()
    candidates = curriculum.algorithm.eviction_candidates(active, 4, limit=12)
    evicted = curriculum.pool.array("ids")[candidates].tolist()
    buffer = buffer_ids(curriculum)
    assert sorted(evicted[:2]) == [0, 4]
    assert set(evicted) == set(range(12)) - set(buffer)  # the buffer stays
    assert set(evicted[-2:]) == {8, 9, 10, 11} - set(buffer)  # learnable ones outside it last


def learnable_in_pool(evict: bool) -> int:
    """Pool tasks among levels 0-9 of 200 (half solved; the rest always fail or always succeed)
    after 1,200 episodes in a pool of 20, with or without eviction."""
    config = agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", list(range(200))),
        num_active_tasks=20,
        refresh_interval=10,
        min_presentations_for_eviction=5,
        algorithm_config=LearnabilityConfig(top_k=10, evict=evict),
        seed=3,
    )
    curriculum = config.make()
    rng = np.random.default_rng(0)
    for _ in range(60):
        batch = curriculum.get_tasks(20)
        levels = np.array([task.get_env_cfg().level for task in batch])
        outcomes = np.where(levels < 10, rng.random(20) < 0.5, levels % 2 == 0).astype(float)
        curriculum.update_task_performance_many(batch, outcomes)
    return sum(curriculum.generated(t).config.level < 10 for t in curriculum.active_task_ids())


def test_eviction_finds_learnable_tasks_in_a_large_space() -> None:
    # A uniform pool of 20 holds one such task on average (this seed's holds 1); each eviction
    # draws a fresh task, learnable with probability 1/20.
    assert learnable_in_pool(evict=False) == 1
    assert learnable_in_pool(evict=True) >= 5


def test_config_round_trips_through_json_and_yaml() -> None:
    algorithm = LearnabilityConfig(top_k=50, buffer_ratio=0.7, sampling="proportional")
    config = agora.CurriculumConfig(
        task_generator=agora.bucketed(Level()).add_bucket("level", [1, 2]), algorithm_config=algorithm
    )
    from_json = agora.CurriculumConfig.model_validate_json(config.model_dump_json())
    from_yaml = agora.CurriculumConfig.model_validate(
        yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json")))
    )
    for loaded in (from_json, from_yaml):
        assert loaded.algorithm_config == algorithm
    by_name = agora.CurriculumConfig.model_validate(
        {**json.loads(config.model_dump_json()), "algorithm_config": {"type": "learnability"}}
    )
    assert isinstance(by_name.algorithm_config, LearnabilityConfig)
