"""Train the demo agent under several curricula and compare how fast they learn.

Each run trains a fresh :class:`~agora.demo.agent.QLearningAgent` for ``env_steps``
environment steps on tasks drawn by a curriculum over :class:`~agora.demo.env.GridTaskGenerator`,
and every ``env_steps / num_evals`` steps measures greedy success on a fixed evaluation set:
``eval_starts`` start cells for every (size, layout, start distance) of the family, each judged
against the step limit of every step factor, so every task of the family counts equally. Runs
for different curricula and seeds are independent, so they are spread over worker processes.

Every curriculum gets each episode's success as its score; PLR also gets the episode's mean
absolute TD error (the agent's value errors, PLR's ``one_step_td_error``) as its priority,
which it ranks by. :data:`ALGORITHMS` names the curricula
``agora demo --algorithms`` can run, Syllabus's learning progress among them.
"""

from __future__ import annotations

import os
import random
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field
from tqdm import tqdm

from agora import __version__
from agora.algorithms import (
    CurriculumAlgorithmConfig,
    DiscreteRandomConfig,
    LearnabilityConfig,
    LearningProgressConfig,
    PLRConfig,
)
from agora.bench.students.runner import SyllabusArm, SyllabusLP
from agora.curriculum import CurriculumConfig
from agora.demo.agent import QLearningAgent
from agora.demo.env import GridTask, GridTaskGenerator, GridWorld, maze, step_limit

__all__ = [
    "ALGORITHMS",
    "DemoArm",
    "DemoConfig",
    "DemoResult",
    "RunResult",
    "default_curricula",
    "run_demo",
]


NEVER = 2**62
"""A ``min_presentations_for_eviction`` no task reaches."""


class DemoConfig(BaseModel):
    """What the demo trains on, for how long, and how the curricula are set up."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    family: GridTaskGenerator.Config = Field(
        default_factory=GridTaskGenerator.Config, description="The task family (every task is in the pool)."
    )
    env_steps: int = Field(default=1_200_000, gt=0, description="Training environment steps per run.")
    num_evals: int = Field(default=20, gt=0, description="Evaluations per run (plus one before training).")
    eval_starts: int = Field(
        default=20, gt=0, description="Evaluation starts per (size, layout, start distance)."
    )
    seeds: int = Field(default=5, gt=0, description="Runs per curriculum, with seeds 0..seeds-1.")
    refresh_interval: int = Field(default=4, gt=0, description="Episodes between sampling refreshes.")
    learning_rate: float = Field(default=0.5, gt=0, le=1)
    discount: float = Field(default=0.95, gt=0, le=1)
    epsilon: float = Field(default=0.1, ge=0, le=1)
    workers: int = Field(default=2, gt=0, description="Worker processes (1 runs everything in-process).")

    @classmethod
    def quick(cls, **overrides: Any) -> DemoConfig:
        """A short run (a few seconds) with the same task family, for tests and a first look."""
        return cls(**{"env_steps": 300_000, "num_evals": 5, "eval_starts": 10, **overrides})

    def curriculum_config(self, algorithm: CurriculumAlgorithmConfig, seed: int) -> CurriculumConfig:
        """A curriculum whose pool is the whole family, each task once.

        Nothing is ever evicted: with every task already in the pool, an eviction could only
        bring the same task back with its statistics reset.
        """
        return CurriculumConfig(
            task_generator=self.family,
            max_task_id=self.family.num_tasks,
            num_active_tasks=self.family.num_tasks,
            refresh_interval=self.refresh_interval,
            min_presentations_for_eviction=NEVER,
            algorithm_config=algorithm,
            seed=seed,
        )

    @property
    def eval_steps(self) -> list[int]:
        """Training steps at which the agent is evaluated."""
        return [round(i * self.env_steps / self.num_evals) for i in range(self.num_evals + 1)]


DemoArm = CurriculumAlgorithmConfig | SyllabusArm
"""A curriculum of the demo: an agora algorithm config, or Syllabus's learning progress."""

