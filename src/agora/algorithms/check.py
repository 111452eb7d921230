"""``check_algorithm``: the contract every curriculum algorithm must keep, checked on a real curriculum.

In the spirit of Gymnasium's ``check_env``: build curricula over a small bucketed task space
with the algorithm, play seeded episodes, and check what the curriculum relies on:

- ``update_many`` on distinct slots leaves every pool column and the algorithm state bit for
  bit as the same ``update`` calls one by one;
- ``weights`` are one finite, non-negative float per active slot;
- ``weights``, ``eviction_candidates`` and ``stats`` are side-effect free: calling them again
  gives the same result and changes no later hand-out, and ``weights`` and ``stats`` change no
  pool column and no algorithm state (``eviction_candidates`` may fill derived columns, as
  learning progress fills ``lp_score`` on demand);
- ``eviction_candidates`` are unique active slots, at most ``limit`` (none unless ``evicts``);
- ``get_state`` is JSON data, and a curriculum restored from it continues exactly;
- a local pool and a single-process shared pool (``shared_update_batch=1``) hand out the same
  tasks, evictions included.

Each failure raises :class:`AlgorithmContractError` naming the contract and the pool mode
(``playing episodes`` when the curriculum's own checks rejected the algorithm first).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel

from agora.algorithms.base import CurriculumAlgorithmConfig
from agora.curriculum import CURRICULUM_KNOBS, Curriculum, CurriculumConfig
from agora.helpers import bucketed

__all__ = ["AlgorithmContractError", "check_algorithm"]

Mode = Literal["local", "shared"]


class AlgorithmContractError(AssertionError):
    """An algorithm broke a contract the curriculum relies on (the message says which)."""


class _Probe(BaseModel):
    """The task config of the probe curricula: one bucketed integer."""

    level: int = 0


def check_algorithm(
    config: CurriculumAlgorithmConfig,
    *,
    modes: Sequence[Mode] = ("local", "shared"),
    episodes: int = 400,
    seed: int = 0,
) -> None:
    """Check ``config``'s algorithm against the contract on pools of each of ``modes``.

    With both modes, also check that they hand out the same tasks. ``episodes`` are played
    before each check (enough for the algorithm to score, evict and refresh). Raises
    :class:`AlgorithmContractError` on the first broken contract.
    """
    unknown = [mode for mode in modes if mode not in ("local", "shared")]
    if unknown or not modes:
        raise ValueError(f"modes must be a non-empty choice of 'local' and 'shared', got {list(modes)!r}")
    probe = _Probes(config, episodes, seed)
    for mode in modes:
        probe.update_many_equals_update(mode)
        probe.weights_are_valid(mode)
        probe.reads_are_side_effect_free(mode)
        probe.eviction_candidates_are_active_slots(mode)
        probe.state_round_trips(mode)
    if set(modes) == {"local", "shared"}:
        probe.local_equals_shared()


def _fail(contract: str, mode: str, detail: str) -> AlgorithmContractError:
    return AlgorithmContractError(f"{contract} ({mode} pool): {detail}")


class _Probes:
    """The probe curricula and the checks run on them."""

    def __init__(self, config: CurriculumAlgorithmConfig, episodes: int, seed: int) -> None:
        # The probe decides how the pool is shared: drop the curriculum knobs set on the algorithm.
        algorithm = config.model_copy()
        algorithm.__pydantic_fields_set__.difference_update(CURRICULUM_KNOBS)
        self.algorithm_config = algorithm
        self.name = type(config).__name__
        self.episodes = episodes
        self.seed = seed
        self.generator = bucketed(_Probe()).add_bucket("level", list(range(64)))

    # -- building and playing ----------------------------------------------------------------

    def make(self, mode: Mode) -> Curriculum[Any]:
        sharing: dict[str, Any] = {}
        if mode == "shared":
            sharing = {"use_shared_memory": True, "session_id": f"agora-check-{uuid.uuid4().hex}"}
        config = CurriculumConfig(
            task_generator=self.generator,
            num_active_tasks=32,
            refresh_interval=8,
            min_presentations_for_eviction=2,
            algorithm_config=self.algorithm_config,
            seed=self.seed,
            shared_update_batch=1,  # scores applied as they come, as in a local pool
            **sharing,
        )
        return config.make()

    def played(self, mode: Mode) -> Curriculum[Any]:
        curriculum = self.make(mode)
        try:
            _play(curriculum, 0, self.episodes)
        except Exception as exc:  # the curriculum's own checks (weights, eviction) caught a break
            curriculum.close()
            raise _fail("playing episodes", mode, f"{type(exc).__name__}: {exc}") from exc
        return curriculum

    def twins(self, mode: Mode, check: Callable[[Curriculum[Any], Curriculum[Any]], None]) -> None:
        a, b = self.played(mode), self.played(mode)
        try:
            check(a, b)
        finally:
            a.close()
            b.close()

    # -- the contracts -----------------------------------------------------------------------

    def update_many_equals_update(self, mode: Mode) -> None:
        def check(one: Curriculum[Any], many: Curriculum[Any]) -> None:
            if _columns(one) != _columns(many):
                raise _fail("determinism", mode, "two curricula with the same seed and episodes differ")
            # Through the curriculum, which updates the core columns first as the hooks expect:
            # one score per active task, one by one (update) against one batch (update_many).
            # Then the same with a learner's priority beside each score (the *_with_priority hooks).
            rng = np.random.default_rng(self.seed)
            for hook in ("update", "update_with_priority"):
                task_ids = rng.permutation(one.pool.array("ids")[one.pool.active_slots()]).tolist()
                scores = rng.random(len(task_ids)).tolist()
                if hook == "update":
                    for task_id, score in zip(task_ids, scores, strict=True):
                        one.update_task_performance(task_id, score)
                    many.update_task_performance_many(task_ids, scores)
                else:
                    priorities = rng.normal(size=len(task_ids)).tolist()
                    for task_id, score, p in zip(task_ids, scores, priorities, strict=True):
                        one.update_task_performance(task_id, score, priority=p)
                    many.update_task_performance_many(task_ids, scores, priorities=priorities)
                one.flush()
                many.flush()
                differ = _differing(_columns(one), _columns(many))
                if differ or _state(one) != _state(many):
                    what = f"pool columns {differ}" if differ else "the algorithm's get_state()"
                    batched = hook.replace("update", "update_many", 1)
                    raise _fail(
                        f"{batched} equals repeated {hook}",
                        mode,
                        f"{self.name}.{batched}({len(task_ids)} distinct slots) left {what} different "
                        f"from the same {hook}() calls one by one",
                    )

        self.twins(mode, check)

    def weights_are_valid(self, mode: Mode) -> None:
        curriculum = self.played(mode)
        try:
            active = curriculum.pool.active_slots()
            weights = curriculum.algorithm.weights(active)
            if not isinstance(weights, np.ndarray) or weights.shape != active.shape:
                shape = getattr(weights, "shape", type(weights).__name__)
                raise _fail("weights", mode, f"expected an array of shape {active.shape}, got {shape}")
            if not np.issubdtype(weights.dtype, np.floating):
                raise _fail("weights", mode, f"expected float weights, got dtype {weights.dtype}")
            bad = np.flatnonzero(~np.isfinite(weights) | (weights < 0))
            if len(bad):
                raise _fail(
                    "weights",
                    mode,
                    f"weight {weights[bad[0]]!r} of slot {active[bad[0]]} is not finite and >= 0",
                )
        finally:
            curriculum.close()

    def reads_are_side_effect_free(self, mode: Mode) -> None:
        def check(read: Curriculum[Any], untouched: Curriculum[Any]) -> None:
            algorithm, active = read.algorithm, read.pool.active_slots()
            before, state = _columns(read), _state(read)
            min_presentations = read.config.min_presentations_for_eviction
            calls: list[tuple[str, Callable[[], Any]]] = [
                ("weights", lambda: algorithm.weights(active)),
                ("eviction_candidates", lambda: algorithm.eviction_candidates(active, min_presentations, 4)),
                ("stats", algorithm.stats),
            ]
            for name, call in calls:
                first, second = call(), call()
                if not _same(first, second):
                    raise _fail(
                        "side-effect free reads",
                        mode,
                        f"{self.name}.{name} gave a different result when called again with nothing changed",
                    )
                if name == "eviction_candidates":  # may fill derived columns (a cache), see the docstring
                    before, state = _columns(read), _state(read)
                    continue
                differ = _differing(before, _columns(read))
                if differ or _state(read) != state:
                    what = f"pool columns {differ}" if differ else "the algorithm's get_state()"
                    raise _fail("side-effect free reads", mode, f"{self.name}.{name} changed {what}")
            read.stats()
            if _play(read, self.episodes, 64) != _play(untouched, self.episodes, 64):
                raise _fail(
                    "side-effect free reads",
                    mode,
                    "calling weights, eviction_candidates and stats changed the tasks handed out later",
                )

        self.twins(mode, check)

    def eviction_candidates_are_active_slots(self, mode: Mode) -> None:
        curriculum = self.played(mode)
        try:
            algorithm, active = curriculum.algorithm, curriculum.pool.active_slots()
            for limit in (len(active), 3):
                got = algorithm.eviction_candidates(
                    active, curriculum.config.min_presentations_for_eviction, limit
                )
                contract = f"eviction_candidates(limit={limit})"
                if (
                    not isinstance(got, np.ndarray)
                    or got.ndim != 1
                    or not np.issubdtype(got.dtype, np.integer)
                ):
                    raise _fail(contract, mode, f"expected a 1-d integer array, got {got!r}")
                if len(got) > limit:
                    raise _fail(contract, mode, f"returned {len(got)} candidates, more than the limit")
                if len(np.unique(got)) != len(got):
                    raise _fail(contract, mode, f"returned a slot more than once: {got.tolist()}")
                outside = np.setdiff1d(got, active)
                if len(outside):
                    raise _fail(contract, mode, f"slot {int(outside[0])} is not one of the active slots")
                if len(got) and not algorithm.evicts:
                    raise _fail(
                        contract, mode, f"returned candidates but {type(algorithm).__name__}.evicts is False"
                    )
        finally:
            curriculum.close()

    def state_round_trips(self, mode: Mode) -> None:
        def check(original: Curriculum[Any], restored: Curriculum[Any]) -> None:
            try:
                state = json.loads(json.dumps(original.get_state()))
            except (TypeError, ValueError) as exc:
                raise _fail("state round trip", mode, f"get_state() is not JSON data: {exc}") from exc
            restored.load_state(state)
            if _state(restored) != _state(original):
                raise _fail("state round trip", mode, "load_state(get_state()) gave a different get_state()")
            if _play(original, self.episodes, 64) != _play(restored, self.episodes, 64):
                raise _fail(
                    "state round trip", mode, "a curriculum restored from get_state() hands out other tasks"
                )

        # The restored twin starts fresh, so it can only match through the loaded state.
        original, restored = self.played(mode), self.make(mode)
        try:
            check(original, restored)
        finally:
            original.close()
            restored.close()

    def local_equals_shared(self) -> None:
        local, shared = self.make("local"), self.make("shared")
        try:
            a, b = _play(local, 0, self.episodes), _play(shared, 0, self.episodes)
            first = next((i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y), None)
            if first is not None:
                raise _fail(
                    "local equals shared",
                    "shared",
                    f"episode {first} got task {b[first]} from a single-process shared pool but {a[first]} "
                    "from a local one with the same seed",
                )
        finally:
            local.close()
            shared.close()


def _play(curriculum: Curriculum[Any], start: int, episodes: int) -> list[int]:
    """Play ``episodes`` with scores that depend only on the task and the episode number."""
    handed_out = []
    for step in range(start, start + episodes):
        task = curriculum.get_task()
        handed_out.append(task.task_id)
        level = task.get_env_cfg().level
        success = (task.task_id * 2654435761 + step * 40503) % 64 < level  # harder for low levels
        curriculum.update_task_performance(task.task_id, 1.0 if success else 0.0)
    return handed_out


def _columns(curriculum: Curriculum[Any]) -> dict[str, bytes]:
    backend = curriculum.pool.backend
    return {spec.name: backend.array(spec.name).tobytes() for spec in backend.layout}


def _differing(a: dict[str, bytes], b: dict[str, bytes]) -> list[str]:
    return sorted(name for name in a if a[name] != b[name])


def _state(curriculum: Curriculum[Any]) -> str:
    return json.dumps(curriculum.algorithm.get_state(), sort_keys=True)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x: npt.NDArray[Any] = np.asarray(a)
        y: npt.NDArray[Any] = np.asarray(b)
        return x.shape == y.shape and x.dtype == y.dtype and x.tobytes() == y.tobytes()
    return bool(json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True))
