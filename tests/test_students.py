"""The simulated students behave as their docstrings say; the runner, Syllabus adapter and bench work."""

from __future__ import annotations

import math

import numpy as np
import pytest
from tests.optional_deps import require

from agora import (
    CurriculumConfig,
    DiscreteRandomConfig,
    LearnabilityConfig,
    LearningProgressConfig,
    PLRConfig,
)
from agora.bench import BenchResult
from agora.bench.students import (
    MASTERED,
    Chain,
    Kinds,
    LargeSpace,
    Student,
    SyllabusArm,
    SyllabusPLRArm,
    TaskList,
    Unlock,
    Variance,
    compare,
    import_syllabus,
    run,
    run_student,
    suite,
)


def practise(student: Student, task: int, times: int, start: int = 0) -> int:
    """Play ``task`` ``times`` times from episode ``start``; returns the next episode."""
    for episode in range(start, start + times):
        student.play(task, episode)
    return start + times


def test_task_list_pool_holds_every_task_once() -> None:
    student = Kinds(counts={"learnable": 3, "noisy": 4})
    curriculum = student.curriculum_config(DiscreteRandomConfig(), seed=3).make()
    indices = sorted(student.task_index(curriculum.generated(t)) for t in curriculum.active_task_ids())
    assert indices == list(range(7))
    assert [curriculum.generated(t).config.kind for t in range(7)] == ["learnable"] * 3 + ["noisy"] * 4
    with pytest.raises(ValueError, match="task id 7 is outside this list of 7 tasks"):
        TaskList.Config(kinds=["a"] * 7).create().generate(7)


def test_kinds_student() -> None:
    student = Kinds(start=0.2, learn=100, decay=1000, relearn=10)
    student.reset(0)
    kinds = student.task_kinds()
    learnable, impossible, mastered, noisy, forgetting = (kinds.index(k) for k in student.kinds)
    assert student.success(learnable, 0) == pytest.approx(0.2)
    practise(student, learnable, 50)
    assert student.success(learnable, 50) == pytest.approx(0.7)
    for task in (impossible, mastered, noisy):
        before = student.success(task, 0)
        practise(student, task, 50)
        assert student.success(task, 5000) == before
        assert not student.learnable(task, 5000)
    assert sorted({student.success(kinds.index("noisy") + i, 0) for i in range(8)}) == [0.2, 0.5, 0.8]
    # Forgetting: mastered at first, slips below mastery with time alone, practice brings it back.
    assert not student.learnable(forgetting, 50)
    assert student.success(forgetting, 200) == pytest.approx(0.8)
    assert student.learnable(forgetting, 200)
    practise(student, forgetting, 2, start=200)
    assert student.success(forgetting, 202) == pytest.approx(1.0 - 0.002, abs=1e-9)
    with pytest.raises(ValueError, match="unknown kinds"):
        Kinds(counts={"easy": 3})


def test_kinds_from_zero_start_at_zero_success() -> None:
    student = Kinds()
    student.reset(0)
    task = student.task_kinds().index("learnable")
    assert student.success(task, 0) == 0.0
    assert student.learnable(task, 0)
    assert student.play(task, 0) == 0.0
    assert student.success(task, 1) == pytest.approx(1 / 3000)  # practice pays even before any success


def test_chain_link_learnable_only_after_its_prerequisite_is_half_mastered() -> None:
    student = Chain(chain=3, distractors=2, learn=10, decay=10**9, unlock=0.45)
    student.reset(0)
    assert not student.learnable(1, 0)
    practise(student, 1, 20)
    assert student.success(1, 20) == 0.0  # practice before the prerequisite is half mastered is wasted
    episode = practise(student, 0, 4, start=20)
    assert student.success(0, episode) == pytest.approx(0.4)
    assert not student.learnable(1, episode)
    episode = practise(student, 0, 1, start=episode)
    assert student.learnable(1, episode)
    episode = practise(student, 1, 3, start=episode)
    assert student.success(1, episode) == pytest.approx(0.3)
    assert not student.learnable(3, episode)  # a distractor
    assert student.success(3, episode) == 0.5
    assert not student.finished()
    for task in range(3):
        episode = practise(student, task, 10, start=episode)
    assert student.finished()
    assert not student.capped()


