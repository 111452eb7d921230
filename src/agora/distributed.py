"""One curriculum shared by workers anywhere in a Ray cluster.

The curriculum lives in a Ray actor (:class:`RayCurriculum` starts it). Each worker makes a
:class:`RayCurriculumClient`, which has the per-episode interface of
:class:`~agora.curriculum.Curriculum` (``get_task``, ``update_task_performance``, the batch
calls, ``stats``), so env wrappers use it unchanged. Configs are generated in the worker from
the task id (generation is deterministic); only ids, scores and priorities cross the network.

Per-episode cost stays low because the client talks to the actor in batches from a
background thread: it keeps up to ``prefetch`` task ids in hand and buffers scores, sending
them every ``flush_every`` episodes or ``flush_interval_ms`` milliseconds, whichever comes
first (one round trip carries the scores and the next task ids). Staleness this adds: a
task is handed out up to ``prefetch`` episodes after the actor drew it, and a score reaches
the actor up to ``flush_every`` episodes or ``flush_interval_ms`` (plus one round trip)
after it was reported.

Delivery guarantee (with a ``checkpoint_path``): every score reported through a client
that keeps running or is closed is applied to the curriculum exactly once, however often
the actor dies and is restarted. Each client numbers its batches; the actor applies batch
``n`` of a client only right after batch ``n - 1`` and skips batches it already applied, and
its checkpoints record the last batch applied per client (in the checkpoint extension
``distributed``, see :mod:`agora.checkpoint`). A client keeps every batch until
a checkpoint covers it; a restarted actor reloads the last checkpoint and, on each
client's next call, reports how far it got, and the client resends the rest in order.
Scores of a client that dies (without ``close``) after its last checkpointed batch are lost.
A score for a task evicted meanwhile is counted once as completed and as stale (it changes
no task statistics); one for a task created after the checkpoint a restarted actor
reloaded is counted once as unknown.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Sequence
from functools import lru_cache
from pathlib import Path
from types import ModuleType, TracebackType
from typing import TYPE_CHECKING, Any, Generic

from pydantic import BaseModel, ConfigDict, Field

from agora.checkpoint import (
    check_checkpoint_folder,
    get_extension,
    read_checkpoint,
    set_extension,
    write_checkpoint,
)
from agora.config import TConfig
from agora.curriculum import (
    Curriculum,
    CurriculumConfig,
    TaskHandle,
    checked_priority,
    checked_score,
    checked_task_id,
)
from agora.generators.base import GeneratedTask, TaskGenerator

if TYPE_CHECKING:
    from ray.actor import ActorHandle

__all__ = ["ClientOptions", "ClientTask", "CurriculumShutDown", "RayCurriculum", "RayCurriculumClient"]

_Batch = tuple[int, list[int], list[float], list[float] | None]
"""(sequence number, task ids, scores, priorities: None when no score in the batch came with one)."""


def _ray() -> ModuleType:
    try:
        import ray
    except ImportError as exc:
        raise ImportError(
            "agora.distributed needs Ray, which is not installed: pip install 'agora-rl[ray]'"
        ) from exc
    return ray


class CurriculumShutDown(RuntimeError):
    """The shared curriculum was shut down; this client no longer hands out tasks."""


class ClientOptions(BaseModel):
    """Batching of a :class:`RayCurriculumClient` (the trade-off is cost per episode vs staleness)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prefetch: int = Field(default=128, gt=0, description="Task ids kept in hand (refilled at half).")
    flush_every: int = Field(default=64, gt=0, description="Send buffered scores after this many episodes.")
    flush_interval_ms: float = Field(
        default=100.0, gt=0, description="...or once the oldest buffered score is this old."
    )
    heartbeat_s: float = Field(
        default=1.0, gt=0, description="An idle client checks in this often (so a shutdown reaches it)."
    )
    retry_timeout_s: float = Field(
        default=120.0, gt=0, description="How long to keep retrying a restarting actor before failing."
    )


