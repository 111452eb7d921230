"""Suite-wide checks: every shared-memory session the tests create is removed again.

Only sessions the tests made (through :func:`new_session` or :func:`track_session`) are
checked, so other agora processes on the same machine cannot fail the run.
"""

from __future__ import annotations

import _posixshmem  # type: ignore[import-not-found]
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Literal

import pytest

from agora.curriculum import Curriculum, CurriculumConfig
from agora.tracking.shared import segment_name

_SESSIONS: set[str] = set()


def new_session() -> str:
    """A fresh session id, remembered so that the suite checks its segment is removed."""
    return track_session(f"test-{uuid.uuid4().hex}")


def track_session(session_id: str) -> str:
    """Remember a session the tests created (e.g. one a curriculum named itself)."""
    _SESSIONS.add(session_id)
    return session_id


def sessions_created() -> set[str]:
    """Every session id the tests have created so far."""
    return set(_SESSIONS)


def segment_exists(session_id: str | None) -> bool:
    """Whether the shared-memory segment of ``session_id`` exists (by name, on any POSIX system)."""
    try:
        fd = _posixshmem.shm_open("/" + segment_name(session_id or ""), os.O_RDONLY, mode=0o600)
    except FileNotFoundError:
        return False
    os.close(fd)
    return True


def leftover_sessions(sessions: set[str] | None = None) -> list[str]:
    """Sessions the tests created (or ``sessions``) whose segment still exists."""
    return sorted(s for s in (_SESSIONS if sessions is None else sessions) if segment_exists(s))


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_shared_memory() -> Iterator[None]:
    """Fail the run if a session a test created still has its segment at the end."""
    yield
    left = leftover_sessions()
    assert not left, f"shared-memory sessions left behind by the test suite: {left}"


Mode = Literal["local", "shared"]
Make = Callable[[CurriculumConfig], Curriculum[Any]]
"""Builds a curriculum from a config in the test's pool mode (the :func:`make` fixture)."""


def in_mode(config: CurriculumConfig, mode: Mode) -> CurriculumConfig:
    """``config`` for a pool of ``mode``: shared, each curriculum made from it opens a new session
    (``session_id`` None) and applies each score as it comes (``shared_update_batch=1``), so
    that it behaves exactly like a local pool, down to the states it saves."""
    if mode == "local":
        return config
    shared = config.model_copy()
    # Assigned one by one: validated, so the algorithm config mirrors them as in any config.
    shared.use_shared_memory = True
    shared.session_id = None
    shared.shared_update_batch = 1
    return shared


@pytest.fixture(params=["local", "shared"])
def mode(request: pytest.FixtureRequest) -> Mode:
    """Each test that takes it runs on a local pool and on a single-process shared one."""
    return request.param  # type: ignore[no-any-return]


@pytest.fixture
def make(mode: Mode) -> Iterator[Make]:
    """``make(config)``: the curriculum of ``config`` in this test's mode, closed after the test."""
    made: list[Curriculum[Any]] = []

    def build(config: CurriculumConfig) -> Curriculum[Any]:
        curriculum = in_mode(config, mode).make()
        if curriculum.session_id is not None:
            track_session(curriculum.session_id)
        made.append(curriculum)
        return curriculum

    yield build
    for curriculum in made:
        curriculum.close()
