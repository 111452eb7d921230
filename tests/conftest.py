"""Suite-wide checks: every shared-memory session the tests create is removed again.

Only sessions the tests made (through :func:`new_session` or :func:`track_session`) are
checked, so other agora processes on the same machine cannot fail the run.
"""

from __future__ import annotations

import _posixshmem  # type: ignore[import-not-found]
import os
import uuid
from collections.abc import Iterator

import pytest

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