class _CurriculumActor:
    """The actor body: a :class:`Curriculum` plus the per-client batch bookkeeping."""

    def __init__(
        self,
        config: CurriculumConfig,
        checkpoint_path: str | None,
        checkpoint_every: int,
        checkpoint_interval_s: float,
        resume: bool,
    ) -> None:
        self._curriculum: Curriculum[Any] = Curriculum(config)
        self._path = checkpoint_path
        self._every = checkpoint_every
        self._interval = checkpoint_interval_s
        self._applied: dict[str, int] = {}  # client id -> last batch applied
        self._durable: dict[str, int] = {}  # client id -> last batch in the recovery checkpoint
        self._open: set[str] = set()  # not checkpointed: live clients check in within heartbeat_s
        self._counters = dict.fromkeys(
            (
                "num_restarts",
                "num_checkpoints",
                "num_duplicate_batches",
                "num_resend_requests",
                "num_unknown",
            ),
            0,
        )
        self._since_checkpoint = 0
        self._last_checkpoint = time.monotonic()
        self._shutting_down = False
        restarted = bool(_ray().get_runtime_context().was_current_actor_reconstructed)
        if self._path is not None and (restarted or resume) and Path(self._path).exists():
            self._load(self._path)
        if restarted:
            self._counters["num_restarts"] += 1
        if self._path is not None:
            # An old file at the path must never be what a restart reloads.
            self._checkpoint([self._path])

    def get_config(self) -> CurriculumConfig:
        return self._curriculum.config

    def exchange(
        self, client_id: str, batches: list[_Batch], want: int, closing: bool
    ) -> tuple[int, int, list[int], list[bool], bool]:
        """Apply ``batches`` in sequence, hand out ``want`` task ids.

        Returns (last batch applied, last batch checkpointed, task ids, whether each is a
        replay, shutting down).
        """
        applied = self._applied.get(client_id, 0)
        for seq, task_ids, scores, priorities in batches:
            if seq <= applied:
                self._counters["num_duplicate_batches"] += 1
                continue
            if seq != applied + 1:  # a gap: this actor restarted from a checkpoint; the client resends
                self._counters["num_resend_requests"] += 1
                break
            self._apply(task_ids, scores, priorities)
            self._since_checkpoint += len(task_ids)
            applied = seq
        self._applied[client_id] = applied
        handed = self._curriculum.get_tasks(want)
        if closing:
            self._open.discard(client_id)
        else:
            self._open.add(client_id)
        if self._path is not None and (
            (closing and self._since_checkpoint)
            or self._since_checkpoint >= self._every
            or (self._since_checkpoint and time.monotonic() - self._last_checkpoint >= self._interval)
        ):
            self._checkpoint([self._path])
        durable = self._durable.get(client_id, 0) if self._path is not None else applied
        tasks, replays = handed.task_ids.tolist(), handed.is_replay.tolist()
        return applied, durable, tasks, replays, self._shutting_down

    def _apply(self, task_ids: list[int], scores: list[float], priorities: list[float] | None) -> None:
        curriculum = self._curriculum
        try:  # validated before anything is applied: all or nothing
            curriculum.update_task_performance_many(task_ids, scores, priorities=priorities)
        except ValueError:  # an id the pool never had (scores are validated by the client)
            for i, (task_id, score) in enumerate(zip(task_ids, scores, strict=True)):
                try:
                    if priorities is None:
                        curriculum.update_task_performance(task_id, score)
                    else:
                        curriculum.update_task_performance(task_id, score, priority=priorities[i])
                except ValueError:
                    self._counters["num_unknown"] += 1

    def save(self, path: str | None) -> None:
        """Checkpoint to ``path`` (and to the recovery path, so a restart resumes from here)."""
        paths = [p for p in dict.fromkeys((path, self._path)) if p is not None]
        if paths:
            self._checkpoint(paths)

    def stats(self) -> dict[str, float]:
        out = self._curriculum.stats()
        for key, value in self._counters.items():
            out[f"distributed/{key}"] = float(value)
        out["distributed/num_open_clients"] = float(len(self._open))
        out["distributed/updates_since_checkpoint"] = float(self._since_checkpoint)
        return out

    def active_task_ids(self) -> list[int]:
        return self._curriculum.active_task_ids()

    def begin_shutdown(self) -> int:
        self._shutting_down = True
        return len(self._open)

    def num_open_clients(self) -> int:
        return len(self._open)

    def _checkpoint(self, paths: list[str]) -> None:
        state = self._curriculum.get_state()
        set_extension(
            state, "distributed", {"applied": dict(self._applied), "counters": dict(self._counters)}
        )
        for path in paths:
            write_checkpoint(path, state)
        if self._path in paths:
            self._durable = dict(self._applied)
            self._since_checkpoint = 0
            self._last_checkpoint = time.monotonic()
        self._counters["num_checkpoints"] += 1

    def _load(self, path: str) -> None:
        state = read_checkpoint(path)
        self._curriculum.load_state(state)
        extra = get_extension(state, "distributed") or {}
        self._applied = {str(k): int(v) for k, v in extra.get("applied", {}).items()}
        self._durable = dict(self._applied)
        self._counters.update(extra.get("counters", {}))


