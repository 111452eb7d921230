"""A family of maze tasks where the curriculum matters.

Every task is a :class:`GridTask`: reach the goal of a ``size`` x ``size`` maze from a start
``start_distance`` moves away, within ``max_steps`` moves. Rewards are sparse (1 at the goal,
0 otherwise), so an agent that has not learnt yet only finds the goal by a random walk, and a
random walk in a maze rarely gets far: near starts are trivial, far ones are out of reach
until values learnt nearer the goal lead the way, and a task whose ``max_steps`` is below its
``start_distance`` can never be solved. Practising at the edge of the agent's ability pays.

The family (:class:`GridTaskGenerator`) crosses maze sizes, several layouts per size, start
distances and step factors (the step limit is a multiple of the start distance).

Mazes are perfect (one path between any two cells, carved by a seeded depth-first search)
with the goal in cell 0 (the top-left corner); a layout depends only on ``(size, maze_seed)``
and is built once per process.
"""

from __future__ import annotations

import math
import random
from collections import deque
from functools import lru_cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agora.generators import GeneratedTask, TaskGenerator, TaskGeneratorConfig

__all__ = ["ACTIONS", "GridTask", "GridTaskGenerator", "GridWorld", "Maze", "maze", "step_limit"]

ACTIONS = ((-1, 0), (1, 0), (0, -1), (0, 1))
"""Moves as (row, column) offsets: up, down, left, right. An action is an index into this."""


class GridTask(BaseModel):
    """One task: a maze layout, how far from the goal the agent starts, and the step limit."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    size: int = Field(default=8, ge=2, le=64, description="The maze is size x size cells.")
    start_distance: int = Field(
        default=4,
        ge=1,
        description="Shortest-path moves from the start to the goal (capped at the maze's farthest cell).",
    )
    max_steps: int = Field(default=64, ge=1, description="Moves allowed before the episode fails.")
    maze_seed: int = Field(default=0, ge=0, description="Seeds the maze layout.")


class Maze:
    """A perfect maze: its transition table and every cell's shortest distance to the goal."""

    def __init__(self, size: int, seed: int) -> None:
        self.size = size
        self.seed = seed
        self.num_cells = size * size
        self.goal = 0
        open_moves = _carve(size, random.Random(f"agora-maze-{size}-{seed}"))
        # next_cell[c][a]: the cell after action a in cell c (walls keep the agent in place).
        self.next_cell: list[list[int]] = [
            [c + dr * size + dc if a in open_moves[c] else c for a, (dr, dc) in enumerate(ACTIONS)]
            for c in range(self.num_cells)
        ]
        self.distance = self._distances()
        self.max_distance = max(self.distance)
        self._by_distance: dict[int, list[int]] = {}
        for cell, d in enumerate(self.distance):
            self._by_distance.setdefault(d, []).append(cell)

    def cells_at(self, distance: int) -> list[int]:
        """Cells exactly ``distance`` moves from the goal (the farthest ones if ``distance`` is larger)."""
        return self._by_distance[min(distance, self.max_distance)]

    def _distances(self) -> list[int]:
        distance = [-1] * self.num_cells
        distance[self.goal] = 0
        queue = deque([self.goal])
        while queue:
            cell = queue.popleft()
            for nxt in self.next_cell[cell]:
                if distance[nxt] < 0:
                    distance[nxt] = distance[cell] + 1
                    queue.append(nxt)
        return distance


def _carve(size: int, rng: random.Random) -> list[set[int]]:
    """Open moves per cell of a maze carved by randomised depth-first search."""
    open_moves: list[set[int]] = [set() for _ in range(size * size)]
    visited = [False] * (size * size)
    stack = [0]
    visited[0] = True
    while stack:
        cell = stack[-1]
        row, col = divmod(cell, size)
        options = [
            (a, (row + dr) * size + col + dc)
            for a, (dr, dc) in enumerate(ACTIONS)
            if 0 <= row + dr < size and 0 <= col + dc < size and not visited[(row + dr) * size + col + dc]
        ]
        if not options:
            stack.pop()
            continue
        action, nxt = rng.choice(options)
        open_moves[cell].add(action)
        open_moves[nxt].add(action ^ 1)  # the opposite move: up<->down, left<->right
        visited[nxt] = True
        stack.append(nxt)
    return open_moves


