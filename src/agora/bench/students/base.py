"""What a simulated student is: a task space, an outcome model, and a number to judge a curriculum by.

A student is deliberately cheap (pure Python, O(1) per episode) so that a curriculum can be
run for 100k+ episodes in seconds; its competence per task is internal state that practice
changes, and it knows at every episode which tasks are *learnable right now* (practice
would raise their success), which is what a curriculum should find.
"""

from __future__ import annotations

import random
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from pydantic import BaseModel, Field

from agora.algorithms.base import CurriculumAlgorithmConfig
from agora.curriculum import CurriculumConfig
from agora.generators.base import GeneratedTask, TaskGenerator, TaskGeneratorConfig

__all__ = ["MASTERED", "Measure", "Student", "StudentTask", "Tally", "TaskList"]

MASTERED = 0.9
"""Competence at which a task counts as mastered (no longer learnable right now)."""


class StudentTask(BaseModel):
    """The environment config of one task of a fixed-size student: which task it is."""

    index: int = 0
    kind: str = ""


class TaskList(TaskGenerator[StudentTask]):
    """Task id ``i`` is the ``i``-th listed task: a discrete task space whose pool holds every task once.

    (A bucketed generator draws its values from a hash of the id, so a pool of N ids over N
    bucket values would hold some tasks twice and miss others; a chain student needs each link.)
    """

    class Config(TaskGeneratorConfig["TaskList"]):
        kinds: list[str] = Field(description="The kind of task i, for every task of the space.")

    def __init__(self, config: Config) -> None:
        super().__init__(config)
        self._kinds = config.kinds

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[StudentTask]:
        if not 0 <= task_id < len(self._kinds):
            raise ValueError(f"task id {task_id} is outside this list of {len(self._kinds)} tasks")
        return self._at(task_id, task_id)

    # The space is the list (so a mutation arm runs here too; an edit is a neighbouring task).

    def _space_size(self) -> int:
        return len(self._kinds)

    def _point(self, task_id: int, rng: random.Random) -> int:
        return task_id

    def _at(self, task_id: int, point: int) -> GeneratedTask[StudentTask]:
        kind = self._kinds[point]
        return GeneratedTask(task_id, lambda: StudentTask(index=point, kind=kind))

    def _mutated(self, point: int, rng: random.Random) -> int:
        return point + 1 if point == 0 or (point + 1 < len(self._kinds) and rng.random() < 0.5) else point - 1


@dataclass(frozen=True)
class Measure:
    """One number a student reports per run, and how a curriculum is judged on it."""

    name: str
    better: Literal["higher", "lower", "near 1"]
    target: str = ""
    """What counts as beating uniform sampling, for the table (e.g. ">= 1.8x uniform")."""


@dataclass
class Tally:
    """What the runner counts while a curriculum plays a student."""

    kinds: Sequence[str]
    warmup: int
    episodes: int = 0
    after_warmup: int = 0
    learnable_after_warmup: int = 0
    kind_after_warmup: list[int] = field(default_factory=list)
    kind_windows: list[list[int]] = field(default_factory=list)
    learnable_windows: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kind_after_warmup = [0] * len(self.kinds)

    def share_after_warmup(self, kinds: Sequence[str]) -> float:
        """Share of the post-warm-up episodes spent on tasks of ``kinds``."""
        count = sum(self.kind_after_warmup[self.kinds.index(k)] for k in kinds)
        return count / max(self.after_warmup, 1)

    def learnable_share(self) -> float:
        """Share of the post-warm-up episodes spent on tasks that were learnable right then."""
        return self.learnable_after_warmup / max(self.after_warmup, 1)


class Student(ABC):
    """A simulated agent: its tasks, how it succeeds and learns, and what a curriculum is judged on.

    Subclasses set the class attributes, build their state in :meth:`reset` and implement the
    per-episode methods; everything per episode must be O(1) pure Python.
    """

    name: str
    kinds: tuple[str, ...]
    """Static kinds of task, for episode shares and plots."""
    noise_kinds: tuple[str, ...] = ()
    """Kinds with nothing to learn whose outcomes are random: never worth more than their uniform share."""
    measures: tuple[Measure, ...]
    """The first is the student's main metric; ``noise share`` is added when there are noise kinds."""
    episodes: int
    """Episodes per run (the cap, for students that stop at a target)."""
    warmup: int = 0
    window: int = 500
    """Episodes per point of the share time series."""

    # -- task space and pool ------------------------------------------------------------

    @property
    @abstractmethod
    def num_tasks(self) -> int:
        """Size of the discrete task space (what a peer without a pool samples from)."""

    def task_kinds(self) -> list[str]:
        """Kind of each task of a fixed task space (used by the default :meth:`generator`)."""
        raise NotImplementedError(f"{type(self).__name__} has no fixed list of tasks")

    def generator(self) -> TaskGeneratorConfig[Any]:
        """The task space as an agora generator (default: the fixed list of :meth:`task_kinds`)."""
        return TaskList.Config(kinds=self.task_kinds())

    def curriculum_config(self, algorithm: CurriculumAlgorithmConfig, seed: int) -> CurriculumConfig:
        """Pool settings; by default the pool is the whole fixed task space, so nothing is evicted."""
        return CurriculumConfig(
            task_generator=self.generator(),
            num_active_tasks=self.num_tasks,
            max_task_id=self.num_tasks,
            min_presentations_for_eviction=10**9,
            seed=seed,
            algorithm_config=algorithm,
        )

    def task_index(self, task: GeneratedTask[Any]) -> int:
        """Which of the student's tasks an agora task is (0 .. num_tasks - 1)."""
        index: int = task.config.index
        return index

    # -- the per-episode model ----------------------------------------------------------

    @abstractmethod
    def reset(self, seed: int) -> None:
        """Fresh competence and outcome randomness for one run."""

    @abstractmethod
    def kind(self, task: int) -> int:
        """Index into :attr:`kinds` of task ``task``."""

    @abstractmethod
    def success(self, task: int, episode: int) -> float:
        """Probability that ``task`` succeeds if played at ``episode`` (its competence then)."""

    @abstractmethod
    def learnable(self, task: int, episode: int) -> bool:
        """Whether practising ``task`` at ``episode`` would raise its success (and it is not mastered)."""

    @abstractmethod
    def play(self, task: int, episode: int) -> float:
        """One episode of ``task``: the outcome (0 or 1), after which practice changes competence."""

    def finished(self) -> bool:
        """True once the student's target is reached (ends the run early)."""
        return False

    @abstractmethod
    def results(self, tally: Tally) -> dict[str, float]:
        """The value of each measure for the run just played."""

    def capped(self) -> bool:
        """Whether the main metric hit the episode cap (a lower bound, not a value)."""
        return False

    def all_measures(self) -> tuple[Measure, ...]:
        if not self.noise_kinds:
            return self.measures
        return (*self.measures, Measure("noise share", "lower", "<= 1.0x uniform"))

    def noise_results(self, tally: Tally) -> dict[str, float]:
        return {"noise share": tally.share_after_warmup(self.noise_kinds)} if self.noise_kinds else {}

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
