"""Coordinators: *when* the pool engine's steps run and under which lock.

:class:`~agora.curriculum.coordination.local.LocalCoordinator` (one process owns the pool:
every step runs at once, no lock) and
:class:`~agora.curriculum.coordination.shared.SharedCoordinator` (the pool is in shared
memory: buffered scores, a cross-process lock, lock-free seqlock reads and a crash journal).
A :class:`~agora.Curriculum` binds its coordinator's per-episode methods once, as plain
attributes, and calls the rest through the same interface in both modes.
"""
