"""What every environment wrapper shares: the task lifecycle and batched statistics.

A :class:`TaskDriver` owns the curriculum side of one environment instance. The wrappers
call it only at episode boundaries (:meth:`TaskDriver.next_task`, :meth:`TaskDriver.finish`)
and, every ``stats_interval`` steps, for :meth:`TaskDriver.stats`; nothing curriculum-related
runs on the other steps, so a step costs the wrapper two lookups and a counter increment.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from typing import Any

from agora.curriculum import Curriculum, CurriculumConfig
from agora.handles import CurriculumLike, TaskHandle
from agora.runlog import RunLog

__all__ = [
    "PRIORITY_KEY",
    "STATS_PREFIX",
    "TASK_ID_KEY",
    "TASK_LABEL_KEY",
    "TASK_REPLAY_KEY",
    "ApplyConfig",
    "ScoreRange",
    "TaskDriver",
    "checked_score_range",
    "curriculum_stats",
    "missing_extra",
    "set_mg_config",
]

STATS_PREFIX = "env_curriculum/"
"""Prefix of every key the wrappers add to ``info``."""

TASK_ID_KEY = STATS_PREFIX + "task_id"
TASK_LABEL_KEY = STATS_PREFIX + "task_label"
TASK_REPLAY_KEY = STATS_PREFIX + "is_replay"
"""Whether the task being played is a replay (``TaskHandle.is_replay``): Robust PLR trains only on those."""

PRIORITY_KEY = "agora_priority"
"""Default key of a priority score in an episode's final ``info`` (set by the env or an inner
wrapper that knows the learner's value estimates): reported beside the success score, for PLR."""

ApplyConfig = Callable[[Any, Any], None]
"""``apply_config(env, config)``: make ``env`` play ``config`` from its next episode on."""

ScoreRange = tuple[float, float]
"""``(low, high)``: the episode returns that count as no and as full success."""


_CPU_ROUTES = {
    "puffer": (
        "on a CPU-only machine that would pull the multi-GB CUDA build of torch which pufferlib-core "
        "pins, so install the CPU build of torch first and pufferlib-core without its pins: "
        "pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0 && "
        "pip install --no-deps pufferlib-core && pip install gymnasium psutil rich (see docs/integrations.md)"
    ),
}
"""Extras whose plain install is wrong on CPU-only machines (PyPI's Linux torch is a CUDA build)."""


def missing_extra(package: str, extra: str, exc: ImportError) -> ImportError:
    """An ImportError that tells the user which extra of agora-rl to install, and how on a CPU."""
    cpu = f" with a GPU; {_CPU_ROUTES[extra]}" if extra in _CPU_ROUTES else ""
    return ImportError(
        f"{package} could not be imported ({exc}); agora's {extra} support needs it: "
        f"pip install 'agora-rl[{extra}]'{cpu}"
    )


def set_mg_config(env: Any, config: Any) -> None:
    """MettaGrid's convention: ``env.set_mg_config(config)`` takes effect at the next episode."""
    env.set_mg_config(config)


def require_method(env: Any, name: str, role: str) -> None:
    """Fail at construction, not at the first episode end, when a default hook does not fit ``env``."""
    if not callable(getattr(env, name, None)):
        raise TypeError(
            f"{type(env).__name__} has no {name}() method, which the default {role} uses; "
            f"pass {role}=... to the wrapper"
        )


_PER_EPISODE_API = ("get_task", "update_task_performance", "stats")


def _make_curriculum(curriculum: CurriculumLike[Any] | CurriculumConfig) -> CurriculumLike[Any]:
    if isinstance(curriculum, CurriculumConfig):
        return curriculum.make()
    # Typed as CurriculumLike, e.g. agora.distributed's client; at run time the driver needs only
    # the three methods it calls per episode (and close, if it has one).
    if isinstance(curriculum, Curriculum) or all(
        callable(getattr(curriculum, m, None)) for m in _PER_EPISODE_API
    ):
        return curriculum
    raise TypeError(
        f"curriculum must be a Curriculum or a CurriculumConfig, got {type(curriculum).__name__} "
        "(or any object with get_task, update_task_performance and stats)"
    )


