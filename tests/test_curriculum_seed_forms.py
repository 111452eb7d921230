"""The seed system's forms of CurriculumConfig and CurriculumTask (issue #15)."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

import agora
from agora.algorithms import DiscreteRandomConfig, LearningProgressConfig


class Maze(BaseModel):
    size: int = 5


def test_no_algorithm_is_uniform_sampling() -> None:
    config = agora.CurriculumConfig(task_generator=agora.single_task(Maze()), algorithm_config=None)
    assert isinstance(config.algorithm_config, DiscreteRandomConfig)


def test_the_algorithm_configs_pool_size_sizes_an_unsized_curriculum() -> None:
    config = agora.CurriculumConfig(
        task_generator=agora.single_task(Maze()),
        algorithm_config={"type": "learning_progress", "num_active_tasks": 12},
    )
    assert config.num_active_tasks == 12
    assert len(config.make().active_task_ids()) == 12
    with pytest.raises(ValidationError, match="num_active_tasks is 8 on the CurriculumConfig but 12"):
        agora.CurriculumConfig(
            task_generator=agora.single_task(Maze()),
            num_active_tasks=8,
            algorithm_config=LearningProgressConfig(num_active_tasks=12),
        )


def test_from_mg_is_a_single_task_curriculum() -> None:
    config = agora.CurriculumConfig.from_mg(Maze(size=7))
    assert config.model_dump() == agora.env_curriculum(Maze(size=7)).model_dump()


def test_a_task_made_on_its_own_holds_its_config_and_counts() -> None:
    maze = Maze(size=9)
    task = agora.CurriculumTask(123, maze)
    assert task.task_id == 123
    assert task.get_env_cfg() is maze
    assert (task.num_completions, task.mean_score) == (0, 0.0)
    task.complete(0.5)
    assert (task.num_completions, task.mean_score) == (1, 0.5)
    task.complete(1.0)  # no curriculum handed it out for one episode: every report counts
    assert (task.num_completions, task.mean_score) == (2, 0.75)
    with pytest.raises(ValueError, match="score for task 7 is inf"):
        agora.CurriculumTask(7, maze).complete(float("inf"))
    with pytest.raises(TypeError, match="task ids are ints"):
        agora.CurriculumTask("seven", maze)  # type: ignore[arg-type]
