"""Curriculum: pool lifecycle, counters, statistics, determinism and bad input."""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
from pydantic import ValidationError

from agora import (
    CurriculumAlgorithm,
    CurriculumAlgorithmConfig,
    CurriculumConfig,
    DiscreteRandomConfig,
    LearningProgressConfig,
    bucketed,
    env_curriculum,
    merge,
    single_task,
)
from agora.pool import TaskPool
from conftest import Make, in_mode, track_session
from core_models import EvictPlayedConfig, MazeConfig


class PlayedOnlyConfig(CurriculumAlgorithmConfig):
    """Samples only tasks that have been completed at least once (uniform when none has)."""

    type: str = "test_curriculum.PlayedOnlyConfig"

    def create(self, pool: TaskPool) -> CurriculumAlgorithm:
        return PlayedOnly(self, pool)


class PlayedOnly(CurriculumAlgorithm):
    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return (self.pool.array("completions")[slots] > 0).astype(np.float64)


class NegativeWeightsConfig(CurriculumAlgorithmConfig):
    type: str = "test_curriculum.NegativeWeightsConfig"

    def create(self, pool: TaskPool) -> CurriculumAlgorithm:
        return NegativeWeights(self, pool)


class NegativeWeights(CurriculumAlgorithm):
    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return -np.ones(len(slots))


def maze_buckets() -> Any:
    return bucketed(MazeConfig()).add_bucket("size", [3, 5, 7]).add_bucket("wall_density", [0.1, 0.3])


def run(curriculum: Any, steps: int) -> list[int]:
    """Play ``steps`` episodes with a score that depends only on the task id and step."""
    ids = []
    for step in range(steps):
        task = curriculum.get_task()
        ids.append(task.task_id)
        curriculum.update_task_performance(task.task_id, ((task.task_id * 7 + step) % 11) / 10)
    return ids


# -- config -----------------------------------------------------------------------------------


def test_pool_starts_full_with_distinct_ids_in_range(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=50, max_task_id=1000))
    ids = curriculum.active_task_ids()
    assert len(ids) == len(set(ids)) == 50
    assert all(0 <= task_id < 1000 for task_id in ids)
    assert curriculum.pool.size == 50
    assert curriculum.stats()["num_created"] == 50


def test_pool_may_use_the_whole_id_space(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=40, max_task_id=40))
    assert sorted(curriculum.active_task_ids()) == list(range(40))


def test_pool_larger_than_id_space_is_an_error() -> None:
    with pytest.raises(ValidationError, match=r"num_active_tasks \(11\) cannot exceed max_task_id \(10\)"):
        maze_buckets().to_curriculum(num_active_tasks=11, max_task_id=10)


@pytest.mark.parametrize(
    "field", ["num_active_tasks", "max_task_id", "min_presentations_for_eviction", "refresh_interval"]
)
@pytest.mark.parametrize("value", [0, -3])
def test_non_positive_sizes_are_rejected(field: str, value: int) -> None:
    with pytest.raises(ValidationError, match=field):
        CurriculumConfig(task_generator=maze_buckets(), **{field: value})


def test_other_config_validation() -> None:
    with pytest.raises(ValidationError, match="seed"):
        CurriculumConfig(task_generator=maze_buckets(), seed=-1)
    with pytest.raises(ValidationError, match="num_active_taks"):
        CurriculumConfig(task_generator=maze_buckets(), num_active_taks=5)  # type: ignore[call-arg]
    config = CurriculumConfig(task_generator=maze_buckets())
    with pytest.raises(ValidationError, match="num_active_tasks"):
        config.num_active_tasks = 0
    with pytest.raises(TypeError, match="not a CurriculumAlgorithmConfig"):
        CurriculumConfig(task_generator=maze_buckets(), algorithm_config={"type": "core_models.MazeConfig"})


