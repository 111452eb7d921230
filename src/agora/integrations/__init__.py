"""Integrations with specific environments (each needs its optional dependency).

- :mod:`agora.integrations.mettagrid`: MettaGrid configs, invariants and wrapped envs
  (``agora-rl[mettagrid]``)
"""
