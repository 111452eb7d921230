"""Behaviour of the learning-progress curriculum on simulated agents (fixed seeds)."""

from __future__ import annotations

import collections
import json
import math

import numpy as np
import pytest

import agora
from agora.algorithms import LearningProgressAlgorithm, LearningProgressConfig
from agora.algorithms.learning_progress import _quantile
from agora.algorithms.scorers import BasicLPScorer, BidirectionalLPScorer, reweight
from agora.bench import task_kinds
from agora.bench.students import Kinds, run_student
from agora.bench.task_kinds import KINDS, Kind, samples_per_task
from agora.pool import HEADER
from conftest import Make


def kinds_config(
    num_tasks: int = 40, seed: int = 0, kinds: tuple[str, ...] = KINDS, **lp: object
) -> agora.CurriculumConfig:
    return task_kinds.kinds_config(LearningProgressConfig(**lp), kinds, num_tasks, seed)  # type: ignore[arg-type]


def kinds_shares(algorithm: agora.CurriculumAlgorithmConfig, seeds: int = 2) -> tuple[float, float]:
    """Mean share of episodes on learnable-right-now tasks and on noisy ones (the suite's kinds student)."""
    runs = [run_student(Kinds(), algorithm, seed) for seed in range(seeds)]
    return (
        float(np.mean([run.values["learnable share"] for run in runs])),
        float(np.mean([run.values["noise share"] for run in runs])),
    )


def test_learnable_and_forgetting_tasks_get_more_than_their_uniform_share() -> None:
    # agora bench students: about 2.8x uniform's share on this student (5 seeds), noise below its share.
    learnable, noise = kinds_shares(LearningProgressConfig())
    uniform_learnable, uniform_noise = kinds_shares(agora.DiscreteRandomConfig())
    assert learnable > 2.0 * uniform_learnable
    assert noise < uniform_noise


def test_uniform_baseline_does_not_prefer_learnable(make: Make) -> None:
    cfg = kinds_config().model_copy(update={"algorithm_config": agora.DiscreteRandomConfig()})
    per_task = samples_per_task(make(cfg), episodes=6000, seed=0)
    assert per_task["learnable"] < 1.25 * per_task["impossible"]


def test_rand_task_rate_gives_every_task_a_floor(make: Make) -> None:
    curriculum = make(kinds_config(rand_task_rate=0.2, staleness_rate=0.0))
    samples_per_task(curriculum, episodes=3000, seed=1)
    probs = curriculum.sampling_probabilities()
    assert min(probs.values()) >= 0.2 / len(probs) - 1e-12
    assert sum(probs.values()) == pytest.approx(1.0)
    no_floor = make(kinds_config(rand_task_rate=0.0, staleness_rate=0.0))
    samples_per_task(no_floor, episodes=3000, seed=1)
    assert min(no_floor.sampling_probabilities().values()) < 0.2 / len(probs)


def test_checkpoint_restores_every_ema_and_the_distribution(make: Make) -> None:
    cfg = kinds_config(seed=3).model_copy(update={"refresh_interval": 7})
    original = make(cfg)
    samples_per_task(original, episodes=2000, seed=3)
    state = json.loads(json.dumps(original.get_state()))
    restored = make(cfg)
    restored.load_state(state)
    for spec in original.pool.backend.layout:
        a, b = original.pool.backend.array(spec.name), restored.pool.backend.array(spec.name)
        if spec.name == "header":  # but its version: a shared pool's seqlock word, bumped by the load
            a, b = a[: HEADER.index("version")], b[: HEADER.index("version")]
        np.testing.assert_array_equal(a, b, err_msg=spec.name)
    assert original.sampling_probabilities() == restored.sampling_probabilities()
    for score in np.linspace(0, 1, 100):
        a, b = original.get_task(), restored.get_task()
        assert a.task_id == b.task_id
        original.update_task_performance(a.task_id, float(score))
        restored.update_task_performance(b.task_id, float(score))


