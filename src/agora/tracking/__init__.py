"""Where per-task state lives and what is reported about it.

- :mod:`agora.tracking.memory`: ``TaskMemoryBackend``, ``LocalMemoryBackend``
- :mod:`agora.tracking.shared`: ``SharedMemoryBackend``, ``CentralizedTaskTracker``,
  ``LayoutMismatchError``, ``unlink_session``
- :mod:`agora.tracking.tracker`: ``TaskTracker``, ``LocalTaskTracker``
- :mod:`agora.tracking.stats`: ``StatsLogger``, ``SliceAnalyzer``, ``LPStatsAggregator``,
  ``CacheCoordinator``

The submodules are not re-exported here: the pool imports the memory backends, and the
trackers import the pool, so importing them all from this package would be circular.
"""
