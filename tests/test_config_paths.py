"""apply_overrides through lists, and without losing the class of union-typed sub-models."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, field_validator

from agora.config import apply_overrides


class Const(BaseModel):
    value: float


class Sum(BaseModel):
    values: list[Const | Sum | Min]
    weights: list[float]


class Min(BaseModel):
    """Same fields as Sum: a dump of either validates as the first class of the union."""

    values: list[Const | Sum | Min]
    weights: list[float]


class Reward(BaseModel):
    expression: Sum | Min
    scale: float = 1.0

    @field_validator("scale")
    @classmethod
    def _positive(cls, scale: float) -> float:
        if scale <= 0:
            raise ValueError("scale must be positive")
        return scale


def capped() -> Reward:
    return Reward(
        expression=Min(values=[Sum(values=[Const(value=1)], weights=[1.0]), Const(value=2)], weights=[1, 1])
    )


def test_list_segments_index_into_lists() -> None:
    result = apply_overrides(capped(), {"expression.values.0.weights.0": 0.5, "expression.values.1.value": 3})
    assert result.expression.values[0].weights == [0.5]
    assert result.expression.values[1] == Const(value=3.0)


def test_union_members_keep_their_class() -> None:
    result = apply_overrides(capped(), {"expression.values.1.value": 3, "scale": 2})
    assert type(result.expression) is Min
    assert type(result.expression.values[0]) is Sum
    # What a dump-and-validate round trip would have done instead:
    assert type(Reward.model_validate(capped().model_dump()).expression) is Sum


def test_input_is_left_unchanged_and_validators_run() -> None:
    config = capped()
    apply_overrides(config, {"expression.values.0.weights.0": 0.5})
    assert config == capped()
    with pytest.raises(ValueError, match="scale must be positive"):
        apply_overrides(config, {"scale": 0})


@pytest.mark.parametrize(
    ("path", "missing"), [("expression.values.2.value", "2"), ("expression.values.first", "first")]
)
def test_bad_list_segments_name_the_path(path: str, missing: str) -> None:
    with pytest.raises(KeyError) as info:
        apply_overrides(capped(), {path: 1})
    assert repr(path) in str(info.value)
    assert repr(missing) in str(info.value)