class TaskDriver:
    """Takes tasks from a curriculum, reports their scores and collects statistics.

    ``curriculum`` may be a :class:`~agora.Curriculum` (shared by every wrapper holding it,
    within one process) or a :class:`~agora.CurriculumConfig`, from which this driver builds
    its own; with ``use_shared_memory=True`` and a ``session_id`` in the config,
    drivers in different processes then share one pool. Any object with the per-episode
    interface (:class:`~agora.CurriculumLike`) also works, e.g. an
    ``agora.distributed.RayCurriculumClient``; the driver closes
    only a curriculum it built. A ``run_log`` counts every reported episode (see :mod:`agora.runlog`).
    """

    def __init__(
        self,
        curriculum: CurriculumLike[Any] | CurriculumConfig,
        stats_interval: int,
        score_range: ScoreRange | None = None,
        run_log: RunLog | None = None,
    ) -> None:
        if run_log is not None and not isinstance(run_log, RunLog):
            raise TypeError(f"run_log must be an agora.RunLog or None, got {type(run_log).__name__}")
        stats_interval = checked_stats_interval(stats_interval)
        self._owns_curriculum = isinstance(curriculum, CurriculumConfig)
        self.curriculum = _make_curriculum(curriculum)
        if isinstance(self.curriculum, Curriculum):
            self.curriculum.warn_if_copied()
        self.score_range = checked_score_range(score_range)
        self.run_log = run_log
        self.stats_interval = stats_interval
        self.task: TaskHandle[Any] | None = None
        self.num_episodes = 0
        self._label_samples: dict[str, int] = {}

    def next_task(self) -> TaskHandle[Any]:
        self.task = self.curriculum.get_task()
        return self.task

    def finish(self, score: float, priority: float | None = None) -> None:
        """Report the current task's episode score (and priority, if any); the task is then over."""
        task = self.task
        if task is None:
            raise RuntimeError("an episode ended before any task was started: call reset() first")
        score = float(score)
        if not math.isfinite(score):
            raise ValueError(f"episode score for task {task.task_id} is {score!r}: scores must be finite")
        if not 0.0 <= score <= 1.0:
            warn_score_scale(score)
        if priority is None:
            self.curriculum.update_task_performance(task.task_id, score)
        else:  # checked by the curriculum, which names a bad value
            self.curriculum.update_task_performance(task.task_id, score, priority=priority)
        if self.run_log is not None:
            self.run_log.episode(self.curriculum, task, score)
        self.num_episodes += 1
        label = task.get_label()
        if label is not None:
            self._label_samples[label] = self._label_samples.get(label, 0) + 1
        self.task = None

    def scaled(self, episode_return: float) -> float:
        """``episode_return`` mapped linearly from ``score_range`` onto [0, 1] (clipped), else as is."""
        if self.score_range is None:
            return episode_return
        low, high = self.score_range
        return min(max((episode_return - low) / (high - low), 0.0), 1.0)

    def close(self) -> None:
        """Release the curriculum if this driver built it (shared pools detach); otherwise
        deliver the scores a shared pool still buffers from this process. The run log records
        its remaining episodes first."""
        if self.run_log is not None:
            self.run_log.flush(self.curriculum)
        close = getattr(self.curriculum, "close", None)
        if self._owns_curriculum and close is not None:
            close()
        elif isinstance(self.curriculum, Curriculum):
            self.curriculum.flush()

    def stats(self) -> dict[str, float]:
        """Curriculum statistics plus this wrapper's per-label episode counts since the last call."""
        out = curriculum_stats(self.curriculum)
        for label, count in self._label_samples.items():
            out[f"{STATS_PREFIX}label/{label}/samples"] = float(count)
        self._label_samples.clear()
        return out


def checked_stats_interval(steps: object) -> int:
    """``steps`` if it is a positive int (steps between statistics reports), else ValueError."""
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"stats_interval must be a positive int (steps per report): {steps!r}")
    return steps


def checked_score_range(score_range: object) -> ScoreRange | None:
    """``score_range`` as a float pair ``(low, high)`` with ``low < high``, or None."""
    if score_range is None:
        return None
    try:
        low, high = (float(x) for x in score_range)  # type: ignore[attr-defined]
    except (TypeError, ValueError):
        raise ValueError(f"score_range must be a pair (low, high) of numbers: {score_range!r}") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"score_range must be finite with low < high: {score_range!r}")
    return low, high


_scale_warned = False


def warn_score_scale(score: float) -> None:
    """Warn once per process that scores outside [0, 1] reach the curriculum, naming the fixes."""
    global _scale_warned
    if _scale_warned:
        return
    _scale_warned = True
    warnings.warn(
        f"agora: an episode score of {score!r} reached the curriculum; learning progress reads scores "
        "as success rates and clips them to [0, 1], so it cannot tell these episodes apart. Report "
        "success in info[success_key], or pass score_range=(low, high) to the wrapper to scale "
        "returns (see docs/integrations.md, 'Scores')",
        RuntimeWarning,
        stacklevel=4,
    )


def resolve_apply_config(env: Any, apply_config: ApplyConfig | None) -> ApplyConfig:
    """``apply_config``, or MettaGrid's ``set_mg_config`` after checking that ``env`` has it."""
    if apply_config is None:
        require_method(env, "set_mg_config", "apply_config")
        return set_mg_config
    return apply_config


class DrivenWrapper:
    """What every agora wrapper shares: a :class:`TaskDriver` and read-only views of it."""

    _driver: TaskDriver
    _stats_interval: int
    _steps: int

    def _init_driver(
        self,
        curriculum: CurriculumLike[Any] | CurriculumConfig,
        stats_interval: int,
        score_range: ScoreRange | None = None,
        run_log: RunLog | None = None,
    ) -> None:
        self._driver = TaskDriver(curriculum, stats_interval, score_range, run_log)
        self._stats_interval = self._driver.stats_interval
        self._steps = 0  # steps since statistics were last added to an info

    def set_stats_update_frequency(self, frequency: int) -> None:
        """Add curriculum statistics to ``info`` every ``frequency`` steps from now on (the
        ``stats_interval`` given to the constructor; Metta's name for changing it)."""
        self._stats_interval = self._driver.stats_interval = checked_stats_interval(frequency)
        self._steps = 0

    def force_stats_update(self) -> None:
        """Add curriculum statistics to the next step's ``info``, whatever the interval."""
        self._steps = self._stats_interval

    @property
    def curriculum(self) -> CurriculumLike[Any]:
        return self._driver.curriculum

    @property
    def current_task(self) -> TaskHandle[Any] | None:
        """The task being played (``None`` before the first; between episodes too, but in CurriculumEnv)."""
        return self._driver.task

    @property
    def num_episodes(self) -> int:
        """Episodes this wrapper has reported to the curriculum."""
        return self._driver.num_episodes


def curriculum_stats(curriculum: CurriculumLike[Any]) -> dict[str, float]:
    """``curriculum.stats()`` under :data:`STATS_PREFIX` (per-label LP is ``label/<label>/mean_lp``)."""
    return {STATS_PREFIX + key: value for key, value in curriculum.stats().items()}
