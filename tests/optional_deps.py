"""Import an optional dependency for a test module: skip without it, unless CI requires it."""

from __future__ import annotations

import importlib
import os
from types import ModuleType

import pytest


def require(module: str) -> ModuleType:
    """``pytest.importorskip``, except that with AGORA_REQUIRE_OPTIONAL=1 a missing module fails."""
    if os.environ.get("AGORA_REQUIRE_OPTIONAL") == "1":
        return importlib.import_module(module)
    return pytest.importorskip(module)