class RayCurriculum:
    """Handle on the curriculum actor. Picklable: pass it to Ray tasks and actors.

    Start one with :meth:`start` (or find a named one with :meth:`connect`); each worker then
    calls :meth:`client` for its own :class:`RayCurriculumClient`.
    """

    def __init__(self, actor: ActorHandle[Any], config: CurriculumConfig) -> None:
        self.actor = actor
        self.config = config

    @classmethod
    def start(
        cls,
        config: CurriculumConfig,
        *,
        checkpoint_path: str | Path | None = None,
        checkpoint_every: int = 100_000,
        checkpoint_interval_s: float = 60.0,
        resume: bool = False,
        max_restarts: int | None = None,
        max_task_retries: int = -1,
        name: str | None = None,
        namespace: str | None = None,
        actor_options: dict[str, Any] | None = None,
    ) -> RayCurriculum:
        """Start the curriculum actor (Ray must be initialised).

        ``checkpoint_path`` is where the actor checkpoints every ``checkpoint_every`` applied
        updates or ``checkpoint_interval_s`` seconds (checked on each call), and what a
        restarted actor reloads; on a multi-node cluster it must be storage every node can
        reach. Without it the actor cannot recover, so ``max_restarts`` defaults to 0 and
        must stay 0; with it, the default is unlimited restarts (-1). ``resume=True`` starts
        from the checkpoint at that path if there is one (else it is overwritten). ``actor_options`` go to
        ``ray.remote(...).options`` (default ``num_cpus=0``: the actor is mostly idle).
        """
        ray = _ray()
        if checkpoint_every <= 0:
            raise ValueError(f"checkpoint_every must be > 0, got {checkpoint_every}")
        if checkpoint_interval_s <= 0:
            raise ValueError(f"checkpoint_interval_s must be > 0, got {checkpoint_interval_s}")
        path = None if checkpoint_path is None else str(Path(checkpoint_path).absolute())
        if max_restarts is None:
            max_restarts = 0 if path is None else -1
        if path is None and max_restarts != 0:
            raise ValueError(
                f"max_restarts={max_restarts} needs a checkpoint_path: without one a restarted actor "
                "would start from scratch and lose every update"
            )
        if path is None and resume:
            raise ValueError("resume=True needs a checkpoint_path to resume from")
        if path is not None:  # here, not as a dead actor's traceback: the actor writes it first thing
            check_checkpoint_folder(path)
        options: dict[str, Any] = {"num_cpus": 0, **(actor_options or {})}
        options.update(max_restarts=max_restarts, max_task_retries=max_task_retries)
        if name is not None:
            options.update(name=name, namespace=namespace)
        actor = (
            ray.remote(_CurriculumActor)
            .options(**options)
            .remote(config, path, checkpoint_every, checkpoint_interval_s, resume)
        )
        ray.get(actor.num_open_clients.remote())  # surface construction errors here
        return cls(actor, config)

    @classmethod
    def connect(cls, name: str, namespace: str | None = None) -> RayCurriculum:
        """The handle on a curriculum actor started with ``name``."""
        ray = _ray()
        actor = ray.get_actor(name, namespace=namespace)
        return cls(actor, ray.get(actor.get_config.remote()))

    def client(self, options: ClientOptions | None = None, **kwargs: Any) -> RayCurriculumClient[Any]:
        """A new client (one per worker; ``kwargs`` are :class:`ClientOptions` fields)."""
        if options is not None and kwargs:
            raise TypeError("pass either options or keyword arguments, not both")
        return RayCurriculumClient(self, options or ClientOptions(**kwargs))

    def stats(self) -> dict[str, float]:
        """The curriculum's statistics plus ``distributed/*`` counters (excludes clients' buffers)."""
        return self._get(self.actor.stats.remote())  # type: ignore[no-any-return]

    def save(self, path: str | Path) -> None:
        """Checkpoint the shared curriculum to ``path`` (read it with :meth:`Curriculum.from_checkpoint`).

        A missing folder raises ``FileNotFoundError`` here, before the actor is asked.
        """
        check_checkpoint_folder(path)
        self._get(self.actor.save.remote(str(Path(path).absolute())))

    def active_task_ids(self) -> list[int]:
        return self._get(self.actor.active_task_ids.remote())  # type: ignore[no-any-return]

    def shutdown(self, timeout_s: float = 30.0) -> dict[str, float]:
        """Have every client flush and close, checkpoint, then stop the actor for good.

        Waits up to ``timeout_s`` for clients (each checks in at least every
        ``heartbeat_s``). Returns the final statistics; ``distributed/num_open_clients`` > 0
        there means some clients did not close in time (dead workers, or the timeout).
        """
        ray = _ray()
        self._get(self.actor.begin_shutdown.remote())
        deadline = time.monotonic() + timeout_s
        while self._get(self.actor.num_open_clients.remote()) and time.monotonic() < deadline:
            time.sleep(0.05)
        self._get(self.actor.save.remote(None))  # final recovery checkpoint, if there is a path
        stats = self.stats()
        ray.kill(self.actor, no_restart=True)
        return stats

    def _get(self, ref: Any) -> Any:
        return _ray().get(ref)


