"""Task mutation: generators' edits, mutated ids that name their configs, and the pool's fill path."""

from __future__ import annotations

import json
import multiprocessing
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import yaml
from pydantic import BaseModel, ValidationError

from agora import (
    CurriculumConfig,
    LearningProgressConfig,
    MutationConfig,
    Span,
    StagedTaskGenerator,
    TaskGenerator,
    bucketed,
    merge,
    single_task,
)
from agora.bench.students import Kinds, LargeSpace, MutationArm, run_student
from agora.generators import MUTATED_ID_BASE
from agora.generators.bucketed import SPAN_GRID
from conftest import Make, in_mode, new_session, track_session
from core_models import EvictPlayedConfig, MazeConfig, generate_dumps


class Cell(BaseModel):
    x: int = 0
    y: int = 0
    speed: float = 1.0
    name: str = ""


LITERALS = {"x": list(range(10)), "y": [0, 5, 10, 20], "name": ["a", "b", "c"]}


def literal_buckets() -> Any:
    config = bucketed(Cell())
    for path, values in LITERALS.items():
        config.add_bucket(path, values)
    return config


def changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    return [path for path in before if before[path] != after[path]]


def is_neighbour_edit(generator: TaskGenerator[Any], parent: int, child: int) -> bool:
    """``child`` is ``parent`` with one literal bucket moved to a neighbouring entry."""
    before, after = generator.generate(parent).bucket_values, generator.generate(child).bucket_values
    paths = changed(before, after)
    if len(paths) != 1:
        return False
    entries = LITERALS[paths[0]]
    return abs(entries.index(before[paths[0]]) - entries.index(after[paths[0]])) == 1


# -- generators --------------------------------------------------------------------------------


def test_an_edit_moves_exactly_one_bucket_value_to_a_neighbouring_entry() -> None:
    generator = literal_buckets().create()
    assert generator.space_size == 10 * 4 * 3
    seen: set[str] = set()
    for task_id in range(200):
        child = generator.mutate(task_id, random.Random(task_id))
        assert child is not None
        assert child >= MUTATED_ID_BASE
        assert is_neighbour_edit(generator, task_id, child), task_id
        seen.update(
            changed(generator.generate(task_id).bucket_values, generator.generate(child).bucket_values)
        )
        grandchild = generator.mutate(child, random.Random(task_id + 1))  # an edit of an edit
        assert grandchild is not None
        assert is_neighbour_edit(generator, child, grandchild)
    assert seen == set(LITERALS)  # every bucket gets edited


def test_an_edit_inside_a_span_stays_in_it_or_moves_to_the_neighbouring_entry() -> None:
    generator = bucketed(Cell()).add_bucket("x", [-1, Span(0, 99), 200]).create()
    for task_id in range(300):
        before = generator.generate(task_id).bucket_values["x"]
        child = generator.mutate(task_id, random.Random(task_id))
        assert child is not None
        after = generator.generate(child).bucket_values["x"]
        assert after != before
        if 0 <= before <= 99:  # within the Span by at most a tenth of it, or off its end
            assert (0 <= after <= 99 and abs(after - before) <= 10) or (before, after) in ((0, -1), (99, 200))
        else:
            assert after == (0 if before == -1 else 99)


def test_a_float_span_is_enumerated_on_its_grid() -> None:
    generator = bucketed(Cell()).add_bucket("speed", [Span(0.0, 2.0)]).create()
    assert generator.space_size == SPAN_GRID + 1
    for task_id in range(50):
        fresh = generator.generate(task_id).bucket_values["speed"]
        point = generator.point_of(task_id)
        assert generator.generate(MUTATED_ID_BASE + point).bucket_values["speed"] == pytest.approx(
            fresh, abs=1e-3
        )
        child = generator.mutate(task_id, random.Random(0))
        assert child is not None
        speed = generator.get_task(child).speed
        assert 0.0 <= speed <= 2.0
        assert abs(speed - fresh) <= 0.2 + 1e-3
        assert round(speed / 2.0 * SPAN_GRID, 9).is_integer()


