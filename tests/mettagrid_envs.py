"""Small, fast MettaGrid arena configs shared by the wrapper tests."""

from __future__ import annotations

from typing import Any


def small_arena(num_agents: int = 2, max_steps: int = 6, size: int = 6) -> Any:
    """An arena on a ``size`` x ``size`` map (plus a 1-cell border) with short episodes."""
    from mettagrid.builder.envs import make_arena

    cfg = make_arena(num_agents=num_agents)
    cfg.game.max_steps = max_steps
    cfg.game.map_builder.width = size
    cfg.game.map_builder.height = size
    cfg.game.map_builder.border_width = 1
    cfg.game.map_builder.instance.objects = {"wall": 2}
    return cfg