def test_evicted_slots_never_carry_statistics_to_new_tasks(make: Make) -> None:
    cfg = agora.CurriculumConfig(
        task_generator=agora.single_task(Kind()),
        num_active_tasks=50,
        seed=5,
        refresh_interval=10,
        min_presentations_for_eviction=3,
        algorithm_config=LearningProgressConfig(sample_threshold=3),
    )
    curriculum = make(cfg)
    history: dict[int, list[float]] = collections.defaultdict(list)
    rng = np.random.default_rng(5)
    for _ in range(20_000):
        task = curriculum.get_task()
        score = float(rng.random() < (task.task_id % 7) / 7)
        history[task.task_id].append(score)
        curriculum.update_task_performance(task.task_id, score)
    assert curriculum.stats()["num_evicted"] > 300  # every slot was reused several times
    algorithm = curriculum.algorithm
    assert isinstance(algorithm, LearningProgressAlgorithm)
    for task_id in curriculum.active_task_ids():
        mine = history.get(task_id, [])
        stats = algorithm.tracker.get_task_stats(task_id)
        assert stats is not None
        # Ids may be drawn again after eviction: the slot holds only the latest incarnation.
        count = int(stats["completion_count"])
        assert count <= len(mine)
        tail = mine[len(mine) - count :] if count else []
        assert stats["mean_score"] == pytest.approx(np.mean(tail) if tail else 0.0)
        slot = curriculum.pool.slot_of(task_id)
        assert slot is not None
        assert algorithm.tracker.recent_scores(slot) == pytest.approx(tail[-25:], abs=1e-4)


def test_only_measured_tasks_are_evicted(make: Make) -> None:
    config = LearningProgressConfig()  # eviction's min_presentations (5) is below the judging horizon
    curriculum = make(
        agora.CurriculumConfig(
            task_generator=agora.single_task(Kind()), num_active_tasks=64, seed=11, algorithm_config=config
        )
    )
    played: collections.Counter[int] = collections.Counter()
    rng = np.random.default_rng(11)
    for _ in range(20_000):
        task = curriculum.get_task()
        played[task.task_id] += 1
        curriculum.update_task_performance(task.task_id, float(rng.random() < (task.task_id % 5) / 5))
    stats = curriculum.stats()
    assert stats["num_evicted"] > 100
    evicted = set(played) - set(curriculum.active_task_ids())
    assert evicted
    # Tasks that always fail are judged once settled (15 outcomes); tasks at 0.4 or 0.6 only after
    # sample_threshold + the first pair's slow time constant (1 / (0.15 * 0.3) -> 23 outcomes).
    horizon = config.sample_threshold + math.ceil(1 / (config.ema_timescale * config.slow_timescale_factor))
    assert config.settled_after is not None
    assert config.settled_after < horizon
    assert min(played[task_id] for task_id in evicted) >= config.settled_after
    assert any(played[task_id] < horizon for task_id in evicted if task_id % 5 == 0)
    assert min(played[task_id] for task_id in evicted if task_id % 5 in (2, 3)) >= horizon


@pytest.mark.parametrize(
    "lp",
    [
        {},
        {"slow_ema": "of_fast", "lp_timescales": 2, "use_baseline_normalization": True, "memory": 4},
        {"use_baseline_normalization": True, "baseline_value": 0.3},
        {"use_bidirectional": False},
    ],
)
# 64 over 12 tasks: every task repeats, too few for a second vectorised round, so one by one;
# 256 over 48: the first repeats of every task in more vectorised rounds, the rest one by one.
@pytest.mark.parametrize(("num_tasks", "size"), [(12, 16), (12, 64), (48, 256)])
@pytest.mark.parametrize("pass_batch", [False, True])  # ids, or the TaskBatch (slots checked, not looked up)
def test_batch_calls_equal_single_calls(
    lp: dict[str, object], num_tasks: int, size: int, pass_batch: bool, make: Make
) -> None:
    cfg = kinds_config(num_tasks=num_tasks, seed=9, **lp).model_copy(
        update={"refresh_interval": 5, "min_presentations_for_eviction": 3}
    )
    single, batch = make(cfg), make(cfg)
    batch.update_task_performance_many([], [])  # an empty batch changes nothing
    rng = np.random.default_rng(9)
    for _ in range(30):
        scores = rng.random(size).tolist()
        ids_single = [single.get_task().task_id for _ in range(size)]
        tasks = batch.get_tasks(size)
        ids_batch = [task.task_id for task in tasks]
        assert ids_single == ids_batch
        for task_id, score in zip(ids_single, scores, strict=True):
            single.update_task_performance(task_id, score)
        batch.update_task_performance_many(tasks if pass_batch else ids_batch, scores)
    assert single.get_state() == batch.get_state()
    assert single.stats()["num_stale_updates"] > 0, "some tasks were evicted while in a batch"


