"""Task generators: determinism, overrides, buckets, sets, invariants, serialisation."""

from __future__ import annotations

import multiprocessing
import random
import re
from collections import Counter
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from agora import (
    BucketedTaskGenerator,
    ConstantFields,
    CurriculumConfig,
    InvariantRule,
    InvariantViolation,
    SingleTaskGenerator,
    Span,
    TaskGenerator,
    TaskGeneratorConfig,
    TaskGeneratorSet,
    bucketed,
    merge,
    single_task,
)
from agora.generators import GeneratedTask
from agora.generators.rng import TaskRandom
from core_models import AgentConfig, GameConfig, MazeConfig, generate_dumps


class SizeRangeGenerator(TaskGenerator[MazeConfig]):
    """A user-defined generator: maze size drawn uniformly from ``[min_size, max_size]``."""

    class Config(TaskGeneratorConfig["SizeRangeGenerator"]):
        min_size: int = 3
        max_size: int = 9

    def _generate(self, task_id: int, rng: random.Random) -> GeneratedTask[MazeConfig]:
        size = rng.randint(self.config.min_size, self.config.max_size)  # type: ignore[attr-defined]
        return GeneratedTask(task_id, lambda: MazeConfig(size=size, name=f"user-{size}"))


class TaggedSizeRangeConfig(SizeRangeGenerator.Config):
    """A Config subclass with an extra field: it must serialise under its own import path."""

    tag: str = "none"


class AgentCount(InvariantRule):
    """A user-defined invariant rule (round-trips by import path like generators do)."""

    def values(self, config: BaseModel) -> dict[str, Any]:
        return {"agents": config.num_agents}  # type: ignore[attr-defined]


def nested_config() -> TaskGeneratorSet.Config:
    """Set of (Bucketed of Single, Bucketed of Single, user generator), with every feature."""
    maze = (
        BucketedTaskGenerator.Config(
            child_generator_config=SingleTaskGenerator.Config(
                env=MazeConfig(), label="maze", overrides={"name": "bucketed-maze"}
            ),
            label="sized",
        )
        .add_bucket("size", [Span(3, 9), 11, 13])
        .add_bucket("wall_density", [Span(0.0, 0.5), 0.9])
    )
    game = (
        bucketed(GameConfig())
        .add_bucket("agent.speed", [0.5, Span(1.0, 2.0)])
        .add_bucket("objects.altar.hp", [1, 2, 3])
        .add_bucket("rewards.heart", [Span(0.25, 4)])
    )
    game.overrides = {"rewards.ore": 0.0, "agent.inventory.ore": 2}
    game.invariants = [ConstantFields(paths=["num_agents", "agent.vision"]), AgentCount()]
    game.label = "game"
    everything = merge([maze, game, SizeRangeGenerator.Config(max_size=20, label="user")], [2.0, 1.0, 0.5])
    everything.label = "all"
    return everything


def snapshot(generator: TaskGenerator[Any], task_ids: range) -> list[tuple[Any, ...]]:
    out = []
    for task_id in task_ids:
        task = generator.generate(task_id)
        out.append((task.label, task.bucket_values, task.config))
    return out


# -- TaskGenerator basics -------------------------------------------------------------------


def test_nested_config_class_is_bound_to_its_generator() -> None:
    assert isinstance(SingleTaskGenerator.Config(env=MazeConfig()).create(), SingleTaskGenerator)
    assert isinstance(bucketed(MazeConfig()).add_bucket("size", [1]).create(), BucketedTaskGenerator)
    assert isinstance(merge([single_task(MazeConfig())]).create(), TaskGeneratorSet)
    assert isinstance(SizeRangeGenerator.Config().create(), SizeRangeGenerator)


def test_unbound_config_cannot_create() -> None:
    class Orphan(TaskGeneratorConfig[Any]):
        pass

    with pytest.raises(TypeError, match="Orphan is not bound"):
        Orphan().create()


def test_get_task_is_deterministic_in_this_process() -> None:
    config = nested_config()
    first, second = config.create(), config.create()
    for task_id in (0, 1, 17, 2**40 + 3):
        assert first.get_task(task_id) == second.get_task(task_id) == first.get_task(task_id)
    assert len({first.get_task(i).model_dump_json() for i in range(50)}) > 25


