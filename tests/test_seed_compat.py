"""The seed system's forms that agora accepts: its config fields, constructors and standalone algorithm."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pydantic import BaseModel, ValidationError

import agora
from agora.algorithms import (
    BasicLPScorer,
    BidirectionalLPScorer,
    DiscreteRandomConfig,
    LearningProgressConfig,
)
from agora.algorithms.standalone import StandaloneAlgorithm
from agora.migrate.names import target
from conftest import new_session
from test_shared_memory import run_python


class Maze(BaseModel):
    size: int = 5


# -- LearningProgressConfig's seed fields ------------------------------------------------------


def test_early_progress_amplification_is_the_reweighting_theta() -> None:
    config = LearningProgressConfig(early_progress_amplification=0.1)
    assert config.progress_smoothing == 0.1
    assert (
        LearningProgressConfig(early_progress_amplification=0.1, progress_smoothing=0.1).progress_smoothing
        == 0.1
    )
    with pytest.raises(ValidationError, match=r"early_progress_amplification=0.2 .* progress_smoothing=0.05"):
        LearningProgressConfig(early_progress_amplification=0.2, progress_smoothing=0.05)
    with pytest.raises(ValidationError, match=r"less than or equal to 0\.5"):
        LearningProgressConfig(early_progress_amplification=0.7)


def test_lp_gain_is_the_performance_bonus_weight() -> None:
    assert LearningProgressConfig(lp_gain=0.25).performance_bonus_weight == 0.25
    assert LearningProgressConfig().performance_bonus_weight == 0.0  # unset: agora's default
    with pytest.raises(ValidationError, match=r"lp_gain=0.25 .* performance_bonus_weight=0.5"):
        LearningProgressConfig(lp_gain=0.25, performance_bonus_weight=0.5)

    def scores(**gain: float) -> dict[int, float]:
        """Two tasks without progress, at success rates 0.8 and 0.2."""
        algorithm = StandaloneAlgorithm(
            2, LearningProgressConfig(sample_threshold=2, staleness_rate=0, **gain)
        )
        algorithm.on_task_created(1)
        algorithm.on_task_created(2)
        for i in range(40):
            algorithm.update_task_performance(1, float(i % 5 != 0))
            algorithm.update_task_performance(2, float(i % 5 == 0))
        return algorithm.score_tasks([1, 2])

    assert scores()[1] == pytest.approx(scores()[2])
    assert scores(lp_gain=1.0)[1] > scores(lp_gain=1.0)[2]  # the bonus favours the task being solved


def test_min_samples_for_lp_is_the_basic_scorers_threshold_only() -> None:
    assert LearningProgressConfig(use_bidirectional=False, min_samples_for_lp=3).sample_threshold == 3
    bidirectional = LearningProgressConfig(min_samples_for_lp=3)
    assert bidirectional.sample_threshold == LearningProgressConfig().sample_threshold  # as in the seed
    assert bidirectional.min_samples_for_lp == 3


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("basic_ema_initial_alpha", 0.5),
        ("basic_ema_alpha_decay", 0.4),
        ("max_memory_tasks", 2500),
        ("show_curriculum_troubleshooting_logging", True),
        ("task_struct_size", 16),
        ("task_default_generator_type", 1.0),
    ],
)
def test_seed_fields_without_effect_are_kept_and_change_nothing(field: str, value: object) -> None:
    config = LearningProgressConfig(**{field: value})
    assert getattr(config, field) == value
    plain = LearningProgressConfig().model_dump()
    assert {k: v for k, v in config.model_dump().items() if k != field} == {
        k: v for k, v in plain.items() if k != field
    }
    again = LearningProgressConfig.model_validate(json.loads(config.model_dump_json()))
    assert getattr(again, field) == value


@pytest.mark.parametrize(
    ("field", "value"),
    [("basic_ema_initial_alpha", 0.0), ("max_memory_tasks", 0), ("task_struct_size", -1)],
)
def test_seed_fields_are_still_validated(field: str, value: object) -> None:
    with pytest.raises(ValidationError, match=field):
        LearningProgressConfig(**{field: value})


def test_a_seed_algorithm_config_loads_in_a_curriculum_config() -> None:
    config = agora.CurriculumConfig(
        task_generator=agora.BucketedTaskGenerator.Config.from_mg(Maze()).add_bucket("size", [5, 7]),
        num_active_tasks=8,
        algorithm_config={
            "type": "learning_progress",
            "early_progress_amplification": 0.05,
            "basic_ema_initial_alpha": 0.5,
            "show_curriculum_troubleshooting_logging": True,
        },
    )
    assert isinstance(config.algorithm_config, LearningProgressConfig)
    assert config.algorithm_config.progress_smoothing == 0.05
    curriculum = config.make()
    task = curriculum.get_task()
    curriculum.update_task_performance(task.task_id, 1.0)
    assert task.get_env_cfg().size in (5, 7)


def test_bucketed_from_mg_is_the_bucketed_helper() -> None:
    made = agora.BucketedTaskGenerator.Config.from_mg(Maze(size=9))
    assert made.model_dump() == agora.bucketed(Maze(size=9)).model_dump()


def test_underexplored_regions_are_the_rarely_played_bucket_entries() -> None:
    gen = agora.bucketed(Maze()).add_bucket("size", [5, 7, 9, 11])
    curriculum = gen.to_curriculum(num_active_tasks=16, seed=1).make()
    analyzer = curriculum.slice_analyzer
    assert analyzer is not None
    assert analyzer.get_underexplored_regions("size") == []  # nothing played yet
    played_nine = False
    for _ in range(200):
        task = curriculum.get_task()
        size = task.get_env_cfg().size
        if size == 11 or (size == 9 and played_nine):  # size 11 is never played, size 9 once
            continue
        played_nine = played_nine or size == 9
        curriculum.update_task_performance(task.task_id, 1.0)
    assert analyzer.get_underexplored_regions("size") == [2, 3]
    with pytest.raises(KeyError, match="'width' is not an analysed bucket axis"):
        analyzer.get_underexplored_regions("width")


# -- StandaloneAlgorithm ------------------------------------------------------------------------


def fed(
    config: LearningProgressConfig, num_tasks: int, scores: dict[int, list[float]]
) -> StandaloneAlgorithm:
    algorithm = config.create(num_tasks)
    for task_id, outcomes in scores.items():
        algorithm.on_task_created(task_id)
        for score in outcomes:
            algorithm.update_task_performance(task_id, score)
    return algorithm


def test_create_with_a_number_of_tasks_gives_a_standalone_algorithm() -> None:
    config = LearningProgressConfig(num_active_tasks=12, task_tracker_ema_alpha=0.05)
    algorithm = config.create(4)
    assert isinstance(algorithm, StandaloneAlgorithm)
    assert algorithm.hypers is config
    assert isinstance(algorithm.scorer, BidirectionalLPScorer)
    assert isinstance(LearningProgressConfig(use_bidirectional=False).create(4).scorer, BasicLPScorer)
    assert algorithm.task_tracker.max_memory_tasks == 12  # sized by num_active_tasks, as the seed did
    assert algorithm.task_tracker.ema_alpha == 0.05
    assert LearningProgressConfig().create(4).task_tracker.max_memory_tasks == 4


def test_standalone_scores_are_sampling_probabilities_of_the_tracked_tasks() -> None:
    changing = [0.1, 0.9] * 15
    algorithm = fed(
        LearningProgressConfig(use_bidirectional=False, min_samples_for_lp=2),
        3,
        {10: changing, 11: [0.5] * 30, 12: []},
    )
    scores = algorithm.score_tasks([10, 11, 12])
    assert set(scores) == {10, 11, 12}
    assert sum(scores.values()) == pytest.approx(1.0)
    assert scores[10] > scores[11]  # variance is the basic scorer's learning progress
    assert algorithm.score_tasks([12]) == {12: scores[12]}
    assert algorithm.recommend_eviction([10, 11]) == 11
    assert algorithm.recommend_eviction([]) is None


def test_standalone_tracks_tasks_by_id_and_reuses_slots() -> None:
    algorithm = fed(LearningProgressConfig(), 2, {7: [0.25, 0.75], 8: [1.0]})
    stats = algorithm.task_tracker.get_task_stats(7)
    assert stats is not None
    assert stats["completion_count"] == 2
    assert stats["mean_score"] == 0.5
    assert stats["last_score"] == 0.75
    assert sorted(algorithm.task_tracker.get_all_tracked_tasks()) == [7, 8]
    algorithm.task_tracker.remove_task(7)
    assert algorithm.task_tracker.get_task_stats(7) is None
    algorithm.task_tracker.track_task_creation(9)  # the freed slot, with fresh statistics
    fresh = algorithm.task_tracker.get_task_stats(9)
    assert fresh is not None
    assert fresh["completion_count"] == 0
    algorithm.task_tracker.update_task_performance(9, 0.5)  # the seed's tracker took scores too
    assert algorithm.task_tracker.get_task_stats(9) == algorithm.task_tracker.get_task_stats(9) | {
        "completion_count": 1.0,
        "last_score": 0.5,
    }
    assert algorithm.stats()["num_tasks"] == 2
    assert algorithm.stats()["num_completed"] == 4


def test_standalone_refuses_what_a_curriculum_refuses() -> None:
    algorithm = fed(LearningProgressConfig(), 1, {3: []})
    with pytest.raises(ValueError, match="unknown task id 4"):
        algorithm.update_task_performance(4, 1.0)
    with pytest.raises(ValueError, match="score for task 3 is nan"):
        algorithm.update_task_performance(3, float("nan"))
    with pytest.raises(ValueError, match="task 3 is already tracked"):
        algorithm.on_task_created(3)
    with pytest.raises(ValueError, match="all 1 slots hold tasks"):
        algorithm.on_task_created(5)
    with pytest.raises(ValueError, match="unknown task id 5"):
        algorithm.score_tasks([5])
    with pytest.raises(ValueError, match="num_tasks must be a positive int"):
        StandaloneAlgorithm(0, LearningProgressConfig())
    assert algorithm.task_tracker.get_task_stats(3) == algorithm.task_tracker.get_task_stats(3)  # unchanged


def test_standalone_takes_curriculum_tasks_and_any_algorithm() -> None:
    curriculum = agora.single_task(Maze()).to_curriculum(num_active_tasks=4).make()
    task = curriculum.get_task()
    uniform = DiscreteRandomConfig().create(4)
    uniform.on_task_created(task)
    uniform.on_task_created(task.task_id + 1)
    assert uniform.score_tasks([task.task_id, task.task_id + 1]) == {task.task_id: 0.5, task.task_id + 1: 0.5}
    uniform.update_task_performance(task.task_id, 0.5)
    assert uniform.task_tracker.get_task_stats(task.task_id) == {
        "completion_count": 1.0,
        "mean_score": 0.5,
        "last_score": 0.5,
    }
    assert uniform.should_evict_task(task.task_id) is False  # uniform sampling never evicts
    with pytest.raises(AttributeError, match="has no scorer"):
        uniform.scorer  # noqa: B018


def test_should_evict_task_follows_the_eviction_rule() -> None:
    config = LearningProgressConfig(sample_threshold=2, ema_timescale=0.5, eviction_threshold_percentile=0.5)
    steady, rising = [0.5] * 40, list(np.linspace(0.0, 1.0, 40))
    algorithm = fed(config, 3, {1: steady, 2: rising, 3: [0.5]})
    assert algorithm.should_evict_task(1) is True  # judged, and the lower learning progress
    assert algorithm.should_evict_task(2) is False
    assert algorithm.should_evict_task(3) is False  # too few outcomes to be judged
    assert algorithm.should_evict_task(1, min_presentations=100) is False


def test_a_shared_standalone_pool_is_seen_by_another_process() -> None:
    session = new_session()
    config = LearningProgressConfig(num_active_tasks=8, use_shared_memory=True, session_id=session)
    algorithm = fed(config, 8, {123456: [0.25, 0.78125]})
    try:
        script = (
            "import sys\n"
            "from agora.algorithms import LearningProgressConfig\n"
            "config = LearningProgressConfig(\n"
            "    num_active_tasks=8, use_shared_memory=True, session_id=sys.argv[1]\n"
            ")\n"
            "algorithm = config.create(8)\n"
            "print(algorithm.task_tracker.get_task_stats(123456)['last_score'])\n"
            "algorithm.update_task_performance(123456, 1.0)\n"
            "algorithm.close()\n"
        )
        done = run_python(script, session)
        assert done.returncode == 0, done.stderr
        assert float(done.stdout) == 0.78125
        stats = algorithm.task_tracker.get_task_stats(123456)
        assert stats is not None
        assert stats["completion_count"] == 3
        assert stats["last_score"] == 1.0
    finally:
        algorithm.close()


# -- migration ----------------------------------------------------------------------------------


def test_the_seed_algorithm_name_migrates_to_the_standalone_algorithm() -> None:
    found = target("LearningProgressAlgorithm")
    assert found is not None
    assert (found.module, found.name) == ("agora.algorithms.standalone", "StandaloneAlgorithm")
