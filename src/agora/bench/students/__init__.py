"""Simulated students: does a curriculum make an agent learn faster than uniform sampling?

Each student (:mod:`~agora.bench.students.suite`) models one situation a curriculum must
handle: noise, prerequisites, late unlocks, a huge task space, outcome variance. ``compare``
plays them with any curriculum arms, side by side::

    import agora
    from agora.bench.students import SyllabusArm, compare

    arms = {"uniform": agora.DiscreteRandomConfig(), "LP": agora.LearningProgressConfig()}
    result = compare({**arms, "Syllabus": SyllabusArm()}, seeds=5)
    print(result.table().text())
    result.summary("chain", "LP").mean

``agora bench students`` runs uniform, agora's default learning progress, PLR and
learnability, learning progress with task mutation, and Syllabus's
``OnlineLearningProgress`` and PLR (if syllabus-rl is installed); ``--plots DIR`` (or the
environment variable ``AGORA_BENCH_PLOTS``) also writes a PNG per student.
"""

from __future__ import annotations

import os
import time

from agora.algorithms.base import DiscreteRandomConfig
from agora.algorithms.learnability import LearnabilityConfig
from agora.algorithms.learning_progress import LearningProgressConfig
from agora.algorithms.plr import PLRConfig
from agora.bench import BenchResult
from agora.bench.students.base import MASTERED, Measure, Student, StudentTask, Tally, TaskList
from agora.bench.students.compare import Comparison, Summary, compare
from agora.bench.students.runner import (
    SYLLABUS_NOTES,
    Arm,
    MutationArm,
    StudentRun,
    SyllabusArm,
    SyllabusPLRArm,
    import_syllabus,
    run_student,
)
from agora.bench.students.suite import Chain, Kinds, LargeSpace, Unlock, Variance, suite

__all__ = [
    "MASTERED",
    "Arm",
    "Chain",
    "Comparison",
    "Kinds",
    "LargeSpace",
    "Measure",
    "MutationArm",
    "Student",
    "StudentRun",
    "StudentTask",
    "Summary",
    "SyllabusArm",
    "SyllabusPLRArm",
    "Tally",
    "TaskList",
    "Unlock",
    "Variance",
    "compare",
    "default_arms",
    "import_syllabus",
    "run",
    "run_student",
    "suite",
]

PLOTS_ENV = "AGORA_BENCH_PLOTS"


def default_arms() -> tuple[dict[str, Arm], list[str]]:
    """Uniform, agora's learning progress, PLR and learnability (defaults), learning progress with
    task mutation (default :class:`~agora.MutationConfig`), and (if installed) Syllabus's learning
    progress and PLR; notes on what is missing."""
    arms: dict[str, Arm] = {
        "uniform": DiscreteRandomConfig(),
        "agora LP": LearningProgressConfig(),
        "agora PLR": PLRConfig(),
        "agora learnability": LearnabilityConfig(),
        "agora LP + mutation": MutationArm(LearningProgressConfig()),
    }
    try:
        import_syllabus()
    except ImportError as exc:
        return arms, [f"Syllabus columns missing: {exc}"]
    arms["Syllabus"] = SyllabusArm()
    arms["Syllabus PLR"] = SyllabusPLRArm()
    return arms, list(SYLLABUS_NOTES)


def run(quick: bool = False) -> BenchResult:
    """``agora bench students``: the suite with :func:`default_arms`, 5 seeds (2 with ``quick``)."""
    start = time.perf_counter()
    arms, notes = default_arms()
    seeds = 2 if quick else 5
    result = compare(arms, seeds=seeds, quick=quick, workers=1 if quick else 2)
    table = result.table(
        candidate="agora LP", baseline="uniform", peer="Syllabus" if "Syllabus" in arms else None
    )
    plots = os.environ.get(PLOTS_ENV)
    if plots:
        written = result.plot(plots)
        notes.append(f"Plots: {', '.join(str(p) for p in written)}.")
    table.notes = [
        "Targets: a main metric beats uniform at <= 0.6x its episodes to the target, or >= 1.8x its share "
        "of episodes on tasks learnable right then (after the warm-up); noise-only tasks never above "
        "uniform's share. '>' marks runs that hit the episode cap (the value is a lower bound).",
        "Pools: the small students' pool is their whole task space (no eviction); the large space draws "
        "1,000 of its 100,000 tasks and evicts with the library defaults. Syllabus samples the whole space "
        "of each student directly (it has no pool), updating every min(tasks, 1000) episodes.",
        "Mutation: 'agora LP + mutation' is agora LP whose replacement tasks are, with probability 0.5, "
        "edits (one bucket value moved to a neighbouring value) of one of the 16 tasks of highest weight "
        "(MutationConfig defaults); only the large space replaces tasks, elsewhere it plays as agora LP.",
        "Scores: the PLR arms get the value loss of a learner whose value estimate is its competence p, "
        "|outcome - p| (value_l1 of a one-step episode; expected 2p(1 - p)); the others the 0/1 outcome.",
        *notes,
        f"{'Quick run: a tenth of the episodes, ' if quick else ''}{seeds} seeds; "
        f"wall time {time.perf_counter() - start:.0f} s.",
    ]
    return table