def test_chain_forgets_slowly() -> None:
    student = Chain(chain=2, distractors=1, learn=5, decay=1000)
    student.reset(0)
    practise(student, 0, 10)  # episodes 0-9: mastered at episode 9
    assert student.success(0, 9 + 100) == pytest.approx(0.9)
    assert student.learnable(1, 9 + 500)
    assert not student.learnable(1, 9 + 501)  # the prerequisite fell below half mastery


def test_unlock_tasks_are_flat_until_they_unlock() -> None:
    student = Unlock(late=4, others=1, episodes=3000, learn_late=10, learn_gate=10)
    student.reset(0)
    kinds = student.task_kinds()
    clock, gated, gate = 0, 2, kinds.index("gate")
    unlock = student.unlocked_at[clock]
    assert 0 < unlock <= 2000
    for episode in (0, unlock - 1):
        assert student.success(clock, episode) == 0.0
        assert not student.learnable(clock, episode)
    assert student.play(clock, unlock - 1) == 0.0
    assert student.success(clock, unlock) == 0.0  # practice before the unlock taught nothing
    assert student.learnable(clock, unlock)
    practise(student, clock, 5, start=unlock)
    assert student.found_at == {clock: unlock + 5}
    # A gated task unlocks the episode after its gate reaches half mastery.
    assert not student.learnable(gated, 100)
    practise(student, gate, 5, start=100)
    assert student.unlocked_at[gated] == 105
    assert student.learnable(gated, 105)


def test_large_space_has_100k_tasks_and_a_learnable_region() -> None:
    student = LargeSpace()
    axes = student.generator().create().bucket_axes()
    assert math.prod(len(values) for values in axes.values()) == student.num_tasks == 100_000
    config = student.curriculum_config(LearningProgressConfig(), seed=0)
    assert config.num_active_tasks == 1000
    curriculum = config.make()
    assert curriculum.algorithm.evicts
    indices = {student.task_index(curriculum.generated(t)) for t in curriculum.active_task_ids()}
    assert all(0 <= i < 100_000 for i in indices)
    student.reset(0)
    region = [i for i in range(student.num_tasks) if student.kind(i) == 0]
    assert len(region) == 2000
    assert all(student.learnable(i, 0) and student.success(i, 0) == 0.0 for i in region)
    assert not any(student.learnable(i, 0) for i in range(0, 100_000, 97) if student.kind(i) != 0)
    practise(student, region[0], 46)
    assert student.success(region[0], 46) >= MASTERED
    assert not student.learnable(region[0], 46)


def test_variance_groups_progress_alike() -> None:
    student = Variance(group=2, noisy=2, learn=100)
    student.reset(0)
    rare, even = 0, 2
    assert student.task_kinds() == ["rare", "rare", "even", "even", "noisy", "noisy"]
    assert (student.success(rare, 0), student.success(even, 0)) == (0.02, 0.4)
    practise(student, rare, 30)
    practise(student, even, 30)
    assert student.success(rare, 60) - 0.02 == pytest.approx(student.success(even, 60) - 0.4)
    assert [student.success(t, 0) for t in (4, 5)] == [pytest.approx(0.3), pytest.approx(0.7)]


@pytest.mark.parametrize("student", suite(quick=True), ids=lambda s: s.name)
def test_runner_returns_metrics_and_shares(student: Student) -> None:
    result = run_student(student, LearningProgressConfig(), seed=1, name="LP")
    assert (result.student, result.arm, result.seed) == (student.name, "LP", 1)
    assert set(result.values) == {m.name for m in student.all_measures()}
    assert all(math.isfinite(v) for v in result.values.values())
    assert 0 < result.episodes <= student.episodes
    assert result.window_ends[-1] == result.episodes
    assert set(result.shares) == {*student.kinds, "learnable now"}
    for w in range(len(result.window_ends)):
        assert sum(result.shares[k][w] for k in student.kinds) == pytest.approx(1.0)
    again = run_student(student, LearningProgressConfig(), seed=1, name="LP")
    assert again.values == result.values  # deterministic for a seed


def test_uniform_shares_follow_the_task_counts() -> None:
    student = Kinds(counts={"learnable": 10, "noisy": 30}, episodes=8000, warmup=0)
    result = run_student(student, DiscreteRandomConfig(), seed=0)
    assert result.values["learnable share"] == pytest.approx(0.25, abs=0.03)
    assert result.values["noise share"] == pytest.approx(0.75, abs=0.03)


