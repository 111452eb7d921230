"""A built-in test bed: a maze task family where curricula matter, and a learning agent."""

from agora.demo.agent import QLearningAgent
from agora.demo.env import ACTIONS, GridTask, GridTaskGenerator, GridWorld, Maze, maze
from agora.demo.run import (
    DemoConfig,
    DemoResult,
    RunResult,
    default_curricula,
    run_demo,
)

__all__ = [
    "ACTIONS",
    "DemoConfig",
    "DemoResult",
    "GridTask",
    "GridTaskGenerator",
    "GridWorld",
    "Maze",
    "QLearningAgent",
    "RunResult",
    "default_curricula",
    "maze",
    "run_demo",
]