def test_full_pool_fast_path_gives_the_same_weights_as_gathering(make: Make) -> None:
    # A full pool is read without gathers (active_slots() is pool.all_slots); the same slots
    # in a copy take the gathering path and must give identical weights, and a part of the
    # pool is weighted from the same cached LP.
    curriculum = make(kinds_config(seed=2))
    samples_per_task(curriculum, episodes=2000, seed=2)
    algorithm = curriculum.algorithm
    everything = curriculum.pool.active_slots()
    assert everything is curriculum.pool.all_slots
    np.testing.assert_array_equal(algorithm.weights(everything), algorithm.weights(everything.copy()))
    part = everything[::3]
    assert isinstance(algorithm, LearningProgressAlgorithm)
    lp = algorithm.scorer.scores(part, algorithm.tracker.recent_rate(part))
    np.testing.assert_array_equal(algorithm._lp_and_rate(part)[0], lp)


def test_every_parameter_reaches_its_component(make: Make) -> None:
    cfg = LearningProgressConfig(
        ema_timescale=0.2,
        slow_timescale_factor=0.5,
        slow_ema="of_fast",
        lp_timescales=2,
        memory=7,
        task_tracker_ema_alpha=0.3,
        task_default_success_threshold=0.8,
        use_baseline_normalization=True,
        baseline_value=0.25,
    )
    curriculum = make(
        agora.CurriculumConfig(
            task_generator=agora.single_task(Kind()), num_active_tasks=4, algorithm_config=cfg
        )
    )
    algorithm = curriculum.algorithm
    assert isinstance(algorithm, LearningProgressAlgorithm)
    assert isinstance(algorithm.scorer, BidirectionalLPScorer)
    assert algorithm.tracker.memory == 7
    assert curriculum.pool.array("recent").shape == (4, 7)
    assert algorithm.tracker.ema_alpha == 0.3
    assert algorithm.tracker.success_threshold == 0.8
    task = curriculum.get_task()
    for score in [0.9] * 10 + [0.1]:
        curriculum.update_task_performance(task.task_id, score)
    stats = algorithm.tracker.get_task_stats(task.task_id)
    assert stats is not None
    assert stats["success_rate_ema"] == pytest.approx(0.7, abs=1e-6)  # one failure at alpha 0.3
    basic = LearningProgressConfig(use_bidirectional=False, basic_exploration_samples=4)
    basic_curriculum = make(
        agora.CurriculumConfig(
            task_generator=agora.single_task(Kind()), num_active_tasks=4, algorithm_config=basic
        )
    )
    assert isinstance(basic_curriculum.algorithm, LearningProgressAlgorithm)
    assert isinstance(basic_curriculum.algorithm.scorer, BasicLPScorer)
    assert not basic_curriculum.pool.has_field("p_ema")


def test_paper_and_seed_slow_ema_differ(make: Make) -> None:
    results = []
    for mode in ("of_rate", "of_fast"):
        curriculum = make(
            agora.CurriculumConfig(
                task_generator=agora.single_task(Kind()),
                num_active_tasks=1,
                algorithm_config=LearningProgressConfig(slow_ema=mode, lp_timescales=2, sample_threshold=1),  # type: ignore[arg-type]
            )
        )
        task = curriculum.get_task()
        for score in [0.0] * 30 + [1.0] * 30:
            curriculum.update_task_performance(task.task_id, score)
        results.append(float(curriculum.pool.array("p_ema")[0, 1]))
    assert results[0] != pytest.approx(results[1])


def test_reweighting_is_identity_at_half_and_stretches_small_rates() -> None:
    p = np.linspace(0, 1, 11)
    np.testing.assert_allclose(reweight(p, 0.5), p)
    assert reweight(np.array([0.05]), 0.01)[0] > 0.8