def test_syllabus_adapter_restores_numpy_error_state_and_runs() -> None:
    require("syllabus")
    state = np.geterr()
    import_syllabus()
    assert np.geterr() == state
    student = Chain(chain=3, distractors=5, episodes=3000)
    result = run_student(student, SyllabusArm(), seed=0, name="Syllabus")
    assert np.geterr() == state
    assert result.episodes <= 3000
    assert sum(result.shares[k][0] for k in student.kinds) == pytest.approx(1.0)
    assert run_student(student, SyllabusArm(), seed=0).values == result.values


def test_syllabus_plr_adapter_tries_every_task_then_replays() -> None:
    require("syllabus")
    student = Kinds(counts={"learnable": 3, "noisy": 3, "mastered": 3}, episodes=2000, warmup=100)
    result = run_student(student, SyllabusPLRArm(), seed=0, name="Syllabus PLR")
    assert result.episodes == 2000
    assert sum(result.shares[k][0] for k in student.kinds) == pytest.approx(1.0)
    assert run_student(student, SyllabusPLRArm(), seed=0).values == result.values
    # A mastered task's value loss |1 - 1| is 0: once every task is seen, it is (almost) never replayed.
    assert sum(result.shares["mastered"][5:]) / len(result.shares["mastered"][5:]) < 0.05


def test_plr_arms_are_scored_by_value_loss_and_avoid_mastered_tasks() -> None:
    student = Kinds(counts={"learnable": 3, "noisy": 3, "mastered": 3}, episodes=2000, warmup=100)
    plr = run_student(student, PLRConfig(), seed=0)
    # Uniform gives mastered tasks a third; PLR only the staleness mass (0.3) a neglected task draws.
    assert sum(plr.shares["mastered"][5:]) / len(plr.shares["mastered"][5:]) < 0.2
    # Learnability is scored by outcomes: noisy tasks (p = 0.5) are the most learnable to it.
    sfl = run_student(student, LearnabilityConfig(), seed=0)
    assert sfl.values["noise share"] > 0.5


def test_compare_summarises_seeds_and_marks_capped_runs() -> None:
    chain = Chain(chain=4, distractors=4, episodes=200)  # too short to finish: every run capped
    kinds = Kinds(counts={"learnable": 2, "noisy": 2}, episodes=400, warmup=40)
    result = compare(
        {"uniform": DiscreteRandomConfig(), "LP": LearningProgressConfig()}, students=[chain, kinds], seeds=3
    )
    summary = result.summary("chain", "LP")
    assert (summary.runs, summary.capped, summary.mean) == (3, 3, 200.0)
    assert summary.text().startswith(">200")
    shares = result.values("kinds", "LP")
    assert len(shares) == 3
    assert result.summary("kinds", "LP").mean == pytest.approx(sum(shares) / 3)
    table = result.table(candidate="LP")
    assert table.columns[-2:] == ["LP / uniform", "target met"]
    assert len(table.rows) == 4  # main metric and noise share for each student
    assert table.rows[0][5] == "?1.00x"  # both capped: the ratio is unknown
    with pytest.raises(ValueError, match="seeds must be at least 1"):
        compare({"uniform": DiscreteRandomConfig()}, students=[kinds], seeds=0)


def test_bench_quick_table(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AGORA_BENCH_PLOTS", raising=False)  # plots: tests/test_cli.py
    result = run(quick=True)
    assert isinstance(result, BenchResult)
    students = suite(quick=True)
    assert len(result.rows) == sum(len(s.all_measures()) for s in students)
    assert {row[0] for row in result.rows} == {s.name for s in students}
    assert all(len(row) == len(result.columns) for row in result.rows)
    assert result.columns[3:5] == ["uniform", "agora LP"]
    assert all(isinstance(row[3], str) and "±" in row[3] for row in result.rows)
    assert any("wall time" in note for note in result.notes)


def test_curriculum_config_takes_any_algorithm() -> None:
    config = Variance().curriculum_config(LearningProgressConfig(ema_timescale=0.1), seed=4)
    assert isinstance(config, CurriculumConfig)
    assert config.seed == 4
    assert config.num_active_tasks == config.max_task_id == 40
