"""Gini coefficients: the function, and the ``curriculum_gini/*`` statistics built on it."""

from __future__ import annotations

import math

import pytest
from pydantic import BaseModel

import agora
from agora.algorithms import LearningProgressConfig
from agora.algorithms.standalone import StandaloneAlgorithm
from agora.curriculum.gini import gini


class Maze(BaseModel):
    size: int = 5


def test_gini_is_zero_for_equal_shares_and_grows_with_concentration() -> None:
    assert gini([3, 3, 3]) == 0.0
    assert gini([]) == 0.0
    assert gini([0, 0]) == 0.0  # nothing to share
    # one of n holding everything: (n - 1) / n
    assert gini([0, 0, 0, 8]) == pytest.approx(0.75)
    # 2, 5, 10 by the rank formula: 2 * (1*2 + 2*5 + 3*10) / (3 * 17) - 4/3
    assert gini([10, 2, 5]) == pytest.approx(84 / 51 - 4 / 3)
    assert gini([1, 2, 3]) < gini([1, 2, 30])


@pytest.mark.parametrize("bad", [[1.0, -0.5], [1.0, math.nan], [math.inf, 1.0]])
def test_gini_refuses_negative_or_non_finite_values(bad: list[float]) -> None:
    with pytest.raises(ValueError, match="finite non-negative"):
        gini(bad)


def test_standalone_base_stats_have_the_pools_coefficients() -> None:
    algorithm = StandaloneAlgorithm(3, LearningProgressConfig(sample_threshold=2))
    for task_id in (7, 8, 9):
        algorithm.on_task_created(task_id)
    for task_id, episodes in ((7, 10), (8, 5), (9, 2)):
        for i in range(episodes):
            algorithm.update_task_performance(task_id, 0.1 * (i % 3))
    stats = algorithm.get_base_stats()
    assert stats["curriculum_gini/pool_occupancy"] == pytest.approx(gini([10, 5, 2]))
    probabilities = algorithm.score_tasks([7, 8, 9])
    assert stats["curriculum_gini/sampling_probs"] == pytest.approx(gini(list(probabilities.values())))
    assert 0.0 <= stats["curriculum_gini/raw_lp_scores"] < 1.0
    assert stats["num_tasks"] == 3.0
    assert stats["num_completed"] == 17.0
    assert algorithm.stats()["curriculum_gini/pool_occupancy"] == stats["curriculum_gini/pool_occupancy"]


def test_an_empty_standalone_pool_has_no_coefficients() -> None:
    stats = StandaloneAlgorithm(2, agora.DiscreteRandomConfig()).get_base_stats()
    assert not any(key.startswith("curriculum_gini/") for key in stats)


def test_curriculum_stats_report_how_unevenly_tasks_were_played() -> None:
    tasks = agora.merge(
        [agora.single_task(Maze(size=1), label="a"), agora.single_task(Maze(size=2), label="b")]
    )
    curriculum = agora.CurriculumConfig(task_generator=tasks, num_active_tasks=4, seed=1).make()
    stats = curriculum.stats()
    assert stats["curriculum_gini/pool_occupancy"] == 0.0  # nothing played yet
    assert stats["curriculum_gini/sampling_probs"] == pytest.approx(0.0)  # uniform sampling
    assert "curriculum_gini/raw_lp_scores" not in stats  # uniform sampling has no LP
    favourite = curriculum.get_task()
    for _ in range(6):
        curriculum.update_task_performance(favourite.task_id, 1.0)
    # one task of four holds every episode
    assert curriculum.stats()["curriculum_gini/pool_occupancy"] == pytest.approx(0.75)
    # four tasks of labels a and b: 2 + 2 (0), 1 + 3 (0.25) or one label only (0)
    assert curriculum.stats()["curriculum_gini/pool_composition_by_label"] in (0.0, 0.25)


def test_learning_progress_curricula_report_the_lp_coefficient() -> None:
    config = agora.CurriculumConfig(
        task_generator=agora.single_task(Maze()),
        num_active_tasks=4,
        algorithm_config=LearningProgressConfig(),
    )
    stats = config.make().stats()
    assert stats["curriculum_gini/raw_lp_scores"] == 0.0  # no task has progress yet
