"""Where each public name of Metta's ``metta.cogworks.curriculum`` lives in agora.

Plain data (no libcst), so that :func:`agora.config.load_symbol` can translate old ``type``
strings of saved configs without the ``migrate`` extra installed.
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

__all__ = [
    "METTAGRID_CONFIG",
    "NO_EQUIVALENT",
    "OLD_MODULES",
    "OLD_PACKAGE",
    "Target",
    "new_path",
    "split_old_path",
    "target",
]

OLD_PACKAGE = "metta.cogworks.curriculum"
METTAGRID_CONFIG = "mettagrid.config.mettagrid_config.MettaGridConfig"
"""The env class of every single-task config Metta saved (its ``env`` had no ``env_type``)."""


class Target(NamedTuple):
    """An agora module and the name to import from it."""

    module: str
    name: str


_IN = {
    "agora": (
        "Curriculum",
        "CurriculumConfig",
        "CurriculumTask",
        "CurriculumAlgorithm",
        "CurriculumAlgorithmConfig",
        "DiscreteRandomConfig",
        "LearningProgressConfig",
        "TaskGenerator",
        "TaskGeneratorConfig",
        "SingleTaskGenerator",
        "TaskGeneratorSet",
        "BucketedTaskGenerator",
        "Span",
        # The generic helpers take any pydantic config, MettaGridConfig included, and attach no
        # invariants, as in Metta (agora.integrations.mettagrid's versions add MettaGridInvariants).
        "single_task",
        "bucketed",
        "merge",
        "env_curriculum",
    ),
    "agora.algorithms": (
        "DiscreteRandomCurriculum",
        "LPScorer",
        "BidirectionalLPScorer",
        "BasicLPScorer",
    ),
    "agora.generators": ("AnyTaskGeneratorConfig",),
    "agora.wrappers.puffer": ("CurriculumEnv",),
    "agora.curriculum.stat_loggers": (
        "StatsLogger",
        "SliceAnalyzer",
        "LPStatsAggregator",
        "CacheCoordinator",
    ),
    "agora.tracking.tracker": ("TaskTracker", "LocalTaskTracker"),
    "agora.tracking.memory": ("TaskMemoryBackend", "LocalMemoryBackend"),
    "agora.tracking.shared": ("SharedMemoryBackend", "CentralizedTaskTracker"),
    # Re-exported by Metta's package from MettaGrid, where it still lives.
    METTAGRID_CONFIG.rpartition(".")[0]: ("MettaGridConfig",),
}

_TARGETS: dict[str, Target] = {name: Target(module, name) for module, names in _IN.items() for name in names}
_TARGETS["SharedTaskMemory"] = Target("agora.tracking.shared", "SharedMemoryBackend")  # Metta's alias
# Metta built its algorithm on its own, LearningProgressAlgorithm(num_tasks, hypers), and drove it by
# task id; agora's LearningProgressAlgorithm works on a curriculum's pool slots instead.
_TARGETS["LearningProgressAlgorithm"] = Target("agora.algorithms.standalone", "StandaloneAlgorithm")

NO_EQUIVALENT: dict[str, str] = {
    "DEFAULT_SUCCESS_RATE": "agora's scorers have no default success-rate constant",
    "TTaskGenerator": "a private TypeVar; declare your own TypeVar bound to agora.TaskGenerator",
}
"""Old public names that agora does not provide, with why (reported, never rewritten)."""

OLD_MODULES: dict[str, tuple[str, tuple[str, ...]]] = {
    OLD_PACKAGE: (
        "agora",
        (
            "Curriculum",
            "CurriculumConfig",
            "CurriculumTask",
            "LearningProgressAlgorithm",
            "LearningProgressConfig",
            "StatsLogger",
            "SliceAnalyzer",
            "TaskTracker",
            "TaskGenerator",
            "TaskGeneratorConfig",
            "AnyTaskGeneratorConfig",
            "SingleTaskGenerator",
            "TaskGeneratorSet",
            "BucketedTaskGenerator",
            "Span",
            "bucketed",
            "single_task",
            "merge",
            "env_curriculum",
            "CurriculumEnv",
            "MettaGridConfig",
        ),
    ),
    f"{OLD_PACKAGE}.curriculum": (
        "agora",
        (
            "CurriculumTask",
            "CurriculumAlgorithmConfig",
            "CurriculumAlgorithm",
            "DiscreteRandomConfig",
            "DiscreteRandomCurriculum",
            "CurriculumConfig",
            "Curriculum",
            "LearningProgressConfig",
        ),
    ),
    f"{OLD_PACKAGE}.curriculum_env": ("agora.wrappers.puffer", ("CurriculumEnv",)),
    f"{OLD_PACKAGE}.learning_progress_algorithm": (
        "agora.algorithms",
        ("LearningProgressConfig", "LearningProgressAlgorithm"),
    ),
    f"{OLD_PACKAGE}.lp_scorers": ("agora.algorithms", ("LPScorer", "BidirectionalLPScorer", "BasicLPScorer")),
    f"{OLD_PACKAGE}.shared_memory_backend": (
        "agora.tracking.shared",
        ("TaskMemoryBackend", "LocalMemoryBackend", "SharedMemoryBackend", "SharedTaskMemory"),
    ),
    f"{OLD_PACKAGE}.stats": (
        "agora.curriculum.stat_loggers",
        ("StatsLogger", "SliceAnalyzer", "LPStatsAggregator", "CacheCoordinator"),
    ),
    f"{OLD_PACKAGE}.task_generator": (
        "agora.generators",
        (
            "TaskGeneratorConfig",
            "TaskGenerator",
            "SingleTaskGenerator",
            "TaskGeneratorSet",
            "Span",
            "BucketedTaskGenerator",
            "AnyTaskGeneratorConfig",
        ),
    ),
    f"{OLD_PACKAGE}.task_tracker": (
        "agora.tracking.tracker",
        ("TaskTracker", "LocalTaskTracker", "CentralizedTaskTracker"),
    ),
}
"""Each old module: the agora module a bare module import becomes, and the public names it had."""


def target(name: str) -> Target | None:
    """Where the old public ``name`` lives in agora (``None``: no equivalent or unknown)."""
    return _TARGETS.get(name)


def split_old_path(path: str) -> tuple[str, str, list[str]] | None:
    """``metta.cogworks.curriculum.mod.Name.Attr`` -> (old module, ``Name``, ``["Attr"]``).

    ``None`` if ``path`` is not under the old package or names a module with nothing after it.
    """
    parts = path.split(".")
    for end in range(len(parts) - 1, 2, -1):
        module = ".".join(parts[:end])
        if module in OLD_MODULES:
            return module, parts[end], parts[end + 1 :]
    return None


def new_path(path: str) -> str | None:
    """The agora import path for an old dotted path (a ``type`` string), ``None`` if it has none.

    The result is the defining module's path (what agora itself writes into configs) when
    the target imports, else the public module's.
    """
    split = split_old_path(path)
    found = split and target(split[1])
    if not split or not found:
        return None
    rest = "".join(f".{part}" for part in split[2])
    try:
        obj = getattr(importlib.import_module(found.module), found.name)
        return f"{obj.__module__}.{obj.__qualname__}{rest}"
    except (ImportError, AttributeError):  # e.g. the puffer extra is not installed
        return f"{found.module}.{found.name}{rest}"
