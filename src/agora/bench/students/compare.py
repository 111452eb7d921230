"""Compare curriculum arms on the students over seeds: one table, and a plot per student."""

from __future__ import annotations

import math
import multiprocessing
import statistics
from collections.abc import Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agora.bench import BenchResult
from agora.bench.students.base import Measure, Student
from agora.bench.students.runner import Arm, StudentRun, run_student
from agora.bench.students.suite import suite

__all__ = ["Comparison", "Summary", "compare"]

_TARGETS = {"higher": 1.8, "lower": 0.6}
"""Ratio to uniform a curriculum must reach on a main metric: share x1.8, episodes x0.6."""


@dataclass(frozen=True)
class Summary:
    """One measure of one student under one arm, over seeds."""

    mean: float
    std: float
    low: float
    high: float
    runs: int
    capped: int
    """Runs whose main metric hit the episode cap (their value is a lower bound)."""

    def text(self) -> str:
        digits = ",.0f" if abs(self.mean) >= 100 else ".3f"
        prefix = ">" if self.capped == self.runs else ""
        text = f"{prefix}{self.mean:{digits}} ± {self.std:{digits}}"
        return text if prefix or not self.capped else f"{text} ({self.capped}/{self.runs} capped)"


def _job(job: tuple[Student, str, Arm, int]) -> StudentRun:
    student, name, arm, seed = job
    return run_student(student, arm, seed, name)


def compare(
    arms: Mapping[str, Arm],
    students: Sequence[Student] | None = None,
    *,
    seeds: int = 5,
    quick: bool = False,
    workers: int = 1,
) -> Comparison:
    """Play every student with every arm for seeds 0 .. ``seeds`` - 1.

    ``arms``: name -> an agora algorithm config (``agora.LearningProgressConfig(...)``) or a
    :class:`~agora.bench.students.SyllabusArm`. ``students``: default the whole suite (short
    runs with ``quick``). ``workers`` > 1 runs the (student, arm, seed) jobs in that many
    spawned processes (a script calling it then needs the ``if __name__ == "__main__":`` guard).
    """
    if seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {seeds}")
    chosen = list(students) if students is not None else suite(quick)
    names = [s.name for s in chosen]
    if len(set(names)) != len(names):
        raise ValueError(f"student names must be unique, got {names}")
    jobs = [(s, name, arm, seed) for s in chosen for name, arm in arms.items() for seed in range(seeds)]
    if workers > 1:
        with ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            runs = list(pool.map(_job, jobs))
    else:
        runs = [_job(job) for job in jobs]
    grouped: dict[tuple[str, str], list[StudentRun]] = {}
    for run in runs:
        grouped.setdefault((run.student, run.arm), []).append(run)
    return Comparison(list(arms), chosen, grouped)


@dataclass
class Comparison:
    """Runs of every (student, arm), with summaries, a table and plots."""

    arms: list[str]
    students: list[Student]
    runs: dict[tuple[str, str], list[StudentRun]]

    def student(self, name: str) -> Student:
        for student in self.students:
            if student.name == name:
                return student
        raise KeyError(f"no student {name!r}; students: {[s.name for s in self.students]}")

    def values(self, student: str, arm: str, measure: str | None = None) -> list[float]:
        """Per-seed values of ``measure`` (default: the student's main metric)."""
        name = measure or self.student(student).measures[0].name
        return [run.values[name] for run in self.runs[(student, arm)]]

    def summary(self, student: str, arm: str, measure: str | None = None) -> Summary:
        name = measure or self.student(student).measures[0].name
        values = self.values(student, arm, name)
        main = name == self.student(student).measures[0].name
        capped = sum(run.capped for run in self.runs[(student, arm)]) if main else 0
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        return Summary(statistics.fmean(values), std, min(values), max(values), len(values), capped)

    def ratio(self, student: str, arm: str, baseline: str, measure: str | None = None) -> float:
        """Mean of ``arm`` over mean of ``baseline``."""
        base = self.summary(student, baseline, measure).mean
        value = self.summary(student, arm, measure).mean
        return value / base if base else math.inf if value else 1.0

    def _ratio_text(self, student: str, arm: str, baseline: str, measure: str) -> str:
        """The ratio, marked '>' or '<' when a capped run makes it a bound (or '?' when both are)."""
        value = self.ratio(student, arm, baseline, measure)
        if not math.isfinite(value):
            return "-"
        ratio = f"{value:.2f}x"
        if measure != self.student(student).measures[0].name:
            return ratio
        capped, base_capped = self.summary(student, arm).capped, self.summary(student, baseline).capped
        if capped and base_capped:
            return f"?{ratio}"
        return f">{ratio}" if capped else f"<{ratio}" if base_capped else ratio

    def verdict(self, student: str, measure: Measure, arm: str, baseline: str) -> str:
        """Whether ``arm`` meets the suite's target against ``baseline`` on ``measure``."""
        main = measure == self.student(student).measures[0]
        ratio = self.ratio(student, arm, baseline, measure.name)
        if main and measure.better in _TARGETS:
            target = _TARGETS[measure.better]
            capped = self.summary(student, arm).capped > 0
            met = ratio >= target if measure.better == "higher" else ratio <= target and not capped
            return "yes" if met else "no"
        if measure.name == "noise share":
            return "yes" if ratio <= 1.0 else "no"
        return "-"

    def table(
        self, candidate: str | None = None, baseline: str = "uniform", peer: str | None = None
    ) -> BenchResult:
        """Every measure of every student: each arm's mean ± std, and ``candidate``'s ratios to
        ``baseline`` and ``peer`` (default: the second arm against the first and the third)."""
        candidate = candidate or self.arms[min(1, len(self.arms) - 1)]
        if baseline not in self.arms:
            baseline = self.arms[0]
        if peer is None and len(self.arms) > 2:
            peer = next(a for a in self.arms if a not in (candidate, baseline))
        columns = ["student", "measure", "target", *self.arms, f"{candidate} / {baseline}"]
        if peer:
            columns.append(f"{candidate} / {peer}")
        columns.append("target met")
        rows: list[list[Any]] = []
        for student in self.students:
            for measure in student.all_measures():
                row: list[Any] = [student.name, measure.name, measure.target or "-"]
                row += [self.summary(student.name, arm, measure.name).text() for arm in self.arms]
                row.append(self._ratio_text(student.name, candidate, baseline, measure.name))
                if peer:
                    row.append(self._ratio_text(student.name, candidate, peer, measure.name))
                row.append(self.verdict(student.name, measure, candidate, baseline))
                rows.append(row)
        seeds = max(len(runs) for runs in self.runs.values())
        return BenchResult(
            title=f"Simulated students: {', '.join(self.arms)} (mean ± std over {seeds} seeds)",
            columns=columns,
            rows=rows,
        )

    def plot(self, folder: str | Path) -> list[Path]:
        """One PNG per student: episode share per kind over time (mean over seeds), a line style per arm."""
        from agora.bench.students.plot import plot_shares

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        return [plot_shares(self.arms, self.runs, student, out) for student in self.students]
