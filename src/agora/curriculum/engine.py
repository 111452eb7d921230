"""The pool engine: what happens to a pool. Scores are applied, tasks evicted and created, weights checked.

It takes no locks and knows nothing about processes: a coordinator
(:mod:`agora.curriculum.coordination`) decides when each step runs and under which lock. So
the engine also runs on its own over a private pool (:meth:`PoolEngine.private`), e.g. behind
an algorithm-only API that has no task generator and hands out task ids itself.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

from agora.algorithms.base import CurriculumAlgorithm, CurriculumAlgorithmConfig
from agora.curriculum.labels import LabelTable, LabelTotals
from agora.curriculum.mutation import MutationConfig, pick_parents
from agora.curriculum.stat_loggers import SliceAnalyzer
from agora.curriculum.validation import unknown_id
from agora.generators.base import GeneratedTask, TaskGenerator
from agora.generators.rng import TaskRandom
from agora.pool import HEADER, TaskPool

__all__ = ["PoolEngine", "count_into", "first_occurrences"]

Prepared = dict[int, GeneratedTask[Any] | None]
"""Fresh task ids drawn ahead of an eviction, each generated when labels or slice bins need it."""

_ROUND_MIN = 32
"""Repeats that make a vectorised round worth it: a round's fixed cost is about that many scores
applied one by one (learning progress, 10k tasks: 40 µs a round against 1.5 µs a score)."""

_EDIT_TRIES = 8
"""Edits of one parent tried for a replacement before it falls back to its fresh id."""


class PoolEngine:
    """Pool maintenance for one algorithm: apply scores, plan / evict / fill, weights.

    ``rng`` draws new task ids (and, in a curriculum, the samples: one generator for both, as
    checkpoints store one). ``generator`` (optional) gives new tasks their labels (in
    ``labels``) and bucket bins (for ``slice_analyzer``); without one, tasks are bare ids.
    ``mutation`` (needs a ``generator`` that can mutate): replacements may be edits of pool tasks.
    """

    def __init__(
        self,
        pool: TaskPool,
        algorithm: CurriculumAlgorithm,
        *,
        rng: np.random.Generator,
        max_task_id: int,
        min_presentations_for_eviction: int,
        refresh_interval: int,
        generator: TaskGenerator[Any] | None = None,
        labels: LabelTable | None = None,
        slice_analyzer: SliceAnalyzer | None = None,
        mutation: MutationConfig | None = None,
    ) -> None:
        if mutation is not None and (generator is None or not generator.can_mutate):
            name = type(generator).__name__ if generator is not None else "no generator"
            size = generator.space_size if generator is not None else None
            raise ValueError(
                f"mutation is on but {name} cannot mutate tasks (it enumerates {size} tasks): mutation "
                "needs the built-in single, bucketed or set generators and at least two tasks"
            )
        self.mutation = mutation
        self.pool = pool
        self.algorithm = algorithm
        self.rng = rng
        self.max_task_id = max_task_id
        self.min_presentations = min_presentations_for_eviction
        self.interval = refresh_interval
        self.generator = generator
        self.labels = labels if labels is not None else LabelTable()
        self.slice_analyzer = slice_analyzer
        self._track_labels = generator is not None and generator.has_labels
        self.label_totals = LabelTotals.of(pool) if self._track_labels else None
        """What evicted tasks (and stale scores) leave per label; None without labels."""
        self._generate = self._track_labels or slice_analyzer is not None
        self._spare: Prepared = {}  # see prepare_tasks
        self._completions = pool.view("completions")
        self._score_sum = pool.view("score_sum")
        self._last_score = pool.view("last_score")
        self._header = pool.header
        self._h_completed = HEADER.index("num_completed")

    @classmethod
    def private(
        cls,
        num_tasks: int,
        algorithm_config: CurriculumAlgorithmConfig,
        *,
        seed: int = 0,
        max_task_id: int = 2**31 - 1,
        min_presentations_for_eviction: int = 5,
        refresh_interval: int | None = None,
    ) -> PoolEngine:
        """An engine over a new, full, process-local pool of ``num_tasks`` random task ids.

        ``refresh_interval`` (default ``ceil(num_tasks / 4)``, as a curriculum's) only bounds
        how many tasks :meth:`eviction_plan` may evict at once.
        """
        pool = TaskPool(num_tasks, algorithm_config.pool_fields())
        pool.initialize()
        engine = cls(
            pool,
            algorithm_config.create(pool),
            rng=np.random.default_rng(seed),
            max_task_id=max_task_id,
            min_presentations_for_eviction=min_presentations_for_eviction,
            refresh_interval=refresh_interval or min(65_536, -(-num_tasks // 4)),
        )
        engine.fill()
        return engine

    # -- scores ---------------------------------------------------------------------------

    def slots_of(
        self, ids: npt.NDArray[np.int64], guess: npt.NDArray[np.intp] | None = None
    ) -> npt.NDArray[np.intp]:
        """Each id's slot (-1: not in the pool). ``guess``: slots they had (e.g. a batch's),
        returned itself when every id is still there; only the ids that moved are looked up."""
        if guess is None:
            return self.pool.slots_of(ids)
        moved = (guess < 0) | (self.pool.array("ids")[guess] != ids)
        if not moved.any():
            return guess
        slots = guess.copy()
        slots[moved] = self.pool.slots_of(ids[moved])
        return slots

    def check_known(self, ids: npt.NDArray[np.int64], slots: npt.NDArray[np.intp]) -> None:
        """Raise for the first id that is neither in the pool (``slots`` -1) nor recently evicted."""
        missing = slots < 0
        if missing.any():
            for task_id in ids[missing].tolist():
                if not self.pool.was_evicted(task_id):
                    raise ValueError(unknown_id(task_id))

    def apply_scores(
        self,
        ids: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        slots: npt.NDArray[np.intp],
        first: npt.NDArray[np.bool_],
        priorities: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """Apply validated scores of tasks ``ids`` in order; ``slots`` holds each one's slot (-1:
        not in the pool, counted as stale and for its label, see :meth:`check_known`) and
        ``first`` marks each slot's first occurrence (:func:`first_occurrences`).
        ``priorities``: the learner's priority of each score (the algorithm's
        ``*_with_priority`` hooks), or None when the batch has none.

        Each task's first score is applied with everyone else's, its later ones after it, so
        per-task EMAs see them in order: its second scores in a second vectorised round, and so
        on while a round holds at least ``_ROUND_MIN`` scores; the rest (a sharply focused
        distribution repeats a few tasks many times) one by one, in the order given.
        """
        missing = slots < 0
        stale = int(missing.sum())
        if stale:
            if self.label_totals is not None:
                for i in np.flatnonzero(missing).tolist():
                    self.count_stale(int(ids[i]), float(values[i]))
            present = ~missing
            values, slots, first = values[present], slots[present], first[present]
            if priorities is not None:
                priorities = priorities[present]
        if first.all():  # no task twice
            self._apply_distinct(slots, values, priorities)
        else:
            later = np.flatnonzero(~first)
            self._apply_distinct(slots[first], values[first], _at(priorities, first))
            if len(later) >= _ROUND_MIN:
                rank = _occurrence_rank(slots[later])  # 0: a task's second score
                sizes = np.bincount(rank)  # non-increasing: a round's tasks were all in the one before
                rounds = int(np.count_nonzero(sizes >= _ROUND_MIN))
                for r in range(rounds):
                    in_round = later[rank == r]
                    self._apply_distinct(slots[in_round], values[in_round], _at(priorities, in_round))
                if rounds:
                    later = later[rank >= rounds]  # still in the order given
            later_priorities = _at(priorities, later)
            self._apply_in_order(
                slots[later].tolist(),
                values[later].tolist(),
                None if later_priorities is None else later_priorities.tolist(),
            )
        if stale:  # played, as in the single path
            self.pool.add_to_counter("num_stale", stale)
        # Last, stale episodes included: a shared pool's crash journal relies on it.
        self._header[self._h_completed] += len(slots) + stale

    def _apply_distinct(
        self,
        slots: npt.NDArray[np.intp],
        values: npt.NDArray[np.float64],
        priorities: npt.NDArray[np.float64] | None = None,
    ) -> None:
        """One score for each of ``slots`` (all different), vectorised."""
        pool = self.pool
        pool.array("completions")[slots] += 1
        pool.array("score_sum")[slots] += values
        pool.array("last_score")[slots] = values
        if priorities is None:
            self.algorithm.update_many(slots, values)
        else:
            self.algorithm.update_many_with_priority(slots, values, priorities)

    def _apply_in_order(
        self, slots: list[int], values: list[float], priorities: list[float] | None = None
    ) -> None:
        """Scores one at a time, in order (for the few repeats of a batch)."""
        update, prioritised = self.algorithm.update, self.algorithm.update_with_priority
        for i, (slot, score) in enumerate(zip(slots, values, strict=True)):
            self._completions[slot] += 1
            self._score_sum[slot] += score
            self._last_score[slot] = score
            if priorities is None:
                update(slot, score)
            else:
                prioritised(slot, score, priorities[i])

    # -- evict and fill -------------------------------------------------------------------

    def eviction_plan(self) -> npt.NDArray[np.intp] | None:
        """Slots the algorithm would evict now, or None when it does not evict (yet)."""
        if not (self.algorithm.evicts and self.pool.counter("num_scheduled") > 0):
            return None
        # At most one eviction per min_presentations_for_eviction episodes: the pool cannot turn
        # over faster than its tasks can be judged (the seed system evicted one per episode,
        # which replaced most tasks before they had been played enough to measure).
        limit = -(-self.interval // self.min_presentations)
        active = self.pool.active_slots()
        return self.algorithm.eviction_candidates(active, self.min_presentations, limit)[:limit]

    def prepare_tasks(self, n: int, evicting: npt.NDArray[np.intp] | None = None) -> Prepared:
        """At least ``n`` fresh random ids, generated when labels or slice bins need it.

        Kept across evictions: when another process evicted a planned task first, the
        replacement prepared for it waits for the next eviction instead of being wasted. A
        shared pool prepares them outside its lock; a local one the same way, so both draw the
        same ids from the same seed. With mutation, some are edits of tasks not in ``evicting``.
        """
        spare = self._spare
        if n > len(spare):
            new = self.rng.integers(0, self.max_task_id, size=n - len(spare)).tolist()
            if self.mutation is not None:
                self._mutate_some(new, self.mutation, evicting)
            for task_id in new:
                if task_id not in spare:
                    spare[task_id] = self._generated(task_id) if self._generate else None
        return spare

    def _mutate_some(
        self, ids: list[int], mutation: MutationConfig, evicting: npt.NDArray[np.intp] | None
    ) -> None:
        """Replace each of ``ids`` (in place) with probability ``mutation.rate`` by an edit of a
        parent drawn from the active tasks not in ``evicting`` (see :mod:`agora.curriculum.mutation`)."""
        edits = np.flatnonzero(self.rng.random(len(ids)) < mutation.rate)
        if not len(edits):
            return
        active = self.pool.active_slots()
        if evicting is not None and len(evicting):
            active = active[~np.isin(active, evicting)]
        if not len(active):
            return
        assert self.generator is not None  # checked in __init__
        chosen = active[pick_parents(mutation, self.checked_weights(active), self.rng, len(edits))]
        parents = self.pool.array("ids")[chosen].tolist()
        seeds = self.rng.integers(0, 2**62, size=len(edits)).tolist()
        made: set[int] = set()
        for position, parent, seed in zip(edits.tolist(), parents, seeds, strict=True):
            if parent < 0:  # a slot freed meanwhile (a shared pool, read without the lock)
                continue
            edit_rng = TaskRandom(seed)
            for _ in range(_EDIT_TRIES):  # an edit already in the pool (or made just now): another one
                child = self.generator.mutate(parent, edit_rng)
                if child is None:  # nothing to edit: the fresh id stays
                    break
                if child not in made and self.pool.slot_of(child) is None:
                    ids[position] = child
                    made.add(child)
                    break

    def forget_prepared(self) -> None:
        """Drop the prepared ids (a forked child draws its own)."""
        self._spare.clear()

    def evict(self, slots: npt.NDArray[np.intp], prepared: Prepared | None = None) -> list[int]:
        """Evict the tasks in ``slots`` and refill the pool; returns the evicted ids."""
        self.algorithm.on_tasks_evicted(slots)
        if self.slice_analyzer is not None:
            self.slice_analyzer.on_tasks_evicted(slots)
        removed = self.pool.remove_many(slots.tolist())
        self._retire_labels(slots)
        self.fill(prepared)
        return removed

    def _retire_labels(self, slots: npt.NDArray[np.intp]) -> None:
        """Keep what the removed tasks in ``slots`` counted per label (their columns are only
        cleared when the slots are reused). After the removal: a writer killed in between loses
        these counts, rather than counting them twice when the repair replaces the slots."""
        if self.label_totals is not None:
            self.label_totals.retire(slots)

    def count_stale(self, task_id: int, score: float) -> None:
        """A score for ``task_id``, evicted already, counts for its label (the generator says which)."""
        if self.label_totals is not None:
            label = self.labels.id_of(self._generated(task_id).label)
            if label >= 0:
                self.label_totals.add_stale(label, score)

    def fill(self, prepared: Prepared | None = None) -> None:
        """Create tasks with fresh random ids until the pool is full.

        ``prepared``: candidate ids to use first (:meth:`prepare_tasks`); the ones used are
        removed from it.
        """
        need = self.pool.counter("num_free")
        if need == 0:
            return
        ready: Prepared = {}
        if prepared:
            for candidate in list(prepared)[:need]:
                task = prepared.pop(candidate)
                if self.pool.slot_of(candidate) is None:
                    ready[candidate] = task
        chosen: dict[int, None] = dict.fromkeys(ready)
        while len(chosen) < need:
            for candidate in self.rng.integers(0, self.max_task_id, size=2 * need).tolist():
                if candidate not in chosen and self.pool.slot_of(candidate) is None:
                    chosen[candidate] = None
                    if len(chosen) == need:
                        break
        ids = list(chosen)
        slots = self.pool.add_many(ids, created_at=self.pool.counter("num_completed"))
        if self._generate:
            # One cheap generate() per new task gives its label and bucket bins; the
            # per-episode path then never needs to regenerate anything for statistics.
            generated = [ready.get(t) or self._generated(t) for t in ids]
            if self._track_labels:
                self.pool.array("label")[slots] = [self.labels.id_of(g.label) for g in generated]
            if self.slice_analyzer is not None:
                bins = np.array(
                    [self.slice_analyzer.bins(g.bucket_values) for g in generated], dtype=np.int16
                )
                for axis in range(bins.shape[1]):
                    self.pool.array(f"slice_{axis}")[slots] = bins[:, axis]
        self.algorithm.on_tasks_created(slots)

    def _generated(self, task_id: int) -> GeneratedTask[Any]:
        assert self.generator is not None  # only called when labels or slices need it
        return self.generator.generate(task_id)

    def replace(self, slots: npt.NDArray[np.intp]) -> None:
        """Evict ``slots`` (whose statistics may be torn) and refill with random ids (a repair)."""
        if len(slots):
            self.algorithm.on_tasks_evicted(slots)
            if self.slice_analyzer is not None:
                self.slice_analyzer.on_tasks_evicted(slots)
            self.pool.remove_many(slots.tolist())
            self._retire_labels(slots)
        self.fill()

    # -- weights --------------------------------------------------------------------------

    def checked_weights(self, active: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        """The algorithm's weights for ``active``, validated; all ones if they are all 0."""
        weights = np.asarray(self.algorithm.weights(active), dtype=np.float64)
        # min >= 0 is False for NaN; a finite sum of non-negative weights rules out infinities.
        total = weights.sum()
        valid = weights.min(initial=0.0) >= 0 and np.isfinite(total)
        if weights.shape != active.shape or not valid:
            raise ValueError(
                f"{type(self.algorithm).__name__}.weights returned invalid weights "
                f"(shape {weights.shape}, expected {active.shape}; all must be finite and >= 0)"
            )
        return weights if total > 0 else np.ones(len(active))

    def stats(self) -> dict[str, float]:
        """Pool counters, score summaries and the algorithm's ``algorithm/*`` statistics (O(N))."""
        pool = self.pool
        active = pool.active_slots()
        completions = pool.gather("completions", active)
        played = completions > 0
        means = pool.gather("score_sum", active)[played] / completions[played]
        out: dict[str, float] = {
            "num_active_tasks": float(len(active)),
            "num_created": float(pool.counter("num_created")),
            "num_evicted": float(pool.counter("num_evicted")),
            "num_completed": float(pool.counter("num_completed")),
            "num_scheduled": float(pool.counter("num_scheduled")),
            "num_stale_updates": float(pool.counter("num_stale")),
            "mean_task_score": float(means.mean()) if len(means) else 0.0,
            "frac_tasks_played": float(played.mean()) if len(active) else 0.0,
        }
        out.update({f"algorithm/{key}": float(value) for key, value in self.algorithm.stats().items()})
        return out

    def probabilities(self) -> dict[int, float]:
        """Sampling probability of each active task id (O(N): not for hot paths)."""
        active = self.pool.active_slots()
        weights = self.checked_weights(active)
        ids = self.pool.array("ids")[active]
        return dict(zip(ids.tolist(), (weights / weights.sum()).tolist(), strict=True))