class ClientTask(TaskHandle[TConfig]):
    """A task handed out by a :class:`RayCurriculumClient` (the interface of ``CurriculumTask``).

    Its config is generated in this process; pool counters (``num_completions``...) live in
    the actor and are not mirrored here: read them from ``stats()`` or a checkpoint.
    ``is_replay`` is the actor's, from when it handed the id to this client (up to
    ``prefetch`` episodes before this task was).
    """

    __slots__ = ()


class RayCurriculumClient(Generic[TConfig]):
    """A worker's view of the shared curriculum, with the interface of ``Curriculum``.

    Create one per worker with :meth:`RayCurriculum.client`, and ``close()`` it (or use it
    as a context manager) so its last scores are delivered. Thread-safe.
    """

    def __init__(self, curriculum: RayCurriculum, options: ClientOptions) -> None:
        self._ray = _ray()
        self._actor = curriculum.actor
        self.options = options
        self.client_id = uuid.uuid4().hex
        self._generator: TaskGenerator[TConfig] = curriculum.config.task_generator.create()
        self._generate: Callable[[int], GeneratedTask[TConfig]] = lru_cache(
            maxsize=curriculum.config.config_cache_size
        )(self._generator.generate)
        self._lock = threading.Lock()  # guards the score buffer
        self._rpc_lock = threading.Lock()  # one exchange with the actor at a time
        self._tasks: deque[tuple[int, bool]] = deque()  # (task id, is replay)
        self._ids: list[int] = []
        self._scores: list[float] = []
        self._priorities: list[float] = []  # a score's own value when it came without one
        self._prioritised = False  # whether any buffered score came with a priority
        self._unacked: deque[_Batch] = deque()  # sent batches no checkpoint covers yet
        self._next_seq = 1
        self._applied = 0
        self._last_flush = time.monotonic()
        self._low = max(1, options.prefetch // 2)
        self._interval = options.flush_interval_ms / 1000
        self._wake = threading.Event()
        self._stop = False
        self._closed = False
        self._shut_down = False
        self._error: BaseException | None = None
        self._exchange()  # registers and fills the prefetch; errors surface here
        self._thread = threading.Thread(
            target=self._run, name=f"agora-client-{self.client_id[:8]}", daemon=True
        )
        self._thread.start()

    # -- the per-episode API ----------------------------------------------------------------

    def get_task(self) -> ClientTask[TConfig]:
        """The next task to play (from the prefetched ids; waits for the actor only if none are left)."""
        self._check_open()
        try:
            task_id, is_replay = self._tasks.popleft()
        except IndexError:
            task_id, is_replay = self._take_blocking()
        if len(self._tasks) < self._low:
            self._wake.set()
        return ClientTask(self, task_id, is_replay)

    def update_task_performance(self, task_id: int, score: float, *, priority: float | None = None) -> None:
        """Buffer one episode's score (and the learner's priority, if given: as in
        ``Curriculum.update_task_performance``); it reaches the actor with the next flush."""
        task_id = checked_task_id(task_id)  # before buffering: a bad entry would fail the whole flush
        score = checked_score(task_id, score)
        if priority is not None:
            priority = checked_priority(task_id, priority)
        with self._lock:
            self._check_open()
            self._ids.append(task_id)
            self._scores.append(score)
            if priority is None:
                self._priorities.append(score)
            else:
                self._priorities.append(priority)
                self._prioritised = True
            full = len(self._ids) >= self.options.flush_every
        if full:
            self._wake.set()

    def get_tasks(self, k: int) -> list[ClientTask[TConfig]]:
        """``k`` tasks at once, equal in effect to ``k`` calls of :meth:`get_task`."""
        return [self.get_task() for _ in range(k)]

    def update_task_performance_many(
        self, task_ids: Sequence[int], scores: Sequence[float], *, priorities: Sequence[float] | None = None
    ) -> None:
        """Report many episodes at once, equal in effect to one call per pair, in order."""
        if len(task_ids) != len(scores):
            raise ValueError(f"{len(task_ids)} task ids but {len(scores)} scores")
        if priorities is None:
            for task_id, score in zip(task_ids, scores, strict=True):
                self.update_task_performance(task_id, score)
            return
        if len(priorities) != len(scores):
            raise ValueError(f"{len(task_ids)} task ids but {len(priorities)} priorities")
        for task_id, score, priority in zip(task_ids, scores, priorities, strict=True):
            self.update_task_performance(task_id, score, priority=priority)

    def stats(self) -> dict[str, float]:
        """The shared curriculum's statistics, after delivering this client's buffered scores."""
        self.flush()
        return self._call("stats")  # type: ignore[no-any-return]

    def flush(self) -> None:
        """Deliver every buffered score now and wait until the actor applied it."""
        self._check_open()
        self._exchange()

    def close(self) -> None:
        """Deliver every buffered score, have the actor checkpoint it, and stop the client."""
        if self._closed:
            return
        self._stop = True
        self._wake.set()
        self._thread.join()
        with self._lock:
            self._closed = True
        if self._error is not None:
            raise self._error
        if not self._shut_down:
            self._exchange(closing=True)

    def __enter__(self) -> RayCurriculumClient[TConfig]:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def __reduce__(self) -> Any:
        raise TypeError(
            "a RayCurriculumClient cannot be pickled: pass the RayCurriculum handle to the worker "
            "and call .client() there (each worker needs its own client)"
        )

    # -- tasks and configs --------------------------------------------------------------

    def generated(self, task_id: int) -> GeneratedTask[TConfig]:
        """The generated task for ``task_id``, built in this process (LRU-cached)."""
        return self._generate(task_id)

    @property
    def task_generator(self) -> TaskGenerator[TConfig]:
        return self._generator

    # -- talking to the actor -------------------------------------------------------------

    def _check_open(self) -> None:
        if self._error is not None:
            raise RuntimeError(
                f"curriculum client {self.client_id} failed in the background"
            ) from self._error
        if self._shut_down:
            raise CurriculumShutDown("the shared curriculum was shut down")
        if self._closed:
            raise RuntimeError(f"curriculum client {self.client_id} is closed")

    def _take_blocking(self) -> tuple[int, bool]:
        while True:
            self._exchange()
            try:
                return self._tasks.popleft()
            except IndexError:
                self._check_open()

    def _run(self) -> None:
        """Background flusher: sends scores when due, refills tasks, checks in when idle."""
        try:
            while not self._stop:
                # Scores are never older than the last flush: sleep until the first one is due.
                since = time.monotonic() - self._last_flush
                if self._ids:
                    timeout = self._interval - since
                else:  # a score arriving while asleep is then due no later than the wake-up
                    timeout = min(self._interval, self.options.heartbeat_s - since)
                self._wake.wait(max(timeout, 0.0))
                self._wake.clear()
                if self._stop:
                    return
                age = time.monotonic() - self._last_flush
                pending = len(self._ids)
                if (
                    pending >= self.options.flush_every
                    or (pending and age >= self._interval)
                    or len(self._tasks) < self._low
                    or age >= self.options.heartbeat_s
                ):
                    self._exchange()
                if self._shut_down:
                    return
        except BaseException as exc:
            self._error = exc

    def _exchange(self, closing: bool = False) -> None:
        """Send buffered scores (and anything the actor lost), take new task ids."""
        with self._rpc_lock:
            if self._shut_down:
                return
            want = 0 if closing else max(0, self.options.prefetch - len(self._tasks))
            if self._send(want, closing):
                # Shutting down: stop taking scores, deliver the last ones and leave.
                with self._lock:
                    self._shut_down = True
                self._send(0, closing=True)

    def _send(self, want: int, closing: bool) -> bool:
        """One delivery, resent until the actor has applied everything; True if it is shutting down."""
        with self._lock:
            if self._ids:
                priorities = self._priorities if self._prioritised else None
                self._unacked.append((self._next_seq, self._ids, self._scores, priorities))
                self._next_seq += 1
                self._ids, self._scores, self._priorities = [], [], []
                self._prioritised = False
            self._last_flush = time.monotonic()
        last = self._next_seq - 1
        while True:
            send = [batch for batch in self._unacked if batch[0] > self._applied]
            applied, durable, tasks, replays, shutting_down = self._call(
                "exchange", self.client_id, send, want, closing
            )
            want = 0
            self._tasks.extend(zip(tasks, replays, strict=True))
            self._applied = applied
            while self._unacked and self._unacked[0][0] <= durable:
                self._unacked.popleft()
            if applied >= last:
                return bool(shutting_down)
            if not self._unacked or self._unacked[0][0] > applied + 1:
                raise RuntimeError(
                    f"the curriculum actor restarted at batch {applied} of client {self.client_id}, "
                    "older than a checkpoint it had confirmed: its checkpoint file was replaced"
                )

    def _call(self, method: str, *args: Any) -> Any:
        """Call the actor, retrying with backoff while it restarts.

        Ray raises ``ActorUnavailableError`` while the actor is restarting or unreachable (retried
        here) and ``ActorDiedError`` once it is gone for good (raised: nothing will answer).
        """
        deadline = time.monotonic() + self.options.retry_timeout_s
        delay = 0.01
        while True:
            try:
                return self._ray.get(getattr(self._actor, method).remote(*args))
            except self._ray.exceptions.ActorUnavailableError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(delay)
                delay = min(2 * delay, 1.0)
