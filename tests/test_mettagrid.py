"""MettaGrid helpers: invariants across tasks, config helpers and the arena example."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import agora
from mettagrid_envs import small_arena
from optional_deps import require

require("mettagrid")

from agora.integrations import mettagrid as mg  # noqa: E402

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "mettagrid_arena.py"


def first_violation(generator: agora.TaskGeneratorConfig, tries: int = 64) -> tuple[int, str]:
    gen = generator.create()
    for task_id in range(tries):
        try:
            gen.get_task(task_id)
        except agora.InvariantViolation as exc:
            return task_id, str(exc)
    raise AssertionError(f"no invariant violation in {tries} tasks")


def test_a_bucket_that_changes_the_agent_count_is_rejected() -> None:
    gen = mg.bucketed(small_arena(num_agents=2)).add_bucket("game.num_agents", [2, 4])
    gen.add_bucket("game.map_builder.instance.agents", [2, 4])
    task_id, message = first_violation(gen)
    assert f"task {task_id}:" in message
    assert "'game.num_agents'" in message


def test_a_bucket_that_disables_an_action_is_rejected() -> None:
    gen = mg.bucketed(small_arena()).add_bucket("game.actions.noop.enabled", [True, False])
    _, message = first_violation(gen)
    assert "enabled actions" in message


def test_merged_generators_must_agree_with_each_other() -> None:
    two = mg.single_task(small_arena(num_agents=2))
    three = mg.single_task(small_arena(num_agents=3))
    _, message = first_violation(mg.merge([two, three]))
    assert "'game.num_agents'" in message


def test_buckets_that_keep_the_invariants_are_accepted() -> None:
    gen = (
        mg.bucketed(small_arena())
        .add_bucket("game.max_steps", [5, 50])
        .add_bucket("game.map_builder.width", [6, 9])
    )
    generator = gen.create()
    configs = [generator.get_task(task_id) for task_id in range(20)]
    assert {c.game.max_steps for c in configs} == {5, 50}
    assert {c.game.map_builder.width for c in configs} == {6, 9}


def test_helpers_attach_the_rule_once_and_survive_serialisation() -> None:
    gen = mg.bucketed(small_arena()).add_bucket("game.max_steps", [5, 50])
    assert [type(rule) for rule in gen.invariants] == [mg.MettaGridInvariants]
    merged = mg.merge([gen, mg.single_task(small_arena())])
    assert [type(rule) for rule in merged.invariants] == [mg.MettaGridInvariants]
    again = agora.TaskGeneratorConfig.from_json(merged.to_json())
    assert type(again.invariants[0]) is mg.MettaGridInvariants
    assert again.create().get_task(7) == merged.create().get_task(7)
    curriculum = mg.env_curriculum(small_arena(), num_active_tasks=4)
    assert type(curriculum.task_generator.invariants[0]) is mg.MettaGridInvariants


def test_helpers_take_a_label() -> None:
    arena = mg.bucketed(small_arena(), label="arena").add_bucket("game.max_steps", [5, 50])
    merged = mg.merge([arena, mg.single_task(small_arena(), label="fixed")], label="mg")
    assert {merged.create().generate(task_id).label for task_id in range(20)} == {"arena|mg", "fixed|mg"}


def test_the_rule_names_the_wrong_config_type() -> None:
    from pydantic import BaseModel

    class NotMettaGrid(BaseModel):
        x: int = 1

    with pytest.raises(TypeError, match="MettaGridConfig tasks, got NotMettaGrid"):
        mg.MettaGridInvariants().values(NotMettaGrid())


def load_example() -> ModuleType:
    spec = importlib.util.spec_from_file_location("mettagrid_arena", EXAMPLE)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_arena_example_buckets_reach_the_configs() -> None:
    require("pufferlib")
    example = load_example()
    generator = example.make_curriculum(example.make_env(num_agents=4)).task_generator.create()
    weights, caps, costs = set(), set(), set()
    for task_id in range(40):
        game = generator.get_task(task_id).game
        for item in example.ITEMS:
            weights.add(game.agent.rewards[item].weight)
            caps.add(game.agent.rewards[item].max)
        costs.add(game.actions.attack.consumed_resources["laser"])
    assert {0.0, 1.0} < weights
    assert all(0.1 <= w <= 0.9 for w in weights - {0.0, 1.0})  # drawn from the Span
    assert caps == {1.0, 2.0}
    assert costs == {1, 100}


def test_arena_example_runs() -> None:
    require("pufferlib")
    stats = load_example().main(
        ["--agents", "2", "--envs", "2", "--steps", "40", "--max-steps", "10", "--tasks", "50"]
    )
    assert stats["num_completed"] == 8  # 2 envs x 40 steps / 10-step episodes
