"""TaskPool: the id -> slot hash table, slot reuse, columns and evicted-id memory."""

from __future__ import annotations

import random
from collections.abc import Sequence

import numpy as np
import pytest

from agora.pool import CORE_FIELDS, TaskPool


def make_pool(capacity: int, fields: tuple[tuple[str, str, int], ...] = ()) -> TaskPool:
    pool = TaskPool(capacity, fields)
    pool.initialize()
    return pool


def check_consistent(pool: TaskPool, expected: dict[int, int], absent: Sequence[int] = ()) -> None:
    """``expected`` maps each active id to its slot; the pool must agree in every view."""
    assert pool.size == len(expected)
    for task_id, slot in expected.items():
        assert pool.slot_of(task_id) == slot
        assert pool.ids[slot] == task_id
    assert sorted(pool.active_slots().tolist()) == sorted(expected.values())
    for task_id in absent:
        assert pool.slot_of(task_id) is None
    queries = [*expected, *absent]
    batch = pool.slots_of(np.asarray(queries, dtype=np.int64)).tolist()
    assert batch == [expected.get(task_id, -1) for task_id in queries]


def test_fresh_pool_fills_slots_in_order() -> None:
    pool = make_pool(4)
    assert pool.size == 0
    slots = pool.add_many([10, 20, 30], created_at=7)
    assert slots.tolist() == [0, 1, 2]
    check_consistent(pool, {10: 0, 20: 1, 30: 2})
    assert pool.array("created_at")[:3].tolist() == [7, 7, 7]
    assert pool.array("label")[:3].tolist() == [-1, -1, -1]
    assert pool.counter("num_created") == 3
    assert pool.slot_of(40) is None


@pytest.mark.parametrize("residue", [0, 5, 31])
def test_colliding_ids_and_wrap_around(residue: int) -> None:
    """Ids congruent modulo the table size share a home bucket; residue 31 wraps past the end."""
    pool = make_pool(16)  # table of 32 buckets
    table = len(pool.backend.array("table_keys"))
    assert table == 32
    ids = [residue + k * table for k in range(16)]
    slots = pool.add_many(ids, created_at=0)
    expected = dict(zip(ids, slots.tolist(), strict=True))
    check_consistent(pool, expected)
    # Delete from the middle of the probe chain, then the head, then re-add.
    for victim in (ids[7], ids[0], ids[15], ids[3]):
        slot = expected.pop(victim)
        assert pool.remove_many([slot]) == [victim]
        assert pool.slot_of(victim) is None
        check_consistent(pool, expected)
    new_ids = [residue + k * table for k in range(16, 20)]
    expected.update(zip(new_ids, pool.add_many(new_ids, created_at=1).tolist(), strict=True))
    check_consistent(pool, expected)


def test_random_operations_match_a_dict() -> None:
    """Many inserts and deletes of clustered ids keep the table exact (backward-shift deletion)."""
    rng = random.Random(1)
    pool = make_pool(24)
    table = len(pool.backend.array("table_keys"))
    expected: dict[int, int] = {}
    removed: set[int] = set()
    for _ in range(2000):
        if expected and (len(expected) == pool.capacity or rng.random() < 0.45):
            victims = rng.sample(sorted(expected), rng.randint(1, min(3, len(expected))))
            assert sorted(pool.remove_many([expected[v] for v in victims])) == sorted(victims)
            for victim in victims:
                del expected[victim]
            removed.update(victims)
        else:
            candidates = {
                rng.choice([0, 1, table - 1, table - 2]) + table * rng.randrange(50) for _ in range(3)
            }
            fresh = [c for c in candidates if c not in expected][: pool.capacity - len(expected)]
            expected.update(zip(fresh, pool.add_many(fresh, created_at=0).tolist(), strict=True))
            removed.difference_update(fresh)
        check_consistent(pool, expected, [-1, -2, *sorted(removed)[-5:]])
    assert len(set(expected.values())) == len(expected)


def test_slots_are_reused_after_removal() -> None:
    pool = make_pool(3)
    pool.add_many([1, 2, 3], created_at=0)
    pool.view("completions")[1] = 9
    pool.view("score_sum")[1] = 4.5
    assert pool.remove_many([1]) == [2]
    assert pool.size == 2
    with pytest.raises(ValueError, match="slot 1 is already free"):
        pool.remove_many([1])
    assert pool.add_many([4], created_at=5).tolist() == [1]
    assert pool.slot_of(4) == 1
    assert pool.array("completions")[1] == 0, "a reused slot starts with zeroed statistics"
    assert pool.array("score_sum")[1] == 0.0
    assert pool.array("created_at")[1] == 5
    # Churn through many more tasks than slots: the pool never runs out.
    for task_id in range(100, 400):
        pool.remove_many([int(pool.active_slots()[0])])
        pool.add_many([task_id], created_at=0)
        assert pool.size == 3
    assert pool.counter("num_created") == 304
    assert pool.counter("num_evicted") == 301