ALGORITHMS: dict[str, Callable[[], DemoArm]] = {
    "learning_progress": LearningProgressConfig,
    "uniform": DiscreteRandomConfig,
    "plr": PLRConfig,
    "learnability": LearnabilityConfig,
    "syllabus": SyllabusArm,
}
"""The curricula ``agora demo --algorithms`` takes by name, with their defaults."""


def default_curricula() -> dict[str, DemoArm]:
    """The two arms of the demo: learning progress and uniform sampling."""
    return {"learning_progress": LearningProgressConfig(), "uniform": DiscreteRandomConfig()}


@dataclass
class RunResult:
    """One training run: evaluation success at each of ``DemoConfig.eval_steps``, and what was sampled."""

    curriculum: str
    seed: int
    success: list[float]
    samples_by_distance: list[dict[int, int]]
    """Per evaluation interval: episodes sampled per start distance."""
    episodes: int
    impossible_step_share: float
    """Share of training steps spent on tasks whose step limit is below their start distance."""


def evaluation_set(config: DemoConfig) -> list[tuple[GridTask, list[int], list[int]]]:
    """The fixed evaluation set: for each (size, layout, start distance) of the family, a task
    (with the longest step limit), its start cells, and the step limits of its tasks."""
    rng = random.Random(12345)
    family = config.family
    longest = max(family.step_factors)
    out = []
    for size in family.sizes:
        for seed in range(family.maze_seed, family.maze_seed + family.mazes):
            layout = maze(size, seed)
            for distance in family.start_distances:
                cells = layout.cells_at(distance)
                starts = [rng.choice(cells) for _ in range(config.eval_starts)]
                limits = [step_limit(layout, distance, factor) for factor in family.step_factors]
                task = GridTask(
                    size=size,
                    start_distance=distance,
                    max_steps=step_limit(layout, distance, longest),
                    maze_seed=seed,
                )
                out.append((task, starts, limits))
    return out


def evaluate(
    agent: QLearningAgent, config: DemoConfig, eval_set: list[tuple[GridTask, list[int], list[int]]]
) -> float:
    """Greedy success over the evaluation set, every start judged against every step limit.

    One greedy episode per start with the longest limit gives the steps it needs; a shorter
    limit succeeds exactly when those steps fit in it, so one rollout serves all limits. Every
    task of the family counts equally: same starts, one verdict per step limit.
    """
    wins = total = 0
    rng = random.Random(0)
    for task, starts, limits in eval_set:
        env = GridWorld(task, rng)
        for start in starts:
            reached, steps = agent.run_episode(env, learn=False, start=start, rng=rng)
            if reached:
                wins += sum(steps <= limit for limit in limits)
        total += len(starts) * len(limits)
    return wins / total


class _SyllabusSource:
    """Syllabus's learning progress over the family's task ids, in the shape train() uses."""

    def __init__(self, config: DemoConfig, arm: SyllabusArm, seed: int) -> None:
        self._generator = config.family.create()
        self._sampler = SyllabusLP(config.family.num_tasks, arm, seed)

    def next_task(self) -> tuple[int, GridTask]:
        task_id = self._sampler.sample()
        return task_id, self._generator.generate(task_id).config

    def report(self, task_id: int, score: float, priority: float | None) -> None:
        self._sampler.report(score)


class _AgoraSource:
    def __init__(self, config: DemoConfig, algorithm: CurriculumAlgorithmConfig, seed: int) -> None:
        self._curriculum = config.curriculum_config(algorithm, seed).make()

    def next_task(self) -> tuple[int, GridTask]:
        task = self._curriculum.get_task()
        return task.task_id, task.get_env_cfg()

    def report(self, task_id: int, score: float, priority: float | None) -> None:
        self._curriculum.update_task_performance(task_id, score, priority=priority)