def test_numpy_integer_ids_are_ids() -> None:
    generator = nested_config().create()
    assert generator.get_task(np.int64(12)) == generator.get_task(12)
    assert generator.get_task(np.uint32(7)) == generator.get_task(7)
    with pytest.raises(TypeError):
        generator.get_task(12.0)  # type: ignore[arg-type]


def test_get_task_is_deterministic_across_processes() -> None:
    """A spawned interpreter (fresh imports, another hash seed) rebuilds equal configs."""
    config = nested_config()
    task_ids = [*range(40), 123_456_789, 2**31 - 2]
    here = [config.create().get_task(task_id).model_dump() for task_id in task_ids]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply(generate_dumps, (config.to_json(), task_ids))
        pool.close()  # let the worker exit normally (terminate() would cut off its coverage data)
        pool.join()
    assert there == here


def test_generated_task_builds_its_config_once() -> None:
    task = bucketed(GameConfig()).add_bucket("width", [Span(5, 50)]).create().generate(3)
    assert task.config is task.config
    assert task.config.width == task.bucket_values["width"]


def test_label_is_optional_and_composes_from_leaf_to_root() -> None:
    generator = nested_config().create()
    labels = Counter(generator.generate(task_id).label for task_id in range(300))
    assert set(labels) == {"maze|sized|all", "game|all", "user|all"}
    assert generator.has_labels
    unlabelled = merge([bucketed(MazeConfig()).add_bucket("size", [1, 2])]).create()
    assert not unlabelled.has_labels
    assert unlabelled.generate(0).label is None


def test_helpers_take_a_label() -> None:
    maze = bucketed(MazeConfig(), label="maze").add_bucket("size", [1, 2])
    game = single_task(GameConfig(), label="game")
    everything = merge([maze, game], label="all")
    assert (maze.label, game.label, everything.label) == ("maze", "game", "all")
    labels = {everything.create().generate(task_id).label for task_id in range(50)}
    assert labels == {"maze|all", "game|all"}
    curriculum = CurriculumConfig(task_generator=everything, num_active_tasks=8).make()
    assert {key for key in curriculum.stats() if key.startswith("label/")} >= {
        "label/maze|all/num_active",
        "label/game|all/num_active",
    }


def test_overrides_apply_to_every_task() -> None:
    config = single_task(GameConfig())
    config.overrides = {"agent.speed": 3.0, "rewards.heart": 0.5, "objects.mine.hp": 7}
    task = config.create().get_task(11)
    assert task.agent.speed == 3.0
    assert task.rewards["heart"] == 0.5
    assert task.objects["mine"].hp == 7


@pytest.mark.parametrize("path", ["agent.sped", "objects.tower.hp", "num_agent"])
def test_override_of_missing_path_is_a_clear_error(path: str) -> None:
    config = single_task(GameConfig())
    config.overrides = {path: 1}
    with pytest.raises(KeyError, match=f"override path '{path}' does not exist"):
        config.create().get_task(0)


def test_single_task_returns_a_deep_copy() -> None:
    source = GameConfig()
    generator = single_task(source).create()
    first = generator.get_task(1)
    first.agent.speed = 99.0
    first.agent.inventory["ore"] = 50
    first.rewards["heart"] = -1.0
    first.objects["altar"].hp = 0
    for task in (generator.get_task(1), generator.get_task(2), source):
        assert task == GameConfig()


def test_single_task_keeps_its_own_copy_of_the_source() -> None:
    source = GameConfig()
    config = single_task(source)
    source.width = 99
    source.rewards["heart"] = 7.0
    assert config.create().get_task(0) == GameConfig()
    assert config == single_task(GameConfig())


def test_single_task_env_given_as_dict_needs_its_type() -> None:
    with pytest.raises(ValidationError, match="env_type"):
        SingleTaskGenerator.Config(env={"size": 3})  # type: ignore[arg-type]
    config = SingleTaskGenerator.Config(env={"size": 3}, env_type="core_models.MazeConfig")  # type: ignore[arg-type]
    assert config.create().get_task(0) == MazeConfig(size=3)