@lru_cache(maxsize=64)
def maze(size: int, seed: int = 0) -> Maze:
    """The maze for ``(size, seed)``, built once per process."""
    return Maze(size, seed)


class GridWorld:
    """The environment of one :class:`GridTask`; states are cell indices of its maze."""

    def __init__(self, task: GridTask, rng: random.Random) -> None:
        self.task = task
        self.maze = maze(task.size, task.maze_seed)
        self._rng = rng
        self._starts = self.maze.cells_at(task.start_distance)
        self.state = self.maze.goal
        self.steps = 0

    def reset(self, start: int | None = None) -> int:
        """Start an episode in ``start``, or in a random cell at the task's start distance."""
        self.state = self._rng.choice(self._starts) if start is None else start
        self.steps = 0
        return self.state

    def step(self, action: int) -> tuple[int, float, bool, bool]:
        """Move; returns ``(state, reward, terminated, truncated)`` as in gymnasium."""
        self.state = self.maze.next_cell[self.state][action]
        self.steps += 1
        if self.state == self.maze.goal:
            return self.state, 1.0, True, False
        return self.state, 0.0, False, self.steps >= self.task.max_steps


def step_limit(maze: Maze, start_distance: int, factor: float) -> int:
    """The step limit ``ceil(factor * d)`` (at least 1), with ``d`` the start distance capped at
    the maze's farthest cell."""
    return max(1, math.ceil(factor * min(start_distance, maze.max_distance)))


class GridTaskGenerator(TaskGenerator[GridTask]):
    """The demo's task family: task id ``i`` is the ``i``-th combination of sizes, maze layouts,
    start distances and step factors (ids wrap around modulo the number of combinations).

    A task's step limit is its step factor times its start distance (see :func:`step_limit`):
    a factor below 1 makes the task impossible, a factor of 2 or more leaves room to explore.
    With ``CurriculumConfig(max_task_id=config.num_tasks, num_active_tasks=config.num_tasks)`` the
    pool holds every task exactly once, so uniform sampling really is uniform over the family.
    ``bucket_values`` of a generated task say which combination it is.
    """

    class Config(TaskGeneratorConfig["GridTaskGenerator"]):
        sizes: list[int] = Field(default=[16, 24, 32], min_length=1)
        mazes: int = Field(
            default=4, ge=1, description="Layouts per size: maze seeds maze_seed, ..., maze_seed + mazes - 1."
        )
        start_distances: list[int] = Field(default=[1, 2, 4, 8, 16, 32, 64, 128], min_length=1)
        step_factors: list[float] = Field(
            default=[0.5, 2.0, 6.0],
            min_length=1,
            description="Step limit = ceil(factor x start distance); below 1 the task is impossible.",
        )
        maze_seed: int = Field(default=0, ge=0)

        @property
        def num_tasks(self) -> int:
            return len(self.sizes) * self.mazes * len(self.start_distances) * len(self.step_factors)

    config: Config

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[GridTask]:
        cfg = self.config
        rest, factor = divmod(task_id % cfg.num_tasks, len(cfg.step_factors))
        rest, distance = divmod(rest, len(cfg.start_distances))
        size, layout = divmod(rest, cfg.mazes)
        values: dict[str, Any] = {
            "size": cfg.sizes[size],
            "maze_seed": cfg.maze_seed + layout,
            "start_distance": cfg.start_distances[distance],
            "step_factor": cfg.step_factors[factor],
        }
        limit = step_limit(
            maze(values["size"], values["maze_seed"]), values["start_distance"], values["step_factor"]
        )
        task = {k: v for k, v in values.items() if k != "step_factor"}
        return GeneratedTask(task_id, lambda: GridTask(max_steps=limit, **task), bucket_values=values)
