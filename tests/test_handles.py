"""CurriculumLike: every curriculum front end offers the same per-episode API, checked at run
time (structurally) and by mypy."""

from __future__ import annotations

import inspect
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

import agora
from agora import CurriculumConfig, CurriculumLike
from agora.algorithms import DiscreteRandomConfig
from agora.distributed import RayCurriculumClient
from conftest import new_session
from core_models import MazeConfig

SRC = Path(__file__).resolve().parent.parent / "src"
MEMBERS = [name for name in dir(CurriculumLike) if not name.startswith("_")]


def config(**algorithm: Any) -> CurriculumConfig:
    generator = agora.bucketed(MazeConfig()).add_bucket("size", [3, 5, 7])
    return generator.to_curriculum(num_active_tasks=6, algorithm_config=DiscreteRandomConfig(**algorithm))


def test_the_protocol_is_the_per_episode_api() -> None:
    assert {"get_task", "get_tasks", "update_task_performance", "update_task_performance_many"} <= set(
        MEMBERS
    )
    assert {"stats", "flush", "close", "generated", "task_generator"} <= set(MEMBERS)


def _parameters(function: Any) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name != "self"]


@pytest.mark.parametrize("front", ["Curriculum", "RayCurriculumClient"])
def test_front_ends_have_every_member_with_its_parameter_names(front: str) -> None:
    # A Curriculum instance: its per-episode methods are its coordinator's, bound in __init__.
    owner: Any = config().make() if front == "Curriculum" else RayCurriculumClient
    for name in MEMBERS:
        expected = inspect.getattr_static(CurriculumLike, name)
        actual = inspect.getattr_static(owner, name, None)
        assert actual is not None, f"{front} has no {name}"
        if isinstance(expected, property):
            assert isinstance(actual, property), f"{front}.{name} is not a property"
            continue
        wanted = _parameters(expected)
        assert _parameters(actual)[: len(wanted)] == wanted, f"{front}.{name}"


def test_local_and_shared_curricula_are_curriculum_like() -> None:
    local = config().make()
    assert isinstance(local, CurriculumLike)
    with config(use_shared_memory=True, session_id=new_session()).make() as shared:
        assert isinstance(shared, CurriculumLike)
        task = shared.get_task()
        shared.update_task_performance(task.task_id, 1.0)
        shared.flush()
        assert shared.stats()["num_completed"] == 1


def test_mypy_accepts_both_front_ends_and_rejects_a_partial_one(tmp_path: Path) -> None:
    pytest.importorskip("mypy")
    checked = tmp_path / "front_ends.py"
    checked.write_text(
        textwrap.dedent(
            """
            from typing import Any

            from agora import Curriculum, CurriculumLike
            from agora.distributed import RayCurriculumClient


            class OnlyTasks:
                def get_task(self) -> Any: ...


            def local(c: Curriculum[Any]) -> CurriculumLike[Any]:
                return c


            def remote(c: RayCurriculumClient[Any]) -> CurriculumLike[Any]:
                return c


            def partial(c: OnlyTasks) -> CurriculumLike[Any]:
                return c  # the one expected error
            """
        )
    )
    env = {**os.environ, "MYPYPATH": str(SRC)}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "mypy",
            "--strict",
            "--no-error-summary",
            "--cache-dir",
            str(tmp_path / "cache"),
            "--follow-imports",
            "silent",
            str(checked),
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
        timeout=600,
    )
    errors = [line for line in proc.stdout.splitlines() if ": error:" in line]
    assert len(errors) == 1, proc.stdout + proc.stderr
    assert (
        "return c  # the one expected error"
        in checked.read_text().splitlines()[int(errors[0].split(":")[1]) - 1]
    )
