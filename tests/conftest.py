"""Suite-wide checks."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

SHM = Path("/dev/shm")


def agora_segments() -> set[str]:
    """Names of agora shared-memory segments (and lock files) currently in /dev/shm."""
    if not SHM.is_dir():
        return set()
    return {name for name in os.listdir(SHM) if name.startswith("ag_")}


@pytest.fixture(scope="session", autouse=True)
def _no_leftover_shared_memory() -> Iterator[None]:
    """Fail the run if any test leaves an agora segment in /dev/shm."""
    before = agora_segments()
    yield
    left = agora_segments() - before
    assert not left, f"shared-memory segments left behind by the test suite: {sorted(left)}"
