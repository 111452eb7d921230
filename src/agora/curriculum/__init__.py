"""The curriculum: its config, the tasks it hands out, and the front end users call.

- :mod:`agora.curriculum.config`: ``CurriculumConfig``
- :mod:`agora.curriculum.task`: ``CurriculumTask``, ``TaskBatch``
- :mod:`agora.curriculum.front`: ``Curriculum``, the thin front end
- :mod:`agora.curriculum.engine`: ``PoolEngine``, what happens to the pool (no locks)
- :mod:`agora.curriculum.mutation`: ``MutationConfig``, replacements as edits of favoured tasks
- :mod:`agora.curriculum.sampler`: the pre-drawn queue
- :mod:`agora.curriculum.coordination`: when and under which lock (local or shared memory)
- :mod:`agora.curriculum.validation`: checks on reported task ids and scores
- :mod:`agora.curriculum.stats`: what ``Curriculum.stats()`` reports, cached
- :mod:`agora.curriculum.stat_loggers`: the slice and label statistics behind it, and their cache

The checkpoint names are re-exported: ``agora.curriculum`` was their home before ``agora.checkpoint``.
"""

from agora.checkpoint import (
    CHECKPOINT_FORMAT,
    CheckpointError,
    check_checkpoint_folder,
    decode_array,
    read_checkpoint,
    write_checkpoint,
)
from agora.curriculum.config import CURRICULUM_KNOBS, CurriculumConfig
from agora.curriculum.engine import PoolEngine
from agora.curriculum.front import Curriculum
from agora.curriculum.mutation import MutationConfig
from agora.curriculum.task import CurriculumTask, TaskBatch, TaskIds
from agora.curriculum.validation import MAX_SCORE, checked_priority, checked_score, checked_task_id
from agora.handles import CurriculumLike, TaskHandle, TaskSource

__all__ = [
    "CHECKPOINT_FORMAT",
    "CURRICULUM_KNOBS",
    "MAX_SCORE",
    "CheckpointError",
    "Curriculum",
    "CurriculumConfig",
    "CurriculumLike",
    "CurriculumTask",
    "MutationConfig",
    "PoolEngine",
    "TaskBatch",
    "TaskHandle",
    "TaskIds",
    "TaskSource",
    "check_checkpoint_folder",
    "checked_priority",
    "checked_score",
    "checked_task_id",
    "decode_array",
    "read_checkpoint",
    "write_checkpoint",
]
