"""Play a student with a curriculum arm: an agora algorithm config (optionally with task mutation),
or Syllabus's learning progress or PLR.

An arm only has to say which of the student's tasks comes next and take the outcome back;
:func:`run_student` counts episodes per kind of task (as a time series, for plots) and asks
the student for its metrics at the end.
"""

from __future__ import annotations

import bisect
import random
import time
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

import numpy as np

from agora.algorithms.base import CurriculumAlgorithmConfig
from agora.algorithms.plr import PLRConfig
from agora.bench.students.base import Student, Tally
from agora.curriculum.mutation import MutationConfig

__all__ = [
    "Arm",
    "MutationArm",
    "StudentRun",
    "SyllabusArm",
    "SyllabusLP",
    "SyllabusPLR",
    "SyllabusPLRArm",
    "import_syllabus",
    "run_student",
]


@dataclass(frozen=True)
class SyllabusArm:
    """Syllabus 0.7's ``OnlineLearningProgress`` over one discrete space of the student's tasks.

    Its own defaults (``ema_alpha`` 0.1, ``p_theta`` 0.1, ``uniform_prob`` 0.25).
    ``update_interval`` (episodes between its success-rate evaluations, which it requires)
    defaults to the number of tasks, at most 1,000: about one outcome per task per
    evaluation on the small students.
    """

    ema_alpha: float = 0.1
    p_theta: float = 0.1
    uniform_prob: float = 0.25
    update_interval: int | None = None


@dataclass(frozen=True)
class SyllabusPLRArm:
    """Syllabus 0.7's PLR ``TaskSampler`` over one discrete space of the student's tasks.

    Its own defaults (rank transform, temperature 0.1, staleness 0.1, ``rho`` 1: every task is
    tried once before any replay), scored by the episode's outcome as agora's PLR arm is.
    ``refresh``: episodes between recomputations of its replay distribution (it recomputes
    per draw, O(tasks)); default ceil(tasks / 4), at most 1,000, like agora's refresh.
    """

    temperature: float = 0.1
    staleness_coef: float = 0.1
    rho: float = 1.0
    refresh: int | None = None


@dataclass(frozen=True)
class MutationArm:
    """An agora algorithm whose replacement tasks are partly edits of the tasks it favours
    (``CurriculumConfig.mutation``). Only a student whose pool evicts (the large space) ever
    replaces a task: on the others the arm plays exactly as ``algorithm`` alone."""

    algorithm: CurriculumAlgorithmConfig
    mutation: MutationConfig = field(default_factory=MutationConfig)


Arm = CurriculumAlgorithmConfig | MutationArm | SyllabusArm | SyllabusPLRArm
"""A curriculum to compare: any agora algorithm config (optionally with mutation), or Syllabus's
learning progress or PLR."""

SYLLABUS_NOTES = (
    "Syllabus adapter (syllabus-rl 0.7): `Curriculum.sample` fails on numpy >= 1.25 (`task_dist != []` "
    "on an array), so the adapter draws from `_sample_distribution()` itself with a seeded RNG; importing "
    "`syllabus.curricula` sets `np.seterr(all='raise')` for the whole process, which the adapter undoes "
    "right after the import; Syllabus imports matplotlib without declaring it (the `compare` extra "
    "installs it); it counts an outcome as a success only when the score is 1 (students report 0 or 1). "
    "Each episode calls `update_task_progress` and `update_on_episode`. Importing Syllabus also creates a "
    "shared-memory list (`GymnasiumEvaluationWrapper.env_count`) that it never frees: Python's resource "
    "tracker removes it at exit with a 'leaked shared_memory objects' warning.",
    "Syllabus PLR adapter: `TaskSampler.sample` sends every draw that is not a replay to a Robust PLR "
    "evaluator once the share of tasks seen reaches `rho`, and fails without one; the adapter replays "
    "there (what `sample` returns in the end) and otherwise tries an unseen task, as `sample` does. It "
    "draws replays from `sample_weights()` recomputed every `refresh` episodes, and seeds numpy's global "
    "generator, which Syllabus draws unseen tasks from. `DirectPrioritizedLevelReplay.update` calls a "
    "method the 0.7 `TaskSampler` lacks (`_update_with_scores`), so the adapter reports scores with "
    "`update_task_score`. Syllabus's `Learnability` needs an `Evaluator` that rolls out the agent, which a "
    "simulated student has not: it has no column.",
)