def test_scores_of_zero_are_kept() -> None:
    tracker = agora.tracking.tracker.LocalTaskTracker(capacity=2, memory=4)
    slot = int(tracker.pool.add_many([42], created_at=0)[0])
    for score in (0.0, 1.0, 0.0):
        tracker.pool.view("completions")[slot] += 1
        tracker.update(slot, score)
    assert tracker.recent_scores(slot) == [0.0, 1.0, 0.0]


def test_lp_config_round_trips_through_json() -> None:
    cfg = kinds_config(ema_timescale=0.05, use_bidirectional=False)
    again = agora.CurriculumConfig.model_validate_json(cfg.model_dump_json())
    assert again == cfg
    assert isinstance(again.algorithm_config, LearningProgressConfig)


def test_invalid_parameters_are_rejected(make: Make) -> None:
    with pytest.raises(ValueError, match="ema_timescale"):
        LearningProgressConfig(ema_timescale=0)
    with pytest.raises(ValueError, match="baseline_value"):
        LearningProgressConfig(baseline_value=0.3)
    with pytest.raises(ValueError, match="num_active_tasks"):
        make(
            agora.CurriculumConfig(
                task_generator=agora.single_task(Kind()),
                num_active_tasks=4,
                algorithm_config=LearningProgressConfig(num_active_tasks=5),
            )
        )


def test_stats_are_flat_and_cover_labels_and_slices(make: Make) -> None:
    gen = agora.merge(
        [
            agora.bucketed(Kind(kind="a"))
            .add_bucket("variant", [1, 2, agora.Span(10, 20)])
            .model_copy(update={"label": "easy"}),
            agora.bucketed(Kind(kind="b")).add_bucket("variant", [3]).model_copy(update={"label": "hard"}),
        ]
    )
    curriculum = make(
        agora.CurriculumConfig(
            task_generator=gen,
            num_active_tasks=30,
            algorithm_config=LearningProgressConfig(enable_detailed_slice_logging=True),
        )
    )
    for _ in range(300):
        task = curriculum.get_task()
        curriculum.update_task_performance(task.task_id, 1.0 if task.get_label() == "easy" else 0.0)
    stats = curriculum.stats()
    assert all(isinstance(k, str) and isinstance(v, float) for k, v in stats.items())
    assert stats["num_completed"] == 300
    assert stats["label/easy/num_active"] + stats["label/hard/num_active"] == 30
    # Per-label counts describe the active pool: completions of evicted tasks leave with them.
    assert 0 < stats["label/easy/num_completed"] + stats["label/hard/num_completed"] <= 300
    assert stats["slices/variant/coverage"] == 1.0
    assert stats["slices/variant/3/mean_score"] == 0.0
    assert stats["slices/variant/1/mean_score"] == 1.0
    assert "algorithm/mean_lp" in stats
    assert curriculum.stats() == stats  # cached and stable while nothing changes


def test_eviction_quantile_equals_numpys() -> None:
    rng = np.random.default_rng(3)
    for _ in range(500):
        values = rng.random(int(rng.integers(1, 50)))
        if rng.random() < 0.3:
            values = np.round(values, 1)  # ties
        for q in (0.0, 0.1, 0.4, 0.5, 0.77, 1.0):
            assert _quantile(values, q) == np.quantile(values, q)


@pytest.mark.parametrize("settled_after", [15, None])
def test_a_task_just_mastered_has_no_progress_once_settled(make: Make, settled_after: int | None) -> None:
    # 20 failures then 30 successes: the slow EMAs still lag far behind, but the last 25
    # outcomes are all successes, so nothing is changing any more.
    config = agora.CurriculumConfig(
        task_generator=agora.single_task(Kind()),
        num_active_tasks=1,
        min_presentations_for_eviction=10**9,
        algorithm_config=LearningProgressConfig(settled_after=settled_after),
    )
    curriculum = make(config)
    for score in [0.0] * 20 + [1.0] * 30:
        curriculum.update_task_performance(curriculum.get_task().task_id, score)
    max_lp = curriculum.stats()["algorithm/max_lp"]
    if settled_after is None:
        assert max_lp > 0
    else:
        assert max_lp == 0.0