def test_task_random_matches_splitmix64_reference_values() -> None:
    """Fixed outputs (SplitMix64 test vectors): the same ids give the same tasks on any platform."""
    assert [TaskRandom(0).getrandbits(64), TaskRandom(1234567).getrandbits(64)] == [
        0xE220A8397B1DCDAF,
        6457827717110365317,
    ]
    rng = TaskRandom(1234567)
    assert [rng.getrandbits(64) for _ in range(3)] == [
        6457827717110365317,
        3203168211198807973,
        9817491932198370423,
    ]


def test_task_random_draws_integers_by_multiply_shift() -> None:
    """randrange, choice and friends scale one 64-bit output: pinned, so task configs never drift."""
    rng = TaskRandom(1234567)
    assert [rng.randrange(10), rng.randrange(1000), rng.choice("abcdefgh")] == [
        (6457827717110365317 * 10) >> 64,
        (3203168211198807973 * 1000) >> 64,
        "abcdefgh"[(9817491932198370423 * 8) >> 64],
    ]
    counts = Counter(rng.randrange(3) for _ in range(30_000))
    assert sorted(counts) == [0, 1, 2]
    assert min(counts.values()) > 9_500
    big = [rng.randrange(3 * 2**70) for _ in range(200)]  # beyond 64 bits: rejection sampling
    assert 2**70 < max(big) < 3 * 2**70


def test_task_random_keeps_the_random_interface() -> None:
    rng = TaskRandom(42)
    state = rng.getstate()
    draws = [rng.random(), rng.randint(1, 6), rng.choice("abc"), rng.uniform(2.0, 3.0), rng.getrandbits(130)]
    assert 0.0 <= draws[0] < 1.0
    assert draws[1] in range(1, 7)
    assert 2.0 <= draws[3] <= 3.0
    assert draws[4] < 2**130
    assert rng.getrandbits(0) == 0
    rng.setstate(state)
    assert [
        rng.random(),
        rng.randint(1, 6),
        rng.choice("abc"),
        rng.uniform(2.0, 3.0),
        rng.getrandbits(130),
    ] == draws
    items = list(range(10))
    TaskRandom(1).shuffle(items)
    assert sorted(items) == list(range(10))
    with pytest.raises(ValueError, match="non-negative"):
        rng.getrandbits(-1)
    with pytest.raises(TypeError, match="needs an int seed"):
        TaskRandom("task-1")  # type: ignore[arg-type]


# -- BucketedTaskGenerator ------------------------------------------------------------------


def test_buckets_draw_values_and_report_them() -> None:
    generator = (
        bucketed(GameConfig())
        .add_bucket("width", [8, 16, 32])
        .add_bucket("agent.vision", [Span(1, 3)])
        .add_bucket("rewards.heart", [0.0, 1.0])
        .create()
    )
    seen: dict[str, set[Any]] = {"width": set(), "agent.vision": set(), "rewards.heart": set()}
    for task_id in range(200):
        task = generator.generate(task_id)
        values = task.bucket_values
        assert set(values) == set(seen)
        assert task.config.width == values["width"]
        assert task.config.agent.vision == values["agent.vision"]
        assert task.config.rewards["heart"] == values["rewards.heart"]
        for path, value in values.items():
            seen[path].add(value)
    assert seen == {"width": {8, 16, 32}, "agent.vision": {1, 2, 3}, "rewards.heart": {0.0, 1.0}}


def test_nested_buckets_report_values_of_every_level() -> None:
    inner = bucketed(MazeConfig()).add_bucket("size", [4, 5])
    outer = BucketedTaskGenerator.Config(child_generator_config=inner).add_bucket("name", ["a", "b"])
    task = outer.create().generate(9)
    assert set(task.bucket_values) == {"size", "name"}
    assert (task.config.size, task.config.name) == (task.bucket_values["size"], task.bucket_values["name"])


