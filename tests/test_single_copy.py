"""SingleTaskGenerator hands out independent copies, fast (pickled snapshot) or not (local classes)."""

from __future__ import annotations

from pydantic import BaseModel

import agora


class Board(BaseModel):
    cells: list[int] = [0, 0, 0]
    rules: dict[str, float] = {"win": 1.0}


def test_generated_configs_are_independent_copies() -> None:
    class LocalBoard(BaseModel):  # not picklable: defined in a function
        cells: list[int] = [0, 0, 0]

    for config in (Board(), LocalBoard()):
        generator = agora.single_task(config).create()
        first = generator.get_task(1)
        first.cells.append(9)
        second = generator.get_task(1)
        assert second == config
        assert type(second) is type(config)
        assert second is not config
    assert Board().cells == [0, 0, 0]