def test_a_mutated_id_rebuilds_the_parent_config_except_the_edited_bucket() -> None:
    generator = literal_buckets().create()
    for task_id in range(30):
        parent = generator.get_task(task_id).model_dump()
        assert generator.get_task(MUTATED_ID_BASE + generator.point_of(task_id)).model_dump() == parent
        child = generator.get_task(generator.mutate(task_id, random.Random(7)) or -1).model_dump()
        assert len(changed(parent, child)) == 1


def test_a_set_mutates_within_the_chosen_child_and_keeps_its_label() -> None:
    small, large = literal_buckets(), bucketed(Cell(name="large")).add_bucket("x", [100, 101, 102])
    small.label, large.label = "small", "large"
    generator = merge([small, large, single_task(Cell(name="fixed"))]).create()
    assert generator.space_size == 120 + 3 + 1
    outcomes = set()
    for task_id in range(100):
        task = generator.generate(task_id)
        child = generator.mutate(task_id, random.Random(task_id))
        if task.label is None:  # the single-config child has nothing to edit
            assert child is None
            outcomes.add("none")
            continue
        assert child is not None
        edited = generator.generate(child)
        assert edited.label == task.label
        assert len(changed(task.bucket_values, edited.bucket_values)) == 1
        outcomes.add(task.label)
    assert outcomes == {"small", "large", "none"}


def test_generators_that_do_not_enumerate_their_tasks_cannot_mutate() -> None:
    staged = StagedTaskGenerator.Config(stages=[literal_buckets(), literal_buckets()]).create()
    assert staged.space_size is None
    assert not staged.can_mutate
    with pytest.raises(TypeError, match="StagedTaskGenerator cannot mutate tasks"):
        staged.mutate(3, random.Random(0))
    assert not single_task(Cell()).create().can_mutate  # one task: nothing to edit
    # Without an enumerated space, a large id is an ordinary seed, as before.
    assert staged.get_task(MUTATED_ID_BASE + 5) == staged.get_task(MUTATED_ID_BASE + 5)
    config = CurriculumConfig(
        task_generator=StagedTaskGenerator.Config(stages=[literal_buckets()]), mutation=MutationConfig()
    )
    with pytest.raises(ValueError, match="StagedTaskGenerator cannot mutate tasks"):
        config.make()


def test_a_mutated_id_beyond_the_space_is_an_error_naming_it() -> None:
    generator = literal_buckets().create()
    with pytest.raises(ValueError, match=f"task id {MUTATED_ID_BASE + 120} is a mutated id"):
        generator.get_task(MUTATED_ID_BASE + 120)


def test_a_mutated_id_rebuilds_the_same_config_in_another_process() -> None:
    config = merge(
        [literal_buckets(), bucketed(MazeConfig()).add_bucket("wall_density", [Span(0.0, 0.5), 0.9])]
    )
    generator = config.create()
    rng = random.Random(3)
    ids = [child for task_id in range(40) if (child := generator.mutate(task_id, rng)) is not None]
    ids += [child for task_id in ids[:10] if (child := generator.mutate(task_id, rng)) is not None]
    here = [generator.get_task(task_id).model_dump() for task_id in ids]
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        there = pool.apply(generate_dumps, (config.to_json(), ids))
        pool.close()
        pool.join()
    assert there == here


# -- the curriculum's fill path ----------------------------------------------------------------


def mutating_config(**mutation: Any) -> CurriculumConfig:
    return literal_buckets().to_curriculum(
        num_active_tasks=16,
        refresh_interval=6,
        min_presentations_for_eviction=2,
        seed=5,
        algorithm_config=EvictPlayedConfig(),
        mutation=MutationConfig(**mutation),
    )


def play(curriculum: Any, steps: int) -> None:
    for step in range(steps):
        task = curriculum.get_task()
        curriculum.update_task_performance(task.task_id, ((task.task_id * 13 + step) % 7) / 6)


def evicting_refreshes(curriculum: Any, count: int) -> Iterator[tuple[dict[int, float], set[int]]]:
    """Around each of ``count`` refreshes that evict: the weight of each task that stays, and the
    tasks added."""
    engine, ids = curriculum._engine, curriculum.pool.array("ids")
    done = 0
    while done < count:
        play(curriculum, len(curriculum._queue))  # up to the next refresh
        plan = engine.eviction_plan()
        if plan is None or not len(plan):
            play(curriculum, 1)
            continue
        stay = np.setdiff1d(curriculum.pool.active_slots(), plan)
        weights = dict(zip(ids[stay].tolist(), engine.checked_weights(stay).tolist(), strict=True))
        before = set(curriculum.active_task_ids())
        play(curriculum, 1)  # refreshes: evicts the plan and fills the pool
        yield weights, set(curriculum.active_task_ids()) - before
        done += 1