def import_syllabus() -> ModuleType:
    """``syllabus.curricula``, with numpy's error state as it was before the import."""
    state = np.geterr()
    try:
        import syllabus.curricula as curricula
    except ImportError as exc:
        raise ImportError(
            f"the Syllabus arm needs syllabus-rl 0.7: pip install 'agora-rl[compare]' ({exc})"
        ) from exc
    finally:
        np.seterr(**state)
    module: ModuleType = curricula
    return module


@dataclass
class StudentRun:
    """One student played by one arm with one seed."""

    student: str
    arm: str
    seed: int
    values: dict[str, float]
    capped: bool
    """The main metric hit the episode cap: its value is a lower bound."""
    episodes: int
    window_ends: list[int]
    shares: dict[str, list[float]] = field(default_factory=dict)
    """Per kind (and ``learnable now``): share of each window's episodes."""
    seconds: float = 0.0


class _Agora:
    def __init__(
        self,
        student: Student,
        algorithm: CurriculumAlgorithmConfig,
        seed: int,
        mutation: MutationConfig | None = None,
    ) -> None:
        config = student.curriculum_config(algorithm, seed)
        if mutation is not None:
            config.mutation = mutation
        self.curriculum = config.make()
        self._student = student
        self._index: dict[int, int] = {}
        self._task_id = -1

    def sample(self) -> int:
        task_id = self._task_id = self.curriculum.get_task().task_id
        index = self._index.get(task_id)
        if index is None:
            index = self._index[task_id] = self._student.task_index(self.curriculum.generated(task_id))
        return index

    def report(self, score: float) -> None:
        self.curriculum.update_task_performance(self._task_id, score)


class SyllabusLP:
    """Draws task indices 0 .. ``num_tasks`` - 1 from Syllabus's ``OnlineLearningProgress``
    (``sample``) and reports each episode's score back (``report``)."""

    def __init__(self, num_tasks: int, arm: SyllabusArm, seed: int) -> None:
        curricula = import_syllabus()
        from syllabus.task_space import DiscreteTaskSpace

        n = num_tasks
        self.curriculum: Any = curricula.OnlineLearningProgress(
            DiscreteTaskSpace(n),
            ema_alpha=arm.ema_alpha,
            p_theta=arm.p_theta,
            uniform_prob=arm.uniform_prob,
            update_interval=arm.update_interval or min(n, 1000),
        )
        self._rng = random.Random(seed)
        self._dist: Any = None
        self._cdf: list[float] = []
        self._last = n - 1
        self._task = 0

    def sample(self) -> int:
        dist = self.curriculum._sample_distribution()  # cached between its evaluations
        if dist is not self._dist:
            self._dist, self._cdf = dist, np.cumsum(dist).tolist()
        task = self._task = min(
            bisect.bisect_right(self._cdf, self._rng.random() * self._cdf[-1]), self._last
        )
        return task

    def report(self, score: float) -> None:
        self.curriculum.update_task_progress(self._task, score)
        self.curriculum.update_on_episode(score, 1, self._task, score)