def count_into(counts: npt.NDArray[np.unsignedinteger[Any]], slots: npt.NDArray[np.intp]) -> None:
    """``counts[s] += 1`` for every entry ``s`` of ``slots``, repeats included."""
    # A one of the column's own dtype: with a Python int, ufunc.at takes a slow casting path
    # (16 µs instead of 1.4 µs for 256 slots).
    np.add.at(counts, slots, counts.dtype.type(1))


def first_occurrences(slots: npt.NDArray[np.intp]) -> npt.NDArray[np.bool_]:
    """Whether each entry is the first (leftmost) occurrence of its slot."""
    order = np.argsort(slots, kind="stable")
    sorted_slots = slots[order]
    first = np.ones(len(slots), dtype=bool)
    first[order[1:][sorted_slots[1:] == sorted_slots[:-1]]] = False
    return first


def _at(
    priorities: npt.NDArray[np.float64] | None, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]
) -> npt.NDArray[np.float64] | None:
    """``priorities[index]``, or None when there are none."""
    return None if priorities is None else priorities[index]


def _occurrence_rank(slots: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """For each entry, how many earlier entries name the same slot (0: its first occurrence)."""
    order = np.argsort(slots, kind="stable")
    sorted_slots = slots[order]
    new_run = np.empty(len(slots), dtype=bool)
    new_run[:1] = True
    np.not_equal(sorted_slots[1:], sorted_slots[:-1], out=new_run[1:])
    positions = np.arange(len(slots))
    run_start = np.maximum.accumulate(np.where(new_run, positions, 0))
    rank = np.empty(len(slots), dtype=np.intp)
    rank[order] = positions - run_start
    return rank