def test_refresh_interval_default() -> None:
    assert (
        CurriculumConfig(task_generator=maze_buckets(), num_active_tasks=100).effective_refresh_interval == 25
    )
    assert CurriculumConfig(task_generator=maze_buckets(), num_active_tasks=3).effective_refresh_interval == 1
    big = CurriculumConfig(task_generator=maze_buckets(), num_active_tasks=2**21)
    assert big.effective_refresh_interval == 65_536
    fixed = CurriculumConfig(task_generator=maze_buckets(), num_active_tasks=100, refresh_interval=3)
    assert fixed.effective_refresh_interval == 3


def test_algorithm_config_round_trips_by_type() -> None:
    config = maze_buckets().to_curriculum(num_active_tasks=8, algorithm_config=EvictPlayedConfig())
    loaded = CurriculumConfig.model_validate_json(config.model_dump_json())
    assert type(loaded.algorithm_config) is EvictPlayedConfig
    assert (
        type(
            CurriculumConfig.model_validate_json(
                maze_buckets().to_curriculum().model_dump_json()
            ).algorithm_config
        )
        is DiscreteRandomConfig
    )


# -- helpers ----------------------------------------------------------------------------------


def test_helpers_build_the_documented_shapes(make: Make) -> None:
    curriculum = make(env_curriculum(MazeConfig(size=9), num_active_tasks=4, seed=3))
    assert curriculum.config.seed == 3
    assert curriculum.get_task().get_env_cfg() == MazeConfig(size=9)
    mixed = merge([single_task(MazeConfig(name="a")), maze_buckets()], [1.0, 3.0])
    config = mixed.to_curriculum(num_active_tasks=400, seed=1)
    assert isinstance(config, CurriculumConfig)
    assert config.task_generator is mixed
    assert config.num_active_tasks == 400
    curriculum = make(config)
    names = Counter(curriculum.generated(task_id).config.name for task_id in curriculum.active_task_ids())
    assert set(names) == {"a", "maze"}
    assert names["maze"] > 2 * names["a"]


# -- per-episode API --------------------------------------------------------------------------


def test_get_task_and_update_counters(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    task = curriculum.get_task()
    assert task.task_id in curriculum.active_task_ids()
    assert (task.num_scheduled, task.num_completions, task.mean_score) == (1, 0, 0.0)
    curriculum.update_task_performance(task.task_id, 0.5)
    task.complete(1.0)
    assert task.num_completions == 2
    assert task.mean_score == pytest.approx(0.75)
    same = [t for t in curriculum.get_tasks(40) if t.task_id == task.task_id]
    assert same, "with 4 tasks and 40 draws every task comes up"
    assert task.num_scheduled == 1 + len(same)
    stats = curriculum.stats()
    assert stats["num_completed"] == 2
    assert stats["num_scheduled"] == 41
    assert stats["frac_tasks_played"] == 0.25
    assert stats["mean_task_score"] == pytest.approx(0.75)


def test_task_exposes_config_bucket_values_and_label(make: Make) -> None:
    generator = maze_buckets()
    generator.label = "maze"
    curriculum = make(generator.to_curriculum(num_active_tasks=8))
    task = curriculum.get_task()
    values = task.get_bucket_values()
    assert set(values) == {"size", "wall_density"}
    assert task.get_slice_values() == values
    config = task.get_env_cfg()
    assert (config.size, config.wall_density) == (values["size"], values["wall_density"])
    assert config == generator.create().get_task(task.task_id)
    assert task.get_label() == "maze"
    assert "maze" in repr(task)
    values["size"] = -1
    assert task.get_bucket_values()["size"] != -1, "callers get a copy"


def test_stats_are_a_flat_dict_of_floats(make: Make) -> None:
    config = merge([maze_buckets(), single_task(MazeConfig())])
    config.task_generators[0].label = "buckets"
    config.task_generators[1].label = "single"
    curriculum = make(config.to_curriculum(num_active_tasks=32, algorithm_config=EvictPlayedConfig()))
    run(curriculum, 30)
    stats = curriculum.stats()
    assert stats
    assert all(isinstance(key, str) and type(value) is float for key, value in stats.items())
    assert stats["label/buckets/num_active"] + stats["label/single/num_active"] == 32
    assert stats["algorithm/num_updates"] == 30
    assert {"num_active_tasks", "num_evicted", "num_stale_updates", "mean_task_score"} <= set(stats)


def test_same_seed_same_sequence_different_seed_differs(make: Make) -> None:
    def sequence(seed: int) -> tuple[list[int], dict[str, float]]:
        config = maze_buckets().to_curriculum(
            num_active_tasks=16,
            seed=seed,
            refresh_interval=5,
            algorithm_config=EvictPlayedConfig(),
            min_presentations_for_eviction=2,
        )
        curriculum = make(config)
        return run(curriculum, 300), curriculum.stats()

    first, second, other = sequence(7), sequence(7), sequence(8)
    assert first == second
    assert first[1]["num_evicted"] > 0, "the sequence covers evictions and refills"
    assert first[0] != other[0]


def test_sampling_is_uniform_with_the_default_algorithm(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=10, seed=1))
    counts = Counter(task.task_id for task in curriculum.get_tasks(3000))
    assert set(counts) == set(curriculum.active_task_ids())
    assert all(200 <= count <= 400 for count in counts.values())
    probabilities = curriculum.sampling_probabilities()
    assert sorted(probabilities) == sorted(curriculum.active_task_ids())
    assert all(p == pytest.approx(0.1) for p in probabilities.values())