def test_span_samples_ints_for_int_bounds_and_floats_otherwise() -> None:
    def sample(span: Span) -> list[Any]:
        generator = bucketed(MazeConfig()).add_bucket("wall_density", [span]).create()
        return [generator.generate(task_id).bucket_values["wall_density"] for task_id in range(300)]

    ints = sample(Span(1, 3))
    assert all(type(value) is int for value in ints)
    assert set(ints) == {1, 2, 3}
    for span in (Span(1.0, 3.0), Span(1, 3.0), Span(range_min=0.5, range_max=2)):
        floats = sample(span)
        assert all(type(value) is float and span.range_min <= value <= span.range_max for value in floats)
        assert len(set(floats)) == len(floats)
    assert str(Span(1, 3)) == "1-3"


@pytest.mark.parametrize(("low", "high"), [(5, 1), (2, 2), (0.5, 0.25)])
def test_span_needs_min_below_max(low: float, high: float) -> None:
    with pytest.raises(ValidationError, match="range_min < range_max"):
        Span(low, high)


def test_add_bucket_rejects_a_duplicate_path() -> None:
    config = bucketed(MazeConfig()).add_bucket("size", [1, 2])
    with pytest.raises(ValueError, match="bucket 'size' already exists"):
        config.add_bucket("size", [3])
    assert config.buckets == {"size": [1, 2]}


def test_empty_buckets_are_errors() -> None:
    with pytest.raises(ValidationError, match="bucket 'size' has no values"):
        bucketed(MazeConfig()).add_bucket("size", [])
    with pytest.raises(ValueError, match="at least one bucket"):
        bucketed(MazeConfig()).create()


def test_bucket_with_missing_path_names_it() -> None:
    generator = bucketed(GameConfig()).add_bucket("agent.colour", ["red"]).create()
    with pytest.raises(KeyError, match=r"'agent\.colour'"):
        generator.get_task(0)


# -- TaskGeneratorSet -----------------------------------------------------------------------


def test_set_frequencies_follow_weights() -> None:
    config = TaskGeneratorSet.Config()
    for name, weight in (("a", 1.0), ("b", 2.0), ("c", 5.0)):
        config.add(single_task(MazeConfig(name=name)), weight)
    generator = config.create()
    n = 8000
    counts = Counter(generator.get_task(task_id).name for task_id in range(n))
    assert counts["a"] / n == pytest.approx(1 / 8, abs=0.02)
    assert counts["b"] / n == pytest.approx(2 / 8, abs=0.02)
    assert counts["c"] / n == pytest.approx(5 / 8, abs=0.02)


def test_merge_defaults_to_equal_weights() -> None:
    config = merge([single_task(MazeConfig(name="a")), single_task(MazeConfig(name="b"))])
    assert config.weights == [1.0, 1.0]
    counts = Counter(config.create().get_task(task_id).name for task_id in range(2000))
    assert counts["a"] / 2000 == pytest.approx(0.5, abs=0.04)


@pytest.mark.parametrize("weight", [0.0, -1.0, float("nan"), float("inf")])
def test_set_weights_must_be_positive_and_finite(weight: float) -> None:
    with pytest.raises(ValueError, match="weight"):
        TaskGeneratorSet.Config().add(single_task(MazeConfig()), weight)
    with pytest.raises(ValidationError, match="weights must all be positive and finite"):
        merge([single_task(MazeConfig()), single_task(MazeConfig())], [1.0, weight])


def test_set_weights_must_match_generators() -> None:
    with pytest.raises(ValidationError, match="1 weights for 2 task generators"):
        merge([single_task(MazeConfig()), single_task(MazeConfig())], [1.0])
    config = merge([single_task(MazeConfig())])
    config.weights.append(2.0)  # in-place edits bypass validation; create() re-checks
    with pytest.raises(ValueError, match="2 weights for 1 task generators"):
        config.create()
    with pytest.raises(ValueError, match="at least one task generator"):
        TaskGeneratorSet.Config().create()


# -- invariants -----------------------------------------------------------------------------


def ids_by_bucket_value(generator: TaskGenerator[Any], path: str) -> dict[Any, list[int]]:
    """Task ids in ``range(100)`` grouped by the value drawn for bucket ``path``."""
    out: dict[Any, list[int]] = {}
    for task_id in range(100):
        out.setdefault(generator.generate(task_id).bucket_values[path], []).append(task_id)
    return out