def train(config: DemoConfig, name: str, algorithm: DemoArm, seed: int) -> RunResult:
    """Train one agent under one curriculum and evaluate it along the way."""
    source = (
        _SyllabusSource(config, algorithm, seed)
        if isinstance(algorithm, SyllabusArm)
        else _AgoraSource(config, algorithm, seed)
    )
    td_scored = isinstance(algorithm, PLRConfig)
    agent = QLearningAgent(
        learning_rate=config.learning_rate, discount=config.discount, epsilon=config.epsilon, seed=seed
    )
    env_rng = random.Random(seed + 1_000_003)
    envs: dict[GridTask, GridWorld] = {}
    eval_set = evaluation_set(config)
    milestones = config.eval_steps
    success = [evaluate(agent, config, eval_set)]
    windows: list[dict[int, int]] = [{}]
    steps = episodes = impossible_steps = 0
    while steps < config.env_steps:
        task_id, cfg = source.next_task()
        env = envs.get(cfg)
        if env is None:
            env = envs[cfg] = GridWorld(cfg, env_rng)
        reached, taken = agent.run_episode(env)
        source.report(task_id, float(reached), agent.td_error if td_scored else None)
        steps += taken
        episodes += 1
        if min(cfg.start_distance, env.maze.max_distance) > cfg.max_steps:
            impossible_steps += taken
        window = windows[-1]
        window[cfg.start_distance] = window.get(cfg.start_distance, 0) + 1
        while len(success) < len(milestones) and steps >= milestones[len(success)]:
            success.append(evaluate(agent, config, eval_set))
            windows.append({})
    return RunResult(name, seed, success, windows[:-1], episodes, impossible_steps / steps)


def _train_job(args: tuple[DemoConfig, str, DemoArm, int]) -> RunResult:
    return train(*args)