def test_sampling_follows_algorithm_weights(make: Make) -> None:
    curriculum = make(
        maze_buckets().to_curriculum(
            num_active_tasks=20, refresh_interval=1, algorithm_config=PlayedOnlyConfig()
        )
    )
    assert len({task.task_id for task in curriculum.get_tasks(60)}) > 1, (
        "all-zero weights fall back to uniform"
    )
    favourite = curriculum.active_task_ids()[3]
    curriculum.update_task_performance(favourite, 0.0)
    curriculum.get_task()  # may still come from the pre-drawn queue
    assert {task.task_id for task in curriculum.get_tasks(30)} == {favourite}
    assert curriculum.sampling_probabilities()[favourite] == 1.0


def test_draws_are_independent_and_follow_the_weights(make: Make) -> None:
    # One refresh draws everything: the counts must match the weights (chi-square) and the
    # order must look independent, although the draws are made from sorted uniforms.
    config = maze_buckets().to_curriculum(
        num_active_tasks=40,
        refresh_interval=200_000,
        algorithm_config=EvictPlayedConfig(),
        min_presentations_for_eviction=1_000,
        seed=5,
    )
    curriculum = make(config)
    ids = curriculum.active_task_ids()
    for index, task_id in enumerate(ids):
        curriculum.update_task_performance(task_id, index / 10)  # weights 1.0 to 4.9
    probabilities = curriculum.sampling_probabilities()
    draws = curriculum.get_tasks(200_000).task_ids
    counts = Counter(draws.tolist())
    expected = {task_id: p * len(draws) for task_id, p in probabilities.items()}
    chi_square = sum((counts[t] - e) ** 2 / e for t, e in expected.items())
    assert chi_square < 80, f"chi-square {chi_square:.1f} with 39 degrees of freedom"
    position = {task_id: i for i, task_id in enumerate(ids)}
    slots = np.array([position[t] for t in draws.tolist()], dtype=np.float64)
    assert abs(np.corrcoef(slots[:-1], slots[1:])[0, 1]) < 0.02
    assert 0.45 < np.mean(slots[1:] > slots[:-1]) < 0.52


def test_invalid_algorithm_weights_are_an_error(make: Make) -> None:
    config = maze_buckets().to_curriculum(num_active_tasks=4, algorithm_config=NegativeWeightsConfig())
    with pytest.raises(ValueError, match=r"NegativeWeights\.weights returned invalid weights"):
        make(config).get_task()


