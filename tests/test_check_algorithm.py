"""agora.algorithms.check_algorithm: the shipped algorithms keep the contract, and broken
algorithms are caught with a message naming the contract."""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import numpy.typing as npt
import pytest

from agora.algorithms import (
    AlgorithmContractError,
    CurriculumAlgorithmConfig,
    DiscreteRandomConfig,
    DiscreteRandomCurriculum,
    LearnabilityConfig,
    LearningProgressConfig,
    PLRConfig,
    SequentialConfig,
    Stage,
    check_algorithm,
)
from agora.pool import SlotField, TaskPool

CONFIGS = {
    "uniform": DiscreteRandomConfig(),
    "learning_progress": LearningProgressConfig(),
    "learning_progress_paper": LearningProgressConfig.paper(),
    "plr": PLRConfig(),
    "plr_power_ema_fixed": PLRConfig(score_transform="power", alpha=0.3, replay_schedule="fixed"),
    "learnability": LearnabilityConfig(),
    "learnability_proportional": LearnabilityConfig(sampling="proportional", top_k=4),
    "sequential": SequentialConfig(
        stages=[Stage(episodes=60), Stage(mean_score=0.3, window=20), Stage()], replay_earlier=0.2
    ),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shipped_algorithms_keep_the_contract(name: str, mode: Literal["local", "shared"]) -> None:
    check_algorithm(CONFIGS[name], modes=(mode,))


@pytest.mark.parametrize("name", list(CONFIGS))
def test_shipped_algorithms_hand_out_the_same_tasks_local_and_shared(name: str) -> None:
    check_algorithm(CONFIGS[name], episodes=300)


def test_knobs_set_on_the_algorithm_config_do_not_get_in_the_way() -> None:
    check_algorithm(DiscreteRandomConfig(use_shared_memory=True, session_id="ignored"), modes=("local",))


class _Counting(DiscreteRandomCurriculum):
    """Weights from a per-slot count column (so a broken hook shows up in the pool)."""

    def update(self, slot: int, score: float) -> None:
        self.pool.array("hits")[slot] += 1.0

    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        for slot, score in zip(slots.tolist(), scores.tolist(), strict=True):
            self.update(slot, score)

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        return 1.0 + self.pool.array("hits")[slots].astype(np.float64)


class _Config(CurriculumAlgorithmConfig):
    kind: str = "ok"

    def pool_fields(self) -> tuple[SlotField, ...]:
        return (("hits", "f", 1),)

    def create(self, pool: TaskPool) -> _Counting:
        broken = {
            "update_many": _DoubleUpdateMany,
            "weights": _NegativeWeights,
            "reads": _WeightsWrite,
            "eviction": _RepeatedCandidates,
            "state": _ForgetfulState,
            "priority": _PriorityOnlyOneByOne,
        }
        return broken.get(self.kind, _Counting)(self, pool)


class _DoubleUpdateMany(_Counting):
    def update_many(self, slots: npt.NDArray[np.intp], scores: npt.NDArray[np.float64]) -> None:
        self.pool.array("hits")[slots] += 2.0


class _PriorityOnlyOneByOne(_Counting):
    """Counts priorities one by one but drops them in batches (the default batch hook)."""

    def update_with_priority(self, slot: int, score: float, priority: float) -> None:
        self.pool.array("hits")[slot] += priority


class _NegativeWeights(_Counting):
    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        out = super().weights(slots)
        out[0] = -1.0
        return out


class _WeightsWrite(_Counting):
    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        self.pool.array("hits")[slots[0]] += 0.5
        return super().weights(slots)


class _RepeatedCandidates(_Counting):
    evicts = True

    def eviction_candidates(
        self, slots: npt.NDArray[np.intp], min_presentations: int, limit: int
    ) -> npt.NDArray[np.intp]:
        return np.array([slots[0], slots[0]][:limit], dtype=np.intp)


class _ForgetfulState(_Counting):
    def __init__(self, config: Any, pool: TaskPool) -> None:
        super().__init__(config, pool)
        self.updates = 0

    def update(self, slot: int, score: float) -> None:
        super().update(slot, score)
        self.updates += 1

    def weights(self, slots: npt.NDArray[np.intp]) -> npt.NDArray[np.float64]:
        out = super().weights(slots)
        out[self.updates % len(slots)] *= 50.0  # depends on state that get_state leaves out
        return out

    def get_state(self) -> dict[str, Any]:
        return {"updates": 0}


def test_a_correct_custom_algorithm_passes() -> None:
    check_algorithm(_Config(type=f"{__name__}._Config"), episodes=120)


@pytest.mark.parametrize(
    ("kind", "contract"),
    [
        ("update_many", "update_many equals repeated update"),
        ("weights", "playing episodes"),  # the curriculum's own weight check catches it first
        ("reads", "side-effect free reads"),
        ("eviction", "playing episodes"),  # evicting a slot twice fails in the pool first
        ("state", "update_many equals repeated update|state round trip"),
        ("priority", "update_many_with_priority equals repeated update_with_priority"),
    ],
)
def test_a_broken_algorithm_fails_naming_the_contract(kind: str, contract: str) -> None:
    with pytest.raises(AlgorithmContractError, match=rf"^({contract}).*\(local pool\)"):
        check_algorithm(_Config(type=f"{__name__}._Config", kind=kind), modes=("local",), episodes=120)


def test_modes_are_checked() -> None:
    with pytest.raises(ValueError, match="modes must be"):
        check_algorithm(DiscreteRandomConfig(), modes=("remote",))  # type: ignore[arg-type]