def test_full_pool_and_duplicate_ids_are_errors() -> None:
    pool = make_pool(2)
    pool.add_many([5], created_at=0)
    with pytest.raises(ValueError, match="task 5 is already in the pool"):
        pool.add_many([5], created_at=0)
    pool = make_pool(2)
    with pytest.raises(ValueError, match="cannot add 3 tasks: only 2 free slots"):
        pool.add_many([1, 2, 3], created_at=0)
    assert pool.size == 0


def test_evicted_ids_are_remembered() -> None:
    pool = make_pool(1)
    memory = len(pool.backend.array("evicted"))
    assert not pool.was_evicted(0)
    for task_id in range(memory + 1):
        pool.add_many([task_id], created_at=0)
        pool.remove_many([0])
    assert not pool.was_evicted(0), "the oldest eviction has been overwritten"
    assert pool.was_evicted(1)
    assert pool.was_evicted(memory)
    assert not pool.was_evicted(memory + 1)
    assert not pool.was_evicted(-1), "the empty marker is not an evicted id"


def test_vectorised_lookup_walks_long_clusters() -> None:
    # Ids sharing home buckets make long probe runs, so the vectorised probes loop before
    # the last ids are finished one by one; -1 homes in the last bucket, which is occupied.
    pool = make_pool(200)
    table = len(pool.backend.array("table_keys"))
    ids = [k * table + home for home in (3, 4, table - 1) for k in range(40)]
    slots = pool.add_many(ids, created_at=0).tolist()
    pool.remove_many(slots[5:80:7])
    expected = {t: s for t, s in zip(ids, slots, strict=True) if pool.ids[s] == t}
    absent = [*(t for t in ids if t not in expected), 41 * table + 3, -table - 1, *[-1] * 20]
    check_consistent(pool, expected, absent)


def test_negative_ids_are_never_found() -> None:
    pool = make_pool(4)
    pool.add_many([0, 1, 2], created_at=0)
    assert pool.slot_of(-1) is None, "-1 marks empty table buckets and must not match them"
    assert pool.slot_of(-5) is None
    assert pool.slots_of(np.array([-1, 2, -5, -1], dtype=np.int64)).tolist() == [-1, 2, -1, -1]
    assert not pool.was_evicted(-1), "-1 marks empty entries of the evicted-id memory"
    with pytest.raises(ValueError, match="task ids must be non-negative, got -3"):
        pool.add_many([-3], created_at=0)
    assert pool.size == 3


def test_columns_and_extra_fields() -> None:
    pool = make_pool(5, (("ema", "d", 1), ("history", "f", 3)))
    assert [name for name, _, _ in pool.fields[: len(CORE_FIELDS)]] == [name for name, _, _ in CORE_FIELDS]
    assert pool.array("history").shape == (5, 3)
    assert pool.array("ema").shape == (5,)
    slots = pool.add_many([7, 8], created_at=0)
    pool.array("history")[slots[1]] = [1.0, 2.0, 3.0]
    pool.view("ema")[slots[0]] = 0.5
    assert pool.array("ema")[slots[0]] == 0.5, "views and arrays share memory"
    assert pool.view("history")[slots[1] * 3 + 2] == 3.0
    pool.add_to_counter("num_stale", 2)
    assert pool.counter("num_stale") == 2
    assert pool.nbytes() >= 5 * (8 + 12)


def test_invalid_pools() -> None:
    with pytest.raises(ValueError, match="capacity must be positive, got 0"):
        TaskPool(0)
    with pytest.raises(ValueError, match="duplicate pool field names"):
        TaskPool(4, (("completions", "d", 1),))


def test_table_keeps_load_factor_at_most_three_quarters() -> None:
    for capacity in (1, 8, 9, 11, 12, 1000, 1024, 1025):
        table = len(make_pool(capacity).backend.array("table_keys"))
        assert capacity <= 0.75 * table
        assert table & (table - 1) == 0
    assert np.all(make_pool(4).backend.array("table_keys") == -1)


@pytest.mark.parametrize("task_id", ["7", 7.0, None])
def test_non_int_ids_are_a_clear_type_error(task_id: object) -> None:
    pool = make_pool(4)
    pool.add_many([7], created_at=0)
    with pytest.raises(TypeError, match=f"task ids are ints, got {task_id!r}"):
        pool.slot_of(task_id)  # type: ignore[arg-type]
    assert pool.slot_of(np.int64(7)) == 0  # type: ignore[arg-type]