def test_batch_api_matches_single_calls(make: Make) -> None:
    config = maze_buckets().to_curriculum(
        num_active_tasks=16,
        refresh_interval=3,
        algorithm_config=EvictPlayedConfig(),
        min_presentations_for_eviction=1,
    )
    single, batch = make(config), make(config)
    for _ in range(10):
        tasks = [single.get_task() for _ in range(4)]
        for task in tasks:
            single.update_task_performance(task.task_id, 0.25)
        batched = batch.get_tasks(4)
        batch.update_task_performance_many([task.task_id for task in batched], [0.25] * 4)
        assert [task.task_id for task in batched] == [task.task_id for task in tasks]
    assert batch.stats() == single.stats()
    with pytest.raises(ValueError, match="2 task ids but 1 scores"):
        batch.update_task_performance_many([1, 2], [0.5])


def test_task_batch_is_a_sequence_of_tasks_with_an_id_array(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=8, refresh_interval=3))
    batch = curriculum.get_tasks(7)  # spans three refreshes
    assert len(batch) == 7
    assert [task.task_id for task in batch] == batch.task_ids.tolist()
    assert batch[-1].task_id == batch.task_ids[6]
    assert [task.task_id for task in batch[1:3]] == batch.task_ids[1:3].tolist()
    assert batch[2].num_scheduled >= 1
    assert batch[0].get_env_cfg() == curriculum.task_generator.get_task(int(batch.task_ids[0]))
    with pytest.raises(ValueError, match="read-only"):
        batch.task_ids[0] = 5
    with pytest.raises(IndexError):
        batch[7]
    curriculum.update_task_performance_many(batch.task_ids, np.full(7, 0.5))
    assert curriculum.stats()["num_completed"] == 7
    assert curriculum.get_tasks(0).task_ids.tolist() == []
    with pytest.raises(ValueError, match="cannot get -1 tasks"):
        curriculum.get_tasks(-1)


def test_config_cache(make: Make) -> None:
    cached = make(maze_buckets().to_curriculum(num_active_tasks=8, config_cache_size=2))
    first, second, third = cached.active_task_ids()[:3]
    assert cached.generated(first) is cached.generated(first)
    cached.generated(second)
    cached.generated(third)  # evicts ``first`` (least recently used)
    assert cached.generated(third) is cached.generated(third)
    uncached = make(maze_buckets().to_curriculum(num_active_tasks=8, config_cache_size=0))
    a, b = uncached.generated(first), uncached.generated(first)
    assert a is not b
    assert a.config == b.config
    assert cached.task_generator.get_task(first) == a.config


# -- eviction and bad input -------------------------------------------------------------------


def evicting_curriculum(make: Make, **kwargs: Any) -> Any:
    return make(
        maze_buckets().to_curriculum(
            num_active_tasks=8,
            refresh_interval=1,
            min_presentations_for_eviction=1,
            algorithm_config=EvictPlayedConfig(),
            **kwargs,
        )
    )


def test_evicted_tasks_are_replaced_and_their_handles_read_zero(make: Make) -> None:
    curriculum = evicting_curriculum(make)
    task = curriculum.get_task()
    task.complete(0.5)
    assert task.num_completions == 1
    curriculum.get_task()  # the refresh evicts the completed task and refills the pool
    assert task.task_id not in curriculum.active_task_ids()
    assert curriculum.pool.size == 8
    assert (task.num_completions, task.num_scheduled, task.mean_score) == (0, 0, 0.0)
    stats = curriculum.stats()
    assert (stats["num_evicted"], stats["num_created"]) == (1, 9)


def test_update_for_an_evicted_task_is_counted_and_ignored(make: Make) -> None:
    curriculum = evicting_curriculum(make)
    task = curriculum.get_task()
    task.complete(0.5)
    curriculum.get_task()
    before = curriculum.stats()
    curriculum.update_task_performance(task.task_id, 1.0)
    curriculum.update_task_performance(task.task_id, 0.0)
    after = curriculum.stats()
    assert after.pop("num_stale_updates") == before.pop("num_stale_updates") + 2
    # The episodes were played (num_completed counts every reported episode, so that workers
    # sharing a pool add up), but no task's statistics change.
    assert after.pop("num_completed") == before.pop("num_completed") + 2
    assert after == before


