"""Where per-task state lives: the memory a pool's columns sit in, and the per-task trackers.

- :mod:`agora.tracking.memory`: ``TaskMemoryBackend``, ``LocalMemoryBackend``
- :mod:`agora.tracking.shared`: ``SharedMemoryBackend``, ``CentralizedTaskTracker``,
  ``LayoutMismatchError``, ``unlink_session``
- :mod:`agora.tracking.tracker`: ``TaskTracker``, ``LocalTaskTracker``

What is reported about that state (slice and label statistics, their cache) is the
curriculum's: :mod:`agora.curriculum.stat_loggers`.

The submodules are not re-exported here: the pool imports the memory backends, and the
trackers import the pool, so importing them all from this package would be circular.
"""
