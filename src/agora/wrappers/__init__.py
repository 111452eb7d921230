"""Environment wrappers that play curriculum tasks (each needs its optional dependency).

- :class:`agora.wrappers.puffer.CurriculumEnv`: PufferLib ``PufferEnv`` (``agora-rl[puffer]``)
- :class:`agora.wrappers.gymnasium.GymnasiumCurriculumWrapper`: ``gymnasium.Wrapper``
  (``agora-rl[gymnasium]``)
- :class:`agora.wrappers.pettingzoo.PettingZooCurriculumWrapper`: PettingZoo ``ParallelEnv``
  (``agora-rl[pettingzoo]``)

The names are also importable from this package; each import loads only its own dependency
and raises ImportError naming the extra to install when it is missing.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["CurriculumEnv", "GymnasiumCurriculumWrapper", "PettingZooCurriculumWrapper"]

_MODULES = {
    "CurriculumEnv": "agora.wrappers.puffer",
    "GymnasiumCurriculumWrapper": "agora.wrappers.gymnasium",
    "PettingZooCurriculumWrapper": "agora.wrappers.pettingzoo",
}


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module 'agora.wrappers' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