def test_with_rate_1_every_replacement_is_an_edit_of_a_top_task(make: Make) -> None:
    curriculum = make(mutating_config(rate=1.0, parents="top", top_k=3))
    generator = curriculum.task_generator
    replaced = mutated = 0
    for weights, new in evicting_refreshes(curriculum, 30):
        third = sorted(weights.values())[-3]
        top = [task_id for task_id, weight in weights.items() if weight >= third]  # ties included
        edits = [child for child in new if child >= MUTATED_ID_BASE]
        replaced, mutated = replaced + len(new), mutated + len(edits)
        for child in edits:
            assert any(is_neighbour_edit(generator, parent, child) for parent in top), child
    # The rest: every edit tried was in the pool already, so the fresh id was kept.
    assert replaced >= 20
    assert mutated >= 0.9 * replaced


def test_parents_by_weight_come_from_the_tasks_that_stay() -> None:
    curriculum = mutating_config(rate=1.0, parents="weights").make()
    generator = curriculum.task_generator
    for weights, new in evicting_refreshes(curriculum, 20):
        for child in new:
            if child >= MUTATED_ID_BASE:
                assert any(is_neighbour_edit(generator, parent, child) for parent in weights)


def test_local_and_single_process_shared_pools_mutate_the_same_way() -> None:
    config = mutating_config(rate=0.5, parents="weights")
    config.task_generator.label = "cells"
    config.algorithm_config = LearningProgressConfig()
    local = config.make()
    with in_mode(config, "shared").make() as shared:
        track_session(shared.session_id or "")
        rng = np.random.default_rng(5)
        for step in range(400):
            if step % 10 == 9:
                a, b = local.get_tasks(7), shared.get_tasks(7)
                assert a.task_ids.tolist() == b.task_ids.tolist(), f"step {step}"
                scores = rng.random(7)
                local.update_task_performance_many(a, scores)
                shared.update_task_performance_many(b, scores)
                continue
            x, y = local.get_task(), shared.get_task()
            assert x.task_id == y.task_id, f"step {step}"
            assert x.get_env_cfg() == y.get_env_cfg()
            score = float(rng.random() < (x.get_bucket_values()["x"] % 5) / 4)
            local.update_task_performance(x.task_id, score)
            shared.update_task_performance(y.task_id, score)
        assert any(task_id >= MUTATED_ID_BASE for task_id in local.active_task_ids())
        assert shared.stats() == local.stats()
        mine, theirs = local.get_state(), shared.get_state()
        for name in mine["pool"]:
            if name != "header":
                assert mine["pool"][name] == theirs["pool"][name], name
        assert (mine["rng"], mine["queue"]) == (theirs["rng"], theirs["queue"])


def test_a_checkpoint_resumes_a_mutating_curriculum_exactly(make: Make) -> None:
    original = make(mutating_config(rate=0.7))
    play(original, 57)
    mutated = [task_id for task_id in original.active_task_ids() if task_id >= MUTATED_ID_BASE]
    assert original.stats()["frac_tasks_mutated"] == len(mutated) / 16 > 0
    state = json.loads(json.dumps(original.get_state()))
    restored = make(mutating_config(rate=0.7))
    restored.load_state(state)
    assert restored.stats() == original.stats()
    for _ in range(150):
        a, b = original.get_task(), restored.get_task()
        assert a.task_id == b.task_id
        assert a.get_env_cfg() == b.get_env_cfg()
        score = (a.task_id % 7) / 6
        original.update_task_performance(a.task_id, score)
        restored.update_task_performance(b.task_id, score)
    assert restored.active_task_ids() == original.active_task_ids()


def test_a_checkpoint_of_another_mutation_setting_names_the_field(make: Make) -> None:
    state = make(mutating_config(rate=0.7)).get_state()
    with pytest.raises(Exception, match="differs in: mutation"):
        make(mutating_config(rate=0.3)).load_state(state)
    plain = mutating_config().model_copy(update={"mutation": None})
    old = make(plain).get_state()
    del old["config"]["mutation"]  # a config dumped before the field existed is the same curriculum
    make(plain).load_state(old)