def test_invariant_violation_names_task_and_field() -> None:
    config = bucketed(GameConfig()).add_bucket("num_agents", [2, 4])
    config.invariants = [ConstantFields(paths=["num_agents"])]
    generator = config.create()
    groups = ids_by_bucket_value(generator, "num_agents")
    for task_id in groups[2]:  # the first task sets the reference; equal values pass
        generator.get_task(task_id)
    bad = groups[4][0]
    with pytest.raises(InvariantViolation, match=rf"task {bad}: 'num_agents' is 4 but must stay 2"):
        generator.get_task(bad)


@pytest.mark.parametrize(("path", "values"), [("agent.vision", [1, 2]), ("rewards.heart", [0.5, 2.0])])
def test_invariants_on_nested_paths(path: str, values: list[Any]) -> None:
    config = bucketed(GameConfig()).add_bucket(path, values)
    config.invariants = [ConstantFields(paths=["width", path])]
    generator = config.create()
    groups = ids_by_bucket_value(generator, path)
    generator.get_task(groups[values[0]][0])
    bad = groups[values[1]][0]
    with pytest.raises(InvariantViolation, match=rf"task {bad}: '{re.escape(path)}' is {values[1]}"):
        generator.get_task(bad)


def test_invariants_that_hold_never_fire() -> None:
    config = bucketed(GameConfig()).add_bucket("width", [Span(5, 50)])
    config.invariants = [ConstantFields(paths=["num_agents", "rewards.heart"]), AgentCount()]
    generator = config.create()
    assert {generator.get_task(task_id).num_agents for task_id in range(100)} == {4}


def test_custom_invariant_rule() -> None:
    config = bucketed(GameConfig()).add_bucket("num_agents", [1, 2])
    config.invariants = [AgentCount()]
    generator = config.create()
    groups = ids_by_bucket_value(generator, "num_agents")
    generator.get_task(groups[1][0])
    with pytest.raises(InvariantViolation, match=r"'agents' is 2 but must stay 1 .*\(AgentCount\)"):
        generator.get_task(groups[2][0])


@pytest.mark.parametrize(
    ("path", "missing"), [("widht", "widht"), ("agent.sped", "sped"), ("rewards.gem", "gem")]
)
def test_constant_fields_path_must_exist(path: str, missing: str) -> None:
    config = single_task(GameConfig())
    config.invariants = [ConstantFields(paths=[path])]
    with pytest.raises(
        KeyError, match=rf"invariant path '{re.escape(path)}' does not exist: no field '{missing}'"
    ):
        config.create().get_task(0)


def test_constant_fields_needs_a_path() -> None:
    with pytest.raises(ValidationError):
        ConstantFields(paths=[])


# -- serialisation --------------------------------------------------------------------------


def test_nested_generator_round_trips_through_json_and_yaml() -> None:
    config = nested_config()
    reference = snapshot(config.create(), range(300))
    for text, load in (
        (config.to_json(), TaskGeneratorSet.Config.from_json),
        (config.to_yaml(), TaskGeneratorSet.Config.from_yaml),
    ):
        loaded = load(text)
        assert loaded == config
        assert loaded.to_json() == config.to_json()
        assert snapshot(loaded.create(), range(300)) == reference
    base_loaded = TaskGeneratorConfig.from_yaml(config.to_yaml())
    assert isinstance(base_loaded, TaskGeneratorSet.Config)


def test_serialised_form_names_types_by_import_path() -> None:
    data = yaml.safe_load(nested_config().to_yaml())
    assert data["type"] == "agora.generators.set.TaskGeneratorSet"
    maze, game, user = data["task_generators"]
    assert maze["type"] == "agora.generators.bucketed.BucketedTaskGenerator"
    assert maze["child_generator_config"]["env_type"] == "core_models.MazeConfig"
    assert maze["buckets"]["size"][0] == {"range_min": 3, "range_max": 9}
    assert game["invariants"][1] == {"type": "test_generators.AgentCount"}
    assert user == {
        "type": "test_generators.SizeRangeGenerator",
        "label": "user",
        "overrides": {},
        "invariants": [],
        "min_size": 3,
        "max_size": 20,
    }


