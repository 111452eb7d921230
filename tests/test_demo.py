"""The demo's task family, agent and harness."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from pydantic import ValidationError

from agora.algorithms import DiscreteRandomConfig, LearningProgressConfig, PLRConfig
from agora.bench.students import SyllabusArm
from agora.demo import (
    ACTIONS,
    DemoConfig,
    GridTask,
    GridTaskGenerator,
    GridWorld,
    QLearningAgent,
    maze,
    run_demo,
)
from agora.demo.env import step_limit
from agora.demo.run import evaluate, evaluation_set
from optional_deps import require


def _shortest_path(world: GridWorld, start: int) -> list[int]:
    """Actions that always step to a cell one closer to the goal."""
    m = world.maze
    actions, cell = [], start
    while cell != m.goal:
        action = next(a for a in range(4) if m.distance[m.next_cell[cell][a]] == m.distance[cell] - 1)
        actions.append(action)
        cell = m.next_cell[cell][action]
    return actions


@pytest.mark.parametrize("size", [2, 5, 12])
def test_maze_is_perfect_and_connected(size: int) -> None:
    m = maze(size, seed=3)
    assert all(d >= 0 for d in m.distance), "every cell reaches the goal"
    openings = sum(n != c for c, row in enumerate(m.next_cell) for n in row)
    assert openings == 2 * (size * size - 1), "a perfect maze is a spanning tree: cells - 1 passages"
    for cell, row in enumerate(m.next_cell):
        for action, nxt in enumerate(row):
            if nxt != cell:
                assert m.next_cell[nxt][action ^ 1] == cell, "passages go both ways"
                dr, dc = ACTIONS[action]
                assert nxt == cell + dr * size + dc


def test_layout_depends_only_on_size_and_seed() -> None:
    assert maze(9, 1).next_cell == maze(9, 1).__class__(9, 1).next_cell
    assert maze(9, 1).next_cell != maze(9, 2).next_cell


def test_optimal_path_succeeds_in_exactly_start_distance_steps() -> None:
    task = GridTask(size=10, start_distance=12, max_steps=12)
    world = GridWorld(task, random.Random(0))
    start = world.reset()
    assert world.maze.distance[start] == 12
    path = _shortest_path(world, start)
    assert len(path) == 12
    for i, action in enumerate(path):
        state, reward, terminated, truncated = world.step(action)
        assert (reward, terminated) == ((1.0, True) if i == len(path) - 1 else (0.0, False))
        assert not truncated
    assert state == world.maze.goal


def test_step_limit_truncates_and_walls_block() -> None:
    task = GridTask(size=6, start_distance=5, max_steps=3)
    world = GridWorld(task, random.Random(0))
    start = world.reset()
    blocked = [a for a in range(4) if world.maze.next_cell[start][a] == start]
    assert blocked, "a perfect-maze cell has at least one wall"
    assert world.step(blocked[0])[0] == start
    assert world.step(blocked[0])[3] is False
    state, reward, terminated, truncated = world.step(blocked[0])
    assert (state, reward, terminated, truncated) == (start, 0.0, False, True)


def test_start_distance_beyond_the_maze_uses_its_farthest_cells() -> None:
    world = GridWorld(GridTask(size=4, start_distance=1000), random.Random(0))
    assert world.maze.distance[world.reset()] == world.maze.max_distance


def test_task_validation_names_the_value() -> None:
    with pytest.raises(ValidationError, match="size"):
        GridTask(size=1)
    with pytest.raises(ValueError, match="epsilon"):
        QLearningAgent(epsilon=2.0)


def test_agent_learns_to_go_straight_home() -> None:
    practice = GridWorld(GridTask(size=8, start_distance=10, max_steps=400), random.Random(1))
    exam = GridWorld(GridTask(size=8, start_distance=10, max_steps=10), random.Random(1))
    agent = QLearningAgent(seed=1)
    starts = exam.maze.cells_at(10)

    def greedy_success() -> float:
        return sum(agent.run_episode(exam, learn=False, start=s)[0] for s in starts) / len(starts)

    assert greedy_success() < 0.5, "an untrained agent random-walks"
    for _ in range(300):
        agent.run_episode(practice)
    assert greedy_success() == 1.0, "a trained one takes the shortest path"


def test_agent_reports_the_mean_td_error_of_its_last_learning_episode() -> None:
    world = GridWorld(GridTask(size=5, start_distance=1, max_steps=50), random.Random(0))
    agent = QLearningAgent(learning_rate=1.0, epsilon=0.0, seed=0)
    reached, steps = agent.run_episode(world, start=world.maze.cells_at(1)[0])
    assert reached
    # Every step's error is 0 (all values 0) except the last, into the goal: 1 - 0.
    assert agent.td_error == pytest.approx(1.0 / steps)
    agent.run_episode(world, learn=False)
    assert agent.td_error == pytest.approx(1.0 / steps)  # evaluation leaves it as it was


def test_evaluation_does_not_learn() -> None:
    world = GridWorld(GridTask(size=5, start_distance=2, max_steps=50), random.Random(0))
    agent = QLearningAgent(seed=0)
    for _ in range(20):
        agent.run_episode(world, learn=False)
    assert all(v == 0.0 for row in agent.q_table(world.maze) for v in row)


def test_task_family_maps_ids_one_to_one_onto_combinations() -> None:
    config = GridTaskGenerator.Config(sizes=[4, 6], mazes=2, start_distances=[1, 3], step_factors=[0.5, 2])
    assert config.num_tasks == 16
    generator = config.create()
    tasks = [generator.get_task(i) for i in range(config.num_tasks)]
    assert len(set(tasks)) == 16
    assert {(t.size, t.maze_seed, t.start_distance) for t in tasks} == {
        (size, seed, d) for size in (4, 6) for seed in (0, 1) for d in (1, 3)
    }
    assert {(t.start_distance, t.max_steps) for t in tasks} == {(1, 1), (1, 2), (3, 2), (3, 6)}
    assert generator.get_task(config.num_tasks + 2) == tasks[2], "ids wrap around"
    task = generator.generate(3)
    assert task.bucket_values == {"size": 4, "maze_seed": 0, "start_distance": 3, "step_factor": 2}
    assert task.config.max_steps == 6


def test_step_limit_scales_with_the_capped_start_distance() -> None:
    small = maze(4)
    assert step_limit(small, 3, 2.0) == 6
    assert step_limit(small, 3, 0.5) == 2, "ceil(1.5): one move short of the distance, impossible"
    assert step_limit(small, 1, 0.5) == 1
    assert step_limit(small, 1000, 1.0) == small.max_distance


def test_default_family_has_trivial_learnable_and_impossible_tasks() -> None:
    config = GridTaskGenerator.Config()
    generator = config.create()
    tasks = [generator.get_task(i) for i in range(config.num_tasks)]
    impossible = [
        t for t in tasks if t.max_steps < min(t.start_distance, maze(t.size, t.maze_seed).max_distance)
    ]
    assert len(impossible) == config.num_tasks // 3 - len(config.sizes) * config.mazes, (
        "factor 0.5, except d=1"
    )
    assert {t.maze_seed for t in tasks} == {0, 1, 2, 3}


def test_demo_pool_holds_every_task_once_and_never_evicts() -> None:
    config = DemoConfig(
        family=GridTaskGenerator.Config(sizes=[5], mazes=1, start_distances=[1, 2, 30], step_factors=[0.5, 2])
    )
    curriculum = config.curriculum_config(LearningProgressConfig(), seed=0).make()
    assert sorted(curriculum.active_task_ids()) == list(range(6))
    for _ in range(500):
        task = curriculum.get_task()
        curriculum.update_task_performance(task.task_id, float(task.get_env_cfg().start_distance == 1))
    assert curriculum.stats()["num_evicted"] == 0


def test_evaluation_set_covers_every_task_equally() -> None:
    config = DemoConfig(
        family=GridTaskGenerator.Config(
            sizes=[5, 6], mazes=2, start_distances=[1, 4], step_factors=[0.5, 2, 6]
        ),
        eval_starts=3,
    )
    eval_set = evaluation_set(config)
    generator = config.family.create()
    family = {generator.get_task(i) for i in range(config.family.num_tasks)}
    judged = {
        GridTask(size=t.size, maze_seed=t.maze_seed, start_distance=t.start_distance, max_steps=limit)
        for t, starts, limits in eval_set
        for limit in limits
    }
    assert judged == family
    assert all(len(starts) == 3 and len(limits) == 3 for _, starts, limits in eval_set)
    for task, starts, _ in eval_set:
        m = maze(task.size, task.maze_seed)
        assert all(m.distance[s] == min(task.start_distance, m.max_distance) for s in starts)
    # An agent that knows every maze solves exactly the tasks whose limit is not below the distance.
    agent = QLearningAgent(seed=0)
    for task, _, _ in eval_set:
        m = maze(task.size, task.maze_seed)
        q = agent.q_table(m)
        for cell in range(m.num_cells):
            for action in range(4):
                nxt = m.next_cell[cell][action]
                q[cell][action] = 1.0 if m.distance[nxt] < m.distance[cell] else 0.0
    solvable = sum(
        t.max_steps >= min(t.start_distance, maze(t.size, t.maze_seed).max_distance) for t in family
    )
    assert evaluate(agent, config, eval_set) == pytest.approx(solvable / len(family))


def test_run_demo_reports_curves_and_shares() -> None:
    config = DemoConfig(
        family=GridTaskGenerator.Config(
            sizes=[6], mazes=1, start_distances=[1, 4, 30], step_factors=[0.4, 2]
        ),
        env_steps=3000,
        num_evals=3,
        seeds=2,
        workers=1,
    )
    result = run_demo(
        config, {"a": DiscreteRandomConfig(), "uniform": DiscreteRandomConfig()}, progress=False
    )
    assert [(r.curriculum, r.seed) for r in result.runs] == [
        ("a", 0),
        ("a", 1),
        ("uniform", 0),
        ("uniform", 1),
    ]
    assert result.success("a").shape == (2, 4)
    assert config.eval_steps == [0, 1000, 2000, 3000]
    distances, shares = result.distance_shares("uniform")
    assert distances == [1, 4, 30]
    assert shares.sum(axis=1) == pytest.approx([1, 1, 1])
    # Factor 0.4 makes distances 4 and 30 (capped at the farthest cell) impossible.
    assert maze(6).max_distance > 10
    assert all(0 < r.impossible_step_share < 1 for r in result.runs)
    summary = result.summary()
    assert set(summary["curricula"]) == {"a", "uniform"}
    assert summary["curricula"]["a"]["runs"][0]["success"] == result.runs[0].success


def test_run_demo_runs_plr_by_td_error_and_syllabus_side_by_side() -> None:
    require("syllabus")
    config = DemoConfig(
        family=GridTaskGenerator.Config(sizes=[6], mazes=1, start_distances=[1, 4], step_factors=[2]),
        env_steps=1500,
        num_evals=2,
        seeds=1,
        workers=1,
    )
    arms = {"plr": PLRConfig(), "syllabus": SyllabusArm(), "uniform": DiscreteRandomConfig()}
    result = run_demo(config, arms, progress=False)
    assert result.curricula == ["plr", "syllabus", "uniform"]
    assert all(len(run.success) == 3 and run.episodes > 0 for run in result.runs)
    summary = result.summary()
    assert "comparison" not in summary  # it compares learning progress with uniform
    assert set(summary["comparisons"]) == {"plr", "syllabus"}  # every other curriculum with uniform
    assert summary["comparisons"]["plr"]["candidate"] == "plr"


def test_comparison_interpolates_between_evaluations() -> None:
    config = DemoConfig(env_steps=200, num_evals=2, seeds=1)
    from agora.demo.run import DemoResult, RunResult

    def run(name: str, success: list[float]) -> RunResult:
        return RunResult(name, 0, success, [{}, {}], 10, 0.0)

    result = DemoResult(config, [run("learning_progress", [0.0, 0.8, 0.9]), run("uniform", [0.0, 0.2, 0.4])])
    comparison = result.comparison()
    assert comparison["baseline_final_success"] == pytest.approx(0.4)
    assert comparison["baseline_steps_to_final"] == pytest.approx(200)
    assert comparison["candidate_steps_to_baseline_final"] == pytest.approx(50)
    assert comparison["step_ratio"] == pytest.approx(0.25)


def test_plot_marks_uniform_final_success_and_colours_every_curve(tmp_path: Path) -> None:
    require("matplotlib")
    from agora.demo.plot import demo_figure, plot_demo
    from agora.demo.run import DemoResult, RunResult

    def run(name: str, success: list[float]) -> RunResult:
        return RunResult(name, 0, success, [{1: 3}, {1: 2, 4: 1}], 10, 0.0)

    config = DemoConfig(env_steps=200, num_evals=2, seeds=1)
    result = DemoResult(
        config,
        [
            run("learning_progress", [0.0, 0.8, 0.9]),
            run("uniform", [0.0, 0.2, 0.4]),
            run("third", [0.0, 0.1, 0.2]),
        ],
    )
    ax = demo_figure(result).axes[0]
    curves = [line for line in ax.get_lines() if len(line.get_xdata()) == 3]
    assert len({line.get_color() for line in curves}) == 3, "each curriculum has its own colour"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert "uniform's final success (0.400)" in legend
    assert "learning_progress (mean of 1), dotted line after 50 steps" in legend
    assert "third (mean of 1)" in legend, "a curve that never reaches it gets no mark"
    marks = [
        (line.get_xdata()[0], line.get_ydata()[0]) for line in ax.get_lines() if line.get_marker() == "o"
    ]
    assert sorted((round(x), round(y, 9)) for x, y in marks) == [(50, 0.4), (200, 0.4)]
    assert plot_demo(result, tmp_path / "demo.png").read_bytes()[:4] == b"\x89PNG"


def test_summary_carries_version_and_wall_time() -> None:
    from agora import __version__

    config = DemoConfig(
        family=GridTaskGenerator.Config(sizes=[6], mazes=1, start_distances=[1, 4], step_factors=[2]),
        env_steps=500,
        num_evals=1,
        seeds=1,
        workers=1,
    )
    summary = run_demo(config, {"uniform": DiscreteRandomConfig()}, progress=False).summary()
    assert summary["agora_version"] == __version__
    assert summary["wall_time_s"] > 0