@pytest.mark.parametrize("score", [math.nan, math.inf, -math.inf])
def test_non_finite_scores_name_the_task(score: float, make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    task = curriculum.get_task()
    with pytest.raises(ValueError, match=rf"score for task {task.task_id} is {score!r}"):
        curriculum.update_task_performance(task.task_id, score)
    with pytest.raises(ValueError, match=rf"task {task.task_id}"):
        task.complete(score)
    assert curriculum.stats()["num_completed"] == 0
    assert task.num_completions == 0


def test_a_task_completes_once(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    task = curriculum.get_task()
    with pytest.raises(ValueError, match="finite"):
        task.complete(math.nan)  # a rejected score is not the task's one completion
    task.complete(1.0)
    with pytest.raises(RuntimeError, match=rf"task {task.task_id} was already completed"):
        task.complete(0.0)
    assert (task.num_completions, task.mean_score) == (1, 1.0)
    assert curriculum.stats()["num_completed"] == 1


@pytest.mark.parametrize("score", [np.array([0.5, 1.0]), np.array([1.0]), [0.5]])
def test_complete_takes_one_number(score: Any, make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    task = curriculum.get_task()
    with pytest.raises((TypeError, ValueError), match=rf"score for task {task.task_id}"):
        task.complete(score)
    assert curriculum.stats()["num_completed"] == 0
    task.complete(np.float32(0.5))  # numpy scalars are numbers
    assert task.mean_score == 0.5


@pytest.mark.parametrize("task_id", [-1, -2, 10**6, 2**70])
def test_unknown_task_ids_are_named(task_id: int, make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4, max_task_id=100))
    before = curriculum.stats()
    with pytest.raises(ValueError, match=rf"unknown task id {task_id}\b"):
        curriculum.update_task_performance(task_id, 1.0)
    assert curriculum.stats() == before


@pytest.mark.parametrize("task_id", [-1, 10**6])
def test_unknown_task_ids_in_a_batch_change_nothing(task_id: int, make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4, max_task_id=100))
    known = curriculum.active_task_ids()[0]
    before = curriculum.stats()
    with pytest.raises(ValueError, match=rf"unknown task id {task_id}\b"):
        curriculum.update_task_performance_many([known, task_id], [1.0, 1.0])
    with pytest.raises(ValueError, match=rf"score for task {known} is nan"):
        curriculum.update_task_performance_many([known, known], [1.0, math.nan])
    assert curriculum.stats() == before


def test_batch_update_for_an_evicted_task_is_counted_and_ignored(make: Make) -> None:
    curriculum = evicting_curriculum(make)
    task = curriculum.get_task()
    task.complete(0.5)
    curriculum.get_task()
    before = curriculum.stats()
    curriculum.update_task_performance_many([task.task_id, task.task_id], [1.0, 0.0])
    after = curriculum.stats()
    assert after.pop("num_stale_updates") == before.pop("num_stale_updates") + 2
    # The episodes were played (num_completed counts every reported episode, so that workers
    # sharing a pool add up), but no task's statistics change.
    assert after.pop("num_completed") == before.pop("num_completed") + 2
    assert after == before


def test_non_int_task_ids_are_named(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    with pytest.raises(TypeError, match="got 'abc'"):
        curriculum.update_task_performance("abc", 1.0)  # type: ignore[arg-type]
    task_id = curriculum.active_task_ids()[0]
    curriculum.update_task_performance(np.int64(task_id), np.float32(0.5))  # type: ignore[arg-type]
    assert curriculum.stats()["num_completed"] == 1


@pytest.mark.parametrize(
    ("score", "error", "message"),
    [
        ("0.5", TypeError, r"is '0\.5' \(str\): scores are numbers"),
        (b"1", TypeError, r"is b'1' \(bytes\)"),
        (True, TypeError, r"is True \(bool\)"),
        (np.bool_(True), TypeError, r"is (np\.True_|True) \(bool"),
        (object(), TypeError, r"is <object object at \w+> \(object\)"),
        (1e308, ValueError, r"is 1e\+308: scores must be finite numbers of magnitude <= 1e\+15"),
        (-1e16, ValueError, r"is -1e\+16"),
    ],
)
def test_scores_are_numbers_of_bounded_magnitude(
    score: Any, error: type[Exception], message: str, make: Make
) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    task = curriculum.get_task()
    with pytest.raises(error, match=rf"score for task {task.task_id} {message}"):
        curriculum.update_task_performance(task.task_id, score)
    with pytest.raises(error, match=rf"score for task {task.task_id} {message}"):
        curriculum.update_task_performance_many([task.task_id, task.task_id], [0.5, score])
    curriculum.update_task_performance(task.task_id, 1e15)  # the largest accepted magnitude
    curriculum.update_task_performance_many([task.task_id] * 3, np.array([-1e15, 2, 3], dtype=np.int64))
    stats = curriculum.stats()
    assert stats["num_completed"] == 4
    assert all(math.isfinite(value) for value in stats.values())


@pytest.mark.parametrize("k", ["3", None, 2.5, True])
def test_get_tasks_names_a_count_that_is_not_an_int(k: Any, make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    with pytest.raises(TypeError, match=rf"got {re.escape(repr(k))} \({type(k).__name__}\)"):
        curriculum.get_tasks(k)
    assert len(curriculum.get_tasks(np.int64(3))) == 3


def test_batch_ids_must_be_one_dimensional_ints_in_range(make: Make) -> None:
    curriculum = make(maze_buckets().to_curriculum(num_active_tasks=4))
    ids = curriculum.active_task_ids()
    with pytest.raises(ValueError, match=r"task ids must be a 1-D sequence, got shape \(2, 2\)"):
        curriculum.update_task_performance_many(np.array(ids).reshape(2, 2), [1.0] * 4)
    with pytest.raises(
        ValueError, match=r"scores must be a 1-D sequence like the task ids, got shape \(4, 1\)"
    ):
        curriculum.update_task_performance_many(ids, np.ones((4, 1)))
    with pytest.raises(ValueError, match=r"unknown task id 18446744073709551615\b"):
        curriculum.update_task_performance_many(np.array([ids[0], 2**64 - 1], dtype=np.uint64), [1.0, 1.0])
    with pytest.raises(ValueError, match=r"unknown task id 9223372036854775808\b"):
        curriculum.update_task_performance_many([ids[0], 2**63], [1.0, 1.0])
    with pytest.raises(TypeError, match=r"got '5' \(str\)"):
        curriculum.update_task_performance_many(np.array([ids[0], "5"], dtype=object), [1.0, 1.0])
    with pytest.raises(TypeError, match=r"got True \(bool\)"):
        curriculum.update_task_performance_many([True], [1.0])
    with pytest.raises(TypeError, match=r"task ids must be integers, got bool"):
        curriculum.update_task_performance_many(np.array([True]), [1.0])
    assert curriculum.stats()["num_completed"] == 0


def test_a_bucket_path_that_does_not_exist_fails_at_make(make: Make) -> None:
    config = bucketed(MazeConfig()).add_bucket("sise", [3, 5]).to_curriculum(num_active_tasks=4)
    with pytest.raises(KeyError, match="override path 'sise' does not exist"):
        make(config)


def test_curriculum_knobs_set_on_the_algorithm_config_move_to_the_curriculum_config(make: Make) -> None:
    algorithm = DiscreteRandomConfig(max_slice_axes=1, shared_update_batch=8)
    config = maze_buckets().to_curriculum(algorithm_config=algorithm)
    assert (config.max_slice_axes, config.shared_update_batch) == (1, 8)
    assert make(config).slice_analyzer.axes.keys() == {"size"}  # type: ignore[union-attr]


def test_curriculum_knobs_are_mirrored_on_a_copy_of_the_algorithm_config() -> None:
    algorithm = DiscreteRandomConfig()
    config = maze_buckets().to_curriculum(algorithm_config=algorithm, enable_detailed_slice_logging=True)
    assert config.algorithm_config.enable_detailed_slice_logging
    assert not algorithm.enable_detailed_slice_logging  # the caller's object is not changed
    again = CurriculumConfig.model_validate_json(config.model_dump_json())
    assert again == config
    again.max_slice_axes = 1  # a later assignment is not a conflict with the mirrored copy
    assert again.algorithm_config.max_slice_axes == 1


def test_a_knob_set_on_both_configs_with_different_values_names_both() -> None:
    with pytest.raises(ValidationError, match=r"max_slice_axes is 2 on the CurriculumConfig but 1 on"):
        maze_buckets().to_curriculum(
            max_slice_axes=2, algorithm_config=DiscreteRandomConfig(max_slice_axes=1)
        )
    same = maze_buckets().to_curriculum(
        max_slice_axes=1, algorithm_config=DiscreteRandomConfig(max_slice_axes=1)
    )
    assert same.max_slice_axes == 1


def test_a_config_dumped_before_the_knobs_moved_loads_and_matches_its_checkpoints(make: Make) -> None:
    new = maze_buckets().to_curriculum(num_active_tasks=6, max_slice_axes=1)
    old = new.model_dump(mode="json")
    for name in ("use_shared_memory", "session_id", "shared_update_batch", "max_slice_axes"):
        del old[name]
    old.pop("enable_detailed_slice_logging")
    assert CurriculumConfig.model_validate(old) == new
    state = make(new).get_state()
    state["config"] = old
    make(CurriculumConfig.model_validate(old)).load_state(state)  # strict: no config difference


# -- one refresh path: a local and a single-process shared pool are the same curriculum ----------


@pytest.mark.parametrize("algorithm", ["evict_played", "learning_progress"])
def test_local_and_single_process_shared_pools_hand_out_the_same_tasks(algorithm: str) -> None:
    # As Gymnasium's test_vector_env_equal: step both and compare at every step, evictions on.
    generator = maze_buckets()
    generator.label = "maze"
    config = generator.to_curriculum(
        num_active_tasks=16,
        refresh_interval=6,
        min_presentations_for_eviction=2,
        seed=5,
        algorithm_config=EvictPlayedConfig() if algorithm == "evict_played" else LearningProgressConfig(),
    )
    local = config.make()
    with in_mode(config, "shared").make() as shared:
        track_session(shared.session_id or "")
        rng = np.random.default_rng(5)
        for step in range(300):
            if step % 10 == 9:  # the batch API takes the same path
                a, b = local.get_tasks(7), shared.get_tasks(7)
                assert a.task_ids.tolist() == b.task_ids.tolist(), f"step {step}"
                scores = rng.random(7)
                local.update_task_performance_many(a, scores)
                shared.update_task_performance_many(b, scores)
                continue
            x, y = local.get_task(), shared.get_task()
            assert x.task_id == y.task_id, f"step {step}"
            score = float(rng.random() < (x.task_id % 5) / 4)
            local.update_task_performance(x.task_id, score)
            shared.update_task_performance(y.task_id, score)
        assert local.stats()["num_evicted"] >= 5
        assert shared.stats() == local.stats()
        mine, theirs = local.get_state(), shared.get_state()
        assert mine["pool"].keys() == theirs["pool"].keys()
        for name in mine["pool"]:
            if name != "header":  # its version word is a shared pool's seqlock counter
                assert mine["pool"][name] == theirs["pool"][name], name
        assert (mine["rng"], mine["queue"], mine["algorithm"]) == (
            theirs["rng"],
            theirs["queue"],
            theirs["algorithm"],
        )