def test_float_span_bounds_stay_floats_after_round_trip() -> None:
    config = bucketed(AgentConfig()).add_bucket("speed", [Span(1.0, 2.0)])
    for loaded in (
        BucketedTaskGenerator.Config.from_json(config.to_json()),
        BucketedTaskGenerator.Config.from_yaml(config.to_yaml()),
    ):
        span = loaded.buckets["speed"][0]
        assert isinstance(span, Span)
        assert type(span.range_min) is float
        assert type(span.range_max) is float


def test_generator_round_trips_inside_curriculum_config() -> None:
    config = nested_config().to_curriculum(num_active_tasks=32, seed=5)
    loaded = CurriculumConfig.model_validate_json(config.model_dump_json())
    assert loaded == config
    assert isinstance(loaded.task_generator, TaskGeneratorSet.Config)
    original, restored = config.make(), loaded.make()
    assert restored.active_task_ids() == original.active_task_ids()
    for _ in range(40):
        a, b = original.get_task(), restored.get_task()
        assert (a.task_id, a.get_label(), a.get_bucket_values()) == (
            b.task_id,
            b.get_label(),
            b.get_bucket_values(),
        )
        assert a.get_env_cfg() == b.get_env_cfg()
    from_python = CurriculumConfig.model_validate(
        yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json")))
    )
    assert from_python == config


def test_user_generator_round_trips_by_import_path() -> None:
    config = SizeRangeGenerator.Config(min_size=2, max_size=4, label="mine")
    loaded = TaskGeneratorConfig.from_json(config.to_json())
    assert type(loaded) is SizeRangeGenerator.Config
    assert loaded == config
    assert [loaded.create().get_task(i) for i in range(20)] == [
        config.create().get_task(i) for i in range(20)
    ]


def test_loading_checks_the_type() -> None:
    single_json = single_task(MazeConfig()).to_json()
    with pytest.raises(TypeError, match="is not a Config"):
        BucketedTaskGenerator.Config.from_json(single_json)
    with pytest.raises(TypeError, match="neither a TaskGenerator nor a TaskGeneratorConfig"):
        TaskGeneratorConfig.from_dict({"type": "core_models.MazeConfig"})
    with pytest.raises(ImportError, match="no_such_module"):
        TaskGeneratorConfig.from_dict({"type": "no_such_module.Generator"})
    with pytest.raises(TypeError, match="is not an InvariantRule"):
        single_task(MazeConfig()).model_validate(
            {"env": MazeConfig(), "invariants": [{"type": "core_models.MazeConfig"}]}
        )


def test_unknown_fields_are_rejected() -> None:
    data = yaml.safe_load(bucketed(MazeConfig()).add_bucket("size", [1]).to_yaml())
    data["bucket"] = {}
    with pytest.raises(ValidationError, match="bucket"):
        TaskGeneratorConfig.from_dict(data)


def test_config_subclass_round_trips_under_its_own_path() -> None:
    config = TaggedSizeRangeConfig(tag="x", max_size=5)
    assert isinstance(config.create(), SizeRangeGenerator)
    assert yaml.safe_load(config.to_yaml())["type"] == "test_generators.TaggedSizeRangeConfig"
    loaded = TaskGeneratorConfig.from_yaml(config.to_yaml())
    assert type(loaded) is TaggedSizeRangeConfig
    assert loaded == config


def test_nested_generator_config_needs_a_type() -> None:
    data = yaml.safe_load(merge([single_task(MazeConfig())]).to_yaml())
    del data["task_generators"][0]["type"]
    with pytest.raises(ValidationError, match="needs a 'type' key"):
        TaskGeneratorSet.Config.from_dict(data)
    del data["type"]  # a concrete class knows its own type
    data["task_generators"] = []
    data["weights"] = []
    assert TaskGeneratorSet.Config.from_dict(data) == TaskGeneratorSet.Config()


def test_span_keeps_its_old_import_paths() -> None:
    import agora
    from agora.generators import Span as from_package
    from agora.generators.bucketed import Span as from_bucketed
    from agora.generators.values import Span

    assert agora.Span is from_package is from_bucketed is Span