# -- the config -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"rate": 1.5}, "1.5"),
        ({"rate": 0.0}, "0.0"),
        ({"parents": "best"}, "'best'"),
        ({"top_k": 0}, "top_k"),
    ],
)
def test_a_bad_mutation_setting_is_an_error_naming_the_value(fields: dict[str, Any], named: str) -> None:
    with pytest.raises(ValidationError, match=named):
        MutationConfig(**fields)
    with pytest.raises(ValidationError, match=named):
        CurriculumConfig(task_generator=literal_buckets(), mutation=fields)


def test_the_mutation_config_round_trips_through_json_and_yaml() -> None:
    config = mutating_config(rate=0.25, parents="weights", top_k=4)
    assert CurriculumConfig.model_validate_json(config.model_dump_json()) == config
    assert (
        CurriculumConfig.model_validate(yaml.safe_load(yaml.safe_dump(config.model_dump(mode="json"))))
        == config
    )
    assert (
        CurriculumConfig.model_validate({**config.model_dump(mode="json"), "mutation": None}).mutation is None
    )
    off = CurriculumConfig(task_generator=literal_buckets(), num_active_tasks=8)
    assert off.mutation is None  # off by default
    assert "frac_tasks_mutated" not in off.make().stats()


# -- the student arm ---------------------------------------------------------------------------


def test_the_mutation_arm_edits_the_large_space_and_plays_fixed_lists_as_its_algorithm() -> None:
    large = LargeSpace(episodes=15_000, warmup=1_000)
    plain = run_student(large, LearningProgressConfig(), seed=0)
    mutating = run_student(large, MutationArm(LearningProgressConfig()), seed=0)
    assert mutating.values != plain.values  # replacements differ once the pool evicts
    again = run_student(large, MutationArm(LearningProgressConfig()), seed=0)
    assert again.values == mutating.values  # deterministic for a seed
    kinds = Kinds(episodes=3_000, warmup=300)  # the pool is the whole list: nothing is replaced
    assert (
        run_student(kinds, MutationArm(LearningProgressConfig()), seed=0).values
        == run_student(kinds, LearningProgressConfig(), seed=0).values
    )


def _shared_worker(config: CurriculumConfig, episodes: int, seed: int, results: Any) -> None:
    """Play ``episodes`` on the shared pool; report each mutated task's config as this process built it."""
    rng = np.random.default_rng(seed)
    seen: dict[int, dict[str, Any]] = {}
    with config.make() as curriculum:
        for _ in range(episodes):
            task = curriculum.get_task()
            if task.task_id >= MUTATED_ID_BASE:
                seen[task.task_id] = task.get_env_cfg().model_dump()
            x = task.get_bucket_values()["x"]
            curriculum.update_task_performance(task.task_id, float(rng.random() < (x % 5) / 4))
        curriculum.flush()
    results.put(seen)


def test_processes_sharing_a_pool_mutate_and_rebuild_the_same_configs() -> None:
    config = in_mode(mutating_config(rate=0.5), "shared")
    config.algorithm_config = LearningProgressConfig()
    config.session_id = new_session()
    ctx = multiprocessing.get_context("spawn")
    with config.make() as owner:
        results = ctx.Queue()
        workers = [ctx.Process(target=_shared_worker, args=(config, 3_000, i, results)) for i in range(2)]
        for worker in workers:
            worker.start()
        seen = [results.get(timeout=120) for _ in workers]
        for worker in workers:
            worker.join(120)
        assert [worker.exitcode for worker in workers] == [0, 0]
        stats = owner.stats()
        assert stats["num_completed"] == 6_000
        assert stats["num_evicted"] > 0
        generator = owner.task_generator
        mutated = {task_id: dump for found in seen for task_id, dump in found.items()}
        assert mutated  # the workers played edits made by either process
        for task_id, dump in mutated.items():
            assert generator.get_task(task_id).model_dump() == dump
        ids = owner.active_task_ids()
        assert len(set(ids)) == len(ids) == 16
        assert all(owner.pool.slot_of(task_id) is not None for task_id in ids)