class SyllabusPLR:
    """Draws task indices 0 .. ``num_tasks`` - 1 from Syllabus's PLR ``TaskSampler`` (``sample``)
    and reports each episode's priority score back (``report``)."""

    def __init__(self, num_tasks: int, arm: SyllabusPLRArm, seed: int) -> None:
        import_syllabus()
        from syllabus.curricula.plr.task_sampler import TaskSampler

        n = num_tasks
        self.sampler: Any = TaskSampler(
            list(range(n)),
            num_steps=1,
            strategy="value_l1",
            temperature=arm.temperature,
            staleness_coef=arm.staleness_coef,
            rho=arm.rho,
        )
        self._rng = random.Random(seed)
        self._every = arm.refresh or min(1000, -(-n // 4))
        self._replays = 0
        self._cdf: list[float] = []
        self._last = n - 1
        self._task = 0
        # Unseen tasks, drawn evenly as _sample_unseen_level does (it costs O(tasks) a draw).
        self._unseen = list(range(n))
        self._where = list(range(n))

    def sample(self) -> int:
        sampler, n = self.sampler, self._last + 1
        if (n - len(self._unseen)) / n < sampler.rho:  # Syllabus's _proportion_filled, in O(1)
            task = self._task = self._unseen[self._rng.randrange(len(self._unseen))]
        else:
            if self._replays % self._every == 0:
                self._cdf = np.cumsum(sampler.sample_weights(), dtype=np.float64).tolist()
            self._replays += 1
            task = self._task = min(
                bisect.bisect_right(self._cdf, self._rng.random() * self._cdf[-1]), self._last
            )
        sampler._update_staleness(task)
        return task

    def report(self, score: float) -> None:
        task = self._task
        self.sampler.update_task_score(0, task, score, score, 1)
        position = self._where[task]
        if position >= 0:  # first score: no longer unseen (swap with the last, then drop it)
            moved = self._unseen[-1]
            self._unseen[position], self._where[moved] = moved, position
            self._unseen.pop()
            self._where[task] = -1


def run_student(student: Student, arm: Arm, seed: int, name: str = "") -> StudentRun:
    """Play ``student`` for up to ``student.episodes`` episodes with ``arm``; metrics and shares."""
    start = time.perf_counter()
    student.reset(seed)
    driver: _Agora | SyllabusLP | SyllabusPLR
    if isinstance(arm, SyllabusArm):
        driver = SyllabusLP(student.num_tasks, arm, seed)
    elif isinstance(arm, SyllabusPLRArm):
        driver = SyllabusPLR(student.num_tasks, arm, seed)
    elif isinstance(arm, MutationArm):
        driver = _Agora(student, arm.algorithm, seed, arm.mutation)
    else:
        driver = _Agora(student, arm, seed)
    sample, report = driver.sample, driver.report
    kind, learnable, play, finished = student.kind, student.learnable, student.play, student.finished
    # PLR ranks by the learner's value loss, and a student's value estimate is its competence:
    # PLR arms get |outcome - competence| (value_l1 of a one-step episode), the others the outcome.
    value_loss = isinstance(
        arm.algorithm if isinstance(arm, MutationArm) else arm, PLRConfig | SyllabusPLRArm
    )
    success = student.success
    tally = Tally(student.kinds, student.warmup)
    kinds = len(student.kinds)
    warmup, window = student.warmup, student.window
    in_window, learnable_in_window, ends = [0] * kinds, 0, []
    episode = 0
    while episode < student.episodes:
        task = sample()
        k = kind(task)
        now = learnable(task, episode)
        if value_loss:
            competence = success(task, episode)
            report(abs(play(task, episode) - competence))
        else:
            report(play(task, episode))
        in_window[k] += 1
        learnable_in_window += now
        if episode >= warmup:
            tally.kind_after_warmup[k] += 1
            tally.learnable_after_warmup += now
        episode += 1
        done = finished()
        if episode % window == 0 or done or episode == student.episodes:
            tally.kind_windows.append(in_window)
            tally.learnable_windows.append(learnable_in_window)
            ends.append(episode)
            in_window, learnable_in_window = [0] * kinds, 0
        if done:
            break
    tally.episodes = episode
    tally.after_warmup = max(episode - warmup, 0)
    values = {**student.results(tally), **student.noise_results(tally)}
    sizes = [e - s for s, e in zip([0, *ends], ends, strict=False)]
    shares = {
        name: [counts[i] / size for counts, size in zip(tally.kind_windows, sizes, strict=True)]
        for i, name in enumerate(student.kinds)
    }
    shares["learnable now"] = [n / size for n, size in zip(tally.learnable_windows, sizes, strict=True)]
    return StudentRun(
        student=student.name,
        arm=name or type(arm).__name__,
        seed=seed,
        values=values,
        capped=student.capped(),
        episodes=episode,
        window_ends=ends,
        shares=shares,
        seconds=time.perf_counter() - start,
    )