@dataclass
class DemoResult:
    """All runs of a demo, with the comparisons the demo reports."""

    config: DemoConfig
    runs: list[RunResult] = field(default_factory=list)
    wall_time_s: float | None = None
    """Seconds :func:`run_demo` took for all runs (None for results put together by hand)."""

    @property
    def curricula(self) -> list[str]:
        return list(dict.fromkeys(run.curriculum for run in self.runs))

    def success(self, curriculum: str) -> np.ndarray[Any, np.dtype[np.float64]]:
        """Evaluation success, shape ``(seeds, evaluations)``."""
        return np.array([run.success for run in self.runs if run.curriculum == curriculum], dtype=np.float64)

    def steps_to_reach(self, curriculum: str, target: float) -> float | None:
        """Environment steps at which the seed-mean success first reaches ``target`` (interpolated)."""
        mean = self.success(curriculum).mean(axis=0)
        steps = self.config.eval_steps
        for i, value in enumerate(mean):
            if value >= target - 1e-9:  # the mean of equal rates may differ in the last bit
                if i == 0:
                    return 0.0
                before = mean[i - 1]
                return float(steps[i - 1] + (target - before) / (value - before) * (steps[i] - steps[i - 1]))
        return None

    def distance_shares(self, curriculum: str) -> tuple[list[int], np.ndarray[Any, np.dtype[np.float64]]]:
        """Start distances and the share of episodes on each, shape ``(evaluations - 1, distances)``."""
        distances = list(self.config.family.start_distances)
        counts = np.zeros((self.config.num_evals, len(distances)))
        for run in self.runs:
            if run.curriculum == curriculum:
                for i, window in enumerate(run.samples_by_distance):
                    for j, distance in enumerate(distances):
                        counts[i, j] += window.get(distance, 0)
        totals = counts.sum(axis=1, keepdims=True)
        return distances, np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    def comparison(self, baseline: str = "uniform", candidate: str = "learning_progress") -> dict[str, Any]:
        """Steps each curriculum needed to first reach ``baseline``'s final success (seed means).

        The ratio compares against the steps the baseline itself needed, not its whole budget,
        so a baseline that plateaus early is not penalised.
        """
        target = float(self.success(baseline).mean(axis=0)[-1])
        baseline_steps = self.steps_to_reach(baseline, target)
        candidate_steps = self.steps_to_reach(candidate, target)
        ratio = None
        if candidate_steps is not None and baseline_steps:
            ratio = candidate_steps / baseline_steps
        return {
            "baseline": baseline,
            "candidate": candidate,
            "baseline_final_success": target,
            "candidate_final_success": float(self.success(candidate).mean(axis=0)[-1]),
            "baseline_steps_to_final": baseline_steps,
            "candidate_steps_to_baseline_final": candidate_steps,
            "step_ratio": ratio,
        }

    def summary(self) -> dict[str, Any]:
        """Everything ``summary.json`` holds: config, per-curriculum curves and the comparison."""
        curricula: dict[str, Any] = {}
        for name in self.curricula:
            success = self.success(name)
            runs = [run for run in self.runs if run.curriculum == name]
            distances, shares = self.distance_shares(name)
            curricula[name] = {
                "success_mean": success.mean(axis=0).tolist(),
                "success_std": success.std(axis=0).tolist(),
                "success_min": success.min(axis=0).tolist(),
                "success_max": success.max(axis=0).tolist(),
                "final_success_mean": float(success[:, -1].mean()),
                "episodes_mean": float(np.mean([run.episodes for run in runs])),
                "impossible_step_share": float(np.mean([run.impossible_step_share for run in runs])),
                "sample_share_by_start_distance": {
                    str(d): shares[:, j].tolist() for j, d in enumerate(distances)
                },
                "runs": [asdict(run) for run in runs],
            }
        out: dict[str, Any] = {
            "agora_version": __version__,
            "wall_time_s": self.wall_time_s,
            "cpu_count": os.cpu_count(),
            "config": self.config.model_dump(mode="json"),
            "env_steps": self.config.eval_steps,
            "curricula": curricula,
        }
        if {"uniform", "learning_progress"} <= set(curricula):
            out["comparison"] = self.comparison()
        if "uniform" in curricula:  # every other curriculum against uniform, as the verdict lines say
            others = [name for name in curricula if name != "uniform"]
            out["comparisons"] = {name: self.comparison(candidate=name) for name in others}
        return out

    def table(self, max_rows: int = 16) -> str:
        """Evaluation success (mean ± std over seeds) against environment steps, as text.

        Shows at most about ``max_rows`` evaluations, evenly spaced, always the first and last
        (``summary.json`` has them all).
        """
        names = self.curricula
        header = ["env steps", *names]
        rows = []
        means = {name: self.success(name).mean(axis=0) for name in names}
        stds = {name: self.success(name).std(axis=0) for name in names}
        evals = self.config.eval_steps
        every = -(-(len(evals) - 1) // max(max_rows - 1, 1))
        for i, steps in enumerate(evals):
            if i % every and i != len(evals) - 1:
                continue
            rows.append([f"{steps:,}", *(f"{means[n][i]:.3f} ± {stds[n][i]:.3f}" for n in names)])
        widths = [max(len(str(r[c])) for r in [header, *rows]) for c in range(len(header))]
        lines = ["  ".join(h.rjust(w) for h, w in zip(header, widths, strict=True))]
        lines.append("  ".join("-" * w for w in widths))
        lines += ["  ".join(v.rjust(w) for v, w in zip(row, widths, strict=True)) for row in rows]
        return "\n".join(lines)


def run_demo(
    config: DemoConfig | None = None,
    curricula: Mapping[str, DemoArm] | None = None,
    *,
    progress: bool = True,
    on_run: Callable[[RunResult], None] | None = None,
) -> DemoResult:
    """Train ``config.seeds`` agents under each curriculum (default: learning progress and uniform;
    :data:`ALGORITHMS` has more)."""
    start = time.perf_counter()
    config = config or DemoConfig()
    curricula = dict(curricula or default_curricula())
    jobs = [(config, name, algo, seed) for seed in range(config.seeds) for name, algo in curricula.items()]
    result = DemoResult(config)
    bar = tqdm(total=len(jobs), desc="training", unit="run", disable=not progress)
    try:
        if config.workers == 1:
            finished: Any = (_train_job(job) for job in jobs)
        else:
            pool = ProcessPoolExecutor(max_workers=min(config.workers, len(jobs)))
            finished = (
                future.result() for future in as_completed([pool.submit(_train_job, j) for j in jobs])
            )
        for run in finished:
            result.runs.append(run)
            bar.update()
            if on_run is not None:
                on_run(run)
    finally:
        bar.close()
        if config.workers != 1:
            pool.shutdown(cancel_futures=True)
    order = {name: i for i, name in enumerate(curricula)}
    result.runs.sort(key=lambda run: (order[run.curriculum], run.seed))
    result.wall_time_s = time.perf_counter() - start
    return result
