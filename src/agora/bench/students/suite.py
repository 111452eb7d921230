"""The simulated students: each a small model of an agent that one curriculum behaviour must handle.

Success probability is the student's competence on the task; practice raises it linearly
(``1 / learn`` per episode) unless said otherwise. Outcomes are 0 or 1. "Learnable right
now" means practice would raise the success and the task is below :data:`MASTERED`.
"""

from __future__ import annotations

import random
from typing import Any

from pydantic import BaseModel

from agora.algorithms.base import CurriculumAlgorithmConfig
from agora.bench.students.base import MASTERED, Measure, Student, Tally
from agora.curriculum import CurriculumConfig
from agora.generators.base import GeneratedTask, TaskGeneratorConfig
from agora.helpers import bucketed

__all__ = ["Chain", "Kinds", "LargeSpace", "Unlock", "Variance", "suite"]

_SHARE = Measure("learnable share", "higher", ">= 1.8x uniform")


class Kinds(Student):
    """Learnable, impossible, mastered, noisy and forgetting tasks side by side.

    Learnable tasks start at ``start`` success (0: the zero-success trap) and gain 1/``learn``
    per practice; impossible ones always fail, mastered ones always succeed; noisy ones succeed
    at a fixed rate (cycling through ``noise``: nothing to learn); forgetting ones start
    mastered, lose 1/``decay`` per episode of the run and regain 1/``relearn`` per practice.
    Tests whether a curriculum spends its episodes where practice pays (learnable tasks, and
    forgetting ones that slipped below mastery) rather than on stationary tasks, noise above all.
    Metric: share of the post-warm-up episodes on tasks learnable right then.
    """

    noise_kinds = ("noisy",)
    measures = (_SHARE,)

    def __init__(
        self,
        name: str = "kinds",
        *,
        counts: dict[str, int] | None = None,
        start: float = 0.0,
        noise: tuple[float, ...] = (0.2, 0.5, 0.8),
        learn: int = 3000,
        decay: int = 20_000,
        relearn: int = 300,
        episodes: int = 30_000,
        warmup: int = 3_000,
    ) -> None:
        counts = counts or {"learnable": 8, "impossible": 8, "mastered": 8, "noisy": 8, "forgetting": 8}
        self.name, self.start, self.noise = name, start, noise
        self.learn, self.decay, self.relearn = learn, decay, relearn
        self.episodes, self.warmup, self.window = episodes, warmup, max(episodes // 60, 1)
        self.kinds = ("learnable", "impossible", "mastered", "noisy", "forgetting")
        self._kinds = [kind for kind in self.kinds for _ in range(counts.get(kind, 0))]
        self._kind = [self.kinds.index(kind) for kind in self._kinds]
        unknown = set(counts) - set(self.kinds)
        if unknown:
            raise ValueError(f"unknown kinds {sorted(unknown)}; known: {self.kinds}")

    @property
    def num_tasks(self) -> int:
        return len(self._kinds)

    def task_kinds(self) -> list[str]:
        return list(self._kinds)

    def reset(self, seed: int) -> None:
        self._rng = random.Random(seed)
        start = {"learnable": self.start, "mastered": 1.0, "forgetting": 1.0}
        noisy = iter(self.noise * self.num_tasks)
        self._level = [next(noisy) if kind == "noisy" else start.get(kind, 0.0) for kind in self._kinds]
        self._since = [0] * self.num_tasks  # forgetting tasks: episode their level was last set

    def kind(self, task: int) -> int:
        return self._kind[task]

    def _forgotten(self, task: int, episode: int) -> float:
        return max(0.0, self._level[task] - (episode - self._since[task]) / self.decay)

    def success(self, task: int, episode: int) -> float:
        return self._forgotten(task, episode) if self._kind[task] == 4 else self._level[task]

    def learnable(self, task: int, episode: int) -> bool:
        kind = self._kind[task]
        if kind == 0:
            return self._level[task] < MASTERED
        return kind == 4 and self._forgotten(task, episode) < MASTERED

    def play(self, task: int, episode: int) -> float:
        kind = self._kind[task]
        if kind == 4:
            level = self._forgotten(task, episode)
            self._level[task], self._since[task] = min(1.0, level + 1 / self.relearn), episode
        else:
            level = self._level[task]
            if kind == 0:
                self._level[task] = min(1.0, level + 1 / self.learn)
        return float(self._rng.random() < level)

    def results(self, tally: Tally) -> dict[str, float]:
        return {"learnable share": tally.learnable_share()}


class Chain(Student):
    """A chain of prerequisite tasks with slow forgetting, among coin-flip distractors.

    Chain task k can only be learnt (1/``learn`` per practice) while task k - 1 is at least
    ``unlock`` mastered; every chain task loses 1/``decay`` per episode of the run, so early
    links must be rehearsed while later ones are learnt. Distractors succeed half the time
    whatever happens. Tests whether a curriculum follows a moving frontier and is not drawn to
    the variance of coin flips. Metric: episodes until every chain task is mastered at once
    (the run stops there, or at the cap ``episodes``).
    """

    noise_kinds = ("distractor",)
    measures = (Measure("episodes to master the chain", "lower", "<= 0.6x uniform"),)

    def __init__(
        self,
        name: str = "chain",
        *,
        chain: int = 10,
        distractors: int = 30,
        learn: int = 40,
        decay: int = 10_000,
        unlock: float = 0.5,
        episodes: int = 150_000,
    ) -> None:
        self.name, self.chain, self.distractors = name, chain, distractors
        self.learn, self.decay, self.unlock = learn, decay, unlock
        self.episodes, self.warmup, self.window = episodes, 0, max(episodes // 150, 1)
        self.kinds = ("chain", "distractor")

    @property
    def num_tasks(self) -> int:
        return self.chain + self.distractors

    def task_kinds(self) -> list[str]:
        return ["chain"] * self.chain + ["distractor"] * self.distractors

    def reset(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._level = [0.0] * self.chain
        self._since = [0] * self.chain
        self._finished_at: int | None = None

    def kind(self, task: int) -> int:
        return 0 if task < self.chain else 1

    def level(self, task: int, episode: int) -> float:
        """Competence of chain task ``task`` at ``episode`` (after forgetting)."""
        return max(0.0, self._level[task] - (episode - self._since[task]) / self.decay)

    def success(self, task: int, episode: int) -> float:
        return self.level(task, episode) if task < self.chain else 0.5

    def unlocked(self, task: int, episode: int) -> bool:
        return task == 0 or self.level(task - 1, episode) >= self.unlock

    def learnable(self, task: int, episode: int) -> bool:
        return task < self.chain and self.unlocked(task, episode) and self.level(task, episode) < MASTERED

    def play(self, task: int, episode: int) -> float:
        if task >= self.chain:
            return float(self._rng.random() < 0.5)
        level = self.level(task, episode)
        new = min(1.0, level + 1 / self.learn) if self.unlocked(task, episode) else level
        self._level[task], self._since[task] = new, episode
        if (
            new >= MASTERED
            and self._finished_at is None
            and all(self.level(k, episode) >= MASTERED for k in range(self.chain))
        ):
            self._finished_at = episode + 1
        return float(self._rng.random() < level)

    def finished(self) -> bool:
        return self._finished_at is not None

    def capped(self) -> bool:
        return self._finished_at is None

    def results(self, tally: Tally) -> dict[str, float]:
        return {"episodes to master the chain": float(self._finished_at or tally.episodes)}


class Unlock(Student):
    """Tasks flat at 0 that become learnable later, among tasks that compete for attention.

    ``late`` tasks fail and learn nothing until they unlock: half on a clock (evenly spread
    over the first two thirds of the run), half once their ``gate`` task (learnable from 0) is
    half mastered. Once unlocked they learn fast (1/``learn_late`` per practice). Meanwhile
    slowly learnable tasks, impossible, mastered and coin-flip tasks fill the rest. Tests
    whether a curriculum keeps revisiting tasks it has only seen fail. Metric: mean episodes
    from a late task's unlock until its competence reaches 0.5 (not found by the end: counted
    up to the end, a gated task whose gate never opened from the start of the run, and the
    run is reported as capped).
    """

    noise_kinds = ("noisy",)
    measures = (Measure("episodes from unlock to discovery", "lower", "<= 0.6x uniform"),)

    def __init__(
        self,
        name: str = "unlock",
        *,
        late: int = 8,
        others: int = 6,
        learn_late: int = 100,
        learn_gate: int = 100,
        learn_slow: int = 3000,
        episodes: int = 30_000,
    ) -> None:
        if late % 2:
            raise ValueError(f"late must be even (half on a clock, half gated), got {late}")
        self.name, self.late, self.others = name, late, others
        self.learn_late, self.learn_gate, self.learn_slow = learn_late, learn_gate, learn_slow
        self.episodes, self.warmup, self.window = episodes, 0, max(episodes // 60, 1)
        self.kinds = ("late", "gate", "learnable", "impossible", "mastered", "noisy")
        gates = late // 2
        self._kinds = ["late"] * late + ["gate"] * gates + [k for k in self.kinds[2:] for _ in range(others)]
        self._kind = [self.kinds.index(kind) for kind in self._kinds]
        self._gate_of = {late // 2 + j: late + j for j in range(gates)}  # gated late task -> its gate
        self._clock = {j: (j + 1) * (2 * episodes // 3) // (late // 2) for j in range(late // 2)}

    @property
    def num_tasks(self) -> int:
        return len(self._kinds)

    def task_kinds(self) -> list[str]:
        return list(self._kinds)

    def reset(self, seed: int) -> None:
        self._rng = random.Random(seed)
        start = {"mastered": 1.0, "noisy": 0.5, "learnable": 0.2}
        self._level = [start.get(kind, 0.0) for kind in self._kinds]
        self.unlocked_at: dict[int, int] = dict(self._clock)  # late task -> episode it unlocked
        self.found_at: dict[int, int] = {}

    def kind(self, task: int) -> int:
        return self._kind[task]

    def success(self, task: int, episode: int) -> float:
        return self._level[task]

    def is_unlocked(self, task: int, episode: int) -> bool:
        """Whether late task ``task`` can be learnt at ``episode``."""
        at = self.unlocked_at.get(task)
        return at is not None and episode >= at

    def learnable(self, task: int, episode: int) -> bool:
        kind = self._kind[task]
        if kind == 0:
            return self.is_unlocked(task, episode) and self._level[task] < MASTERED
        return kind in (1, 2) and self._level[task] < MASTERED

    def play(self, task: int, episode: int) -> float:
        kind = self._kind[task]
        level = self._level[task]
        if kind == 0 and self.is_unlocked(task, episode):
            self._level[task] = min(1.0, level + 1 / self.learn_late)
            if self._level[task] >= 0.5 and task not in self.found_at:
                self.found_at[task] = episode + 1
        elif kind == 1:
            self._level[task] = min(1.0, level + 1 / self.learn_gate)
            if self._level[task] >= 0.5:
                for late, gate in self._gate_of.items():
                    if gate == task:
                        self.unlocked_at.setdefault(late, episode + 1)
        elif kind == 2:
            self._level[task] = min(1.0, level + 1 / self.learn_slow)
        return float(self._rng.random() < level)

    def capped(self) -> bool:
        return len(self.found_at) < self.late

    def results(self, tally: Tally) -> dict[str, float]:
        end = tally.episodes
        delays = [self.found_at.get(task, end) - self.unlocked_at.get(task, 0) for task in range(self.late)]
        return {"episodes from unlock to discovery": sum(delays) / len(delays)}


class Cell(BaseModel):
    """A task of the large space: a point of a two-parameter family."""

    x: int = 0
    y: int = 0


class LargeSpace(Student):
    """A 100,000-task bucketed space (x: 500 values, y: 200) with a pool of 1,000 and eviction.

    Only the region x < 50, y < 40 (2% of the space) is learnable: from 0 success, 1/``learn``
    per practice. Elsewhere a task is mastered (y >= 150), a coin flip (100 <= y < 150) or
    impossible. A uniform pool holds about 20 learnable tasks; a curriculum has to evict the
    rest, mastered region tasks included, and draw replacements until it finds more. Tests
    eviction and replacement at scale. Metric: share of the post-warm-up episodes on region
    tasks not yet mastered. Task identity is the cell (x, y): ids drawing the same cell share it.
    """

    noise_kinds = ("noisy",)
    measures = (_SHARE, Measure("region tasks mastered", "higher"))
    SIDE_X, SIDE_Y, REGION_X, REGION_Y = 500, 200, 50, 40

    def __init__(
        self,
        name: str = "large space",
        *,
        pool: int = 1000,
        learn: int = 50,
        episodes: int = 60_000,
        warmup: int = 5_000,
    ) -> None:
        self.name, self.pool, self.learn = name, pool, learn
        self.episodes, self.warmup, self.window = episodes, warmup, max(episodes // 60, 1)
        self.kinds = ("region", "impossible", "mastered", "noisy")

    @property
    def num_tasks(self) -> int:
        return self.SIDE_X * self.SIDE_Y

    def generator(self) -> TaskGeneratorConfig[Any]:
        return (
            bucketed(Cell())
            .add_bucket("x", list(range(self.SIDE_X)))
            .add_bucket("y", list(range(self.SIDE_Y)))
        )

    def curriculum_config(self, algorithm: CurriculumAlgorithmConfig, seed: int) -> CurriculumConfig:
        return CurriculumConfig(
            task_generator=self.generator(), num_active_tasks=self.pool, seed=seed, algorithm_config=algorithm
        )

    def task_index(self, task: GeneratedTask[Any]) -> int:
        return int(task.bucket_values["x"]) * self.SIDE_Y + int(task.bucket_values["y"])

    def reset(self, seed: int) -> None:
        self._rng = random.Random(seed)
        self._level: dict[int, float] = {}

    def kind(self, task: int) -> int:
        x, y = divmod(task, self.SIDE_Y)
        if x < self.REGION_X and y < self.REGION_Y:
            return 0
        return 2 if y >= 150 else 3 if y >= 100 else 1

    def success(self, task: int, episode: int) -> float:
        kind = self.kind(task)
        return self._level.get(task, 0.0) if kind == 0 else (0.0, 0.0, 1.0, 0.5)[kind]

    def learnable(self, task: int, episode: int) -> bool:
        return self.kind(task) == 0 and self._level.get(task, 0.0) < MASTERED

    def play(self, task: int, episode: int) -> float:
        level = self.success(task, episode)
        if level < 1.0 and self.kind(task) == 0:
            self._level[task] = min(1.0, level + 1 / self.learn)
        return float(self._rng.random() < level)

    def results(self, tally: Tally) -> dict[str, float]:
        mastered = sum(level >= MASTERED for level in self._level.values())
        return {"learnable share": tally.learnable_share(), "region tasks mastered": float(mastered)}


class Variance(Student):
    """Two learnable groups with the same true progress but different outcome variance, plus noise.

    ``rare`` tasks start at 0.02 success, ``even`` ones at 0.4; both gain 1/``learn`` per
    practice, so their success rises equally fast, but a Bernoulli outcome near 0 varies far
    less than one near 0.5. ``noisy`` tasks are stationary coin flips at 0.3-0.7. Tests whether
    a curriculum rewards progress or mere outcome variance. Metrics: share of episodes on the
    learnable tasks, and the even / rare ratio of episodes per task (1 is fair).
    """

    noise_kinds = ("noisy",)
    measures = (_SHARE, Measure("even / rare episodes", "near 1", "about 1 (same progress)"))

    def __init__(
        self,
        name: str = "variance",
        *,
        group: int = 6,
        noisy: int = 28,
        learn: int = 5000,
        episodes: int = 30_000,
        warmup: int = 3_000,
    ) -> None:
        self.name, self.group, self.noisy, self.learn = name, group, noisy, learn
        self.episodes, self.warmup, self.window = episodes, warmup, max(episodes // 60, 1)
        self.kinds = ("rare", "even", "noisy")

    @property
    def num_tasks(self) -> int:
        return 2 * self.group + self.noisy

    def task_kinds(self) -> list[str]:
        return ["rare"] * self.group + ["even"] * self.group + ["noisy"] * self.noisy

    def reset(self, seed: int) -> None:
        self._rng = random.Random(seed)
        noise = [0.3 + 0.4 * i / max(self.noisy - 1, 1) for i in range(self.noisy)]
        self._level = [0.02] * self.group + [0.4] * self.group + noise

    def kind(self, task: int) -> int:
        return min(task // self.group, 2)

    def success(self, task: int, episode: int) -> float:
        return self._level[task]

    def learnable(self, task: int, episode: int) -> bool:
        return task < 2 * self.group and self._level[task] < MASTERED

    def play(self, task: int, episode: int) -> float:
        level = self._level[task]
        if task < 2 * self.group:
            self._level[task] = min(1.0, level + 1 / self.learn)
        return float(self._rng.random() < level)

    def results(self, tally: Tally) -> dict[str, float]:
        rare, even = tally.share_after_warmup(("rare",)), tally.share_after_warmup(("even",))
        return {"learnable share": tally.learnable_share(), "even / rare episodes": even / max(rare, 1e-9)}


def suite(quick: bool = False) -> list[Student]:
    """The students of ``agora bench students`` (``quick``: short runs, for smoke tests)."""
    f = 10 if quick else 1
    return [
        Kinds("kinds, learnable from 0", episodes=30_000 // f, warmup=3_000 // f),
        Kinds("kinds, learnable from 0.2", start=0.2, episodes=30_000 // f, warmup=3_000 // f),
        Kinds(
            "kinds, 60% noise",
            counts={"learnable": 6, "impossible": 4, "mastered": 4, "noisy": 24, "forgetting": 2},
            episodes=30_000 // f,
            warmup=3_000 // f,
        ),
        Chain(episodes=150_000 // f),
        Unlock(episodes=30_000 // f),
        LargeSpace(episodes=60_000 // f, warmup=5_000 // f),
        Variance(episodes=30_000 // f, warmup=3_000 // f),
    ]
