"""A task pool in POSIX shared memory, shared by every process that names the same session.

One segment holds a small control block (magic, format, layout descriptor, journal), the
whole pool buffer (header counters, ids, free stack, hash table, per-slot columns) and a
scratch array used by the curriculum's crash journal. Processes exclude each other with
``fcntl.flock`` on the segment's own file descriptor (on Linux; elsewhere on a lock file
next to the temporary directory): the kernel drops a dead holder's lock, so a worker killed
with SIGKILL never deadlocks the others.

Lifecycle: the first process to open a session creates and initialises it while holding
the lock, and owns it; the owner unlinks the segment when it closes. Others attach (and
are not registered with Python's resource tracker, so their exit never unlinks the pool).
"""

from __future__ import annotations

import _posixshmem  # type: ignore[import-not-found]  # what SharedMemory itself uses
import errno
import fcntl
import functools
import hashlib
import mmap
import os
import sys
import tempfile
import time
import weakref
from collections.abc import Callable, Sequence
from multiprocessing import resource_tracker
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import numpy.typing as npt

from agora.pool import TaskPool
from agora.tracking.memory import ArraySpec, TaskMemoryBackend, layout_size
from agora.tracking.tracker import TaskTracker

__all__ = [
    "MAX_STRINGS",
    "CentralizedTaskTracker",
    "LayoutMismatchError",
    "SessionSplitError",
    "SharedMemoryBackend",
    "segment_name",
    "session_exists",
    "unlink_session",
]

_MAGIC = int.from_bytes(b"agorapl1", "little")
_FORMAT = 2  # 2: a config fingerprint after the layout descriptor
_INIT, _READY = 0, 1
_DESCRIPTOR_BYTES = 4096
_CONTROL = (
    "magic",
    "format",
    "state",
    "data_size",
    "descriptor_len",
    "owner_pid",
    "attach_count",
    "fingerprint_len",
)
_CONTROL_WORDS = 16  # room for the crash journal's words (agora.curriculum.coordination.shared.Journal)
MAX_STRINGS = 4096
"""Strings (task labels) a session's string table holds."""
_STRING_BYTES = 256 * 1024
_PREFIX = "ag_"
_ATTACH_TIMEOUT = 10.0


class SessionSplitError(RuntimeError):
    """Creating this session's pool would split it: processes still work on an earlier pool of it."""


class LayoutMismatchError(ValueError):
    """The session exists with a different pool layout (pool size or algorithm fields) or config."""


def segment_name(session_id: str) -> str:
    """Shared-memory name for ``session_id``: ``ag_`` + 16 hex digits, within macOS's 31 characters."""
    return _PREFIX + hashlib.blake2b(session_id.encode(), digest_size=8).hexdigest()


def _describe(layout: Sequence[ArraySpec]) -> str:
    return ",".join(f"{spec.name}:{spec.typecode}:{spec.length}" for spec in layout)


def _layout_differences(theirs: str, mine: str) -> tuple[str, list[str]]:
    """A pool-size note ("" if the sizes agree) and every array that differs between two descriptors."""
    mine_specs, their_specs = _parse(mine), _parse(theirs)
    diffs = []
    for name in dict.fromkeys([*their_specs, *mine_specs]):
        a, b = their_specs.get(name, "absent"), mine_specs.get(name, "absent")
        if a != b:
            diffs.append(f"{name}: {a} in the session, {b} here")
    pool_size = ""
    if "ids" in their_specs and "ids" in mine_specs and their_specs["ids"] != mine_specs["ids"]:
        there, here = their_specs["ids"].split(":")[1], mine_specs["ids"].split(":")[1]
        pool_size = f"pool size {there} in the session but {here} here; "
    return pool_size, diffs


def _parse(descriptor: str) -> dict[str, str]:
    out = {}
    for item in descriptor.split(","):
        name, _, rest = item.partition(":")
        out[name] = rest
    return out


class SegmentLock:
    """The cross-process lock of a segment: ``fcntl.flock`` on its descriptor (re-entrant here).

    Where flock does not work on a shared-memory descriptor, a lock file in the temporary
    directory. The kernel drops a dead holder's lock, so a killed worker never deadlocks the others.
    """

    name: str
    session_id: str
    _fd: int

    def __init__(self) -> None:
        self._depth = 0
        self._lock_fd = -1
        self._lock_path: Path | None = None
        self.lock_waits = 0
        """How often this process found the lock taken (and waited)."""
        self.lock_wait_seconds = 0.0
        self.lock_hold_seconds = 0.0
        """How long this process held the lock: what it keeps every other process from doing."""
        self._held_since = 0.0

    def _setup_lock(self) -> None:
        """Lock the segment's own descriptor; where flock does not work on it, a lock file."""
        try:
            fcntl.flock(self._fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            self._lock_fd = self._fd
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK, errno.EACCES):
                self._lock_fd = self._fd  # flock works on it: another process holds the lock
                return
            self._lock_path = Path(tempfile.gettempdir()) / f"{self.name}.lock"
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)

    def _lock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def _release_lock(self) -> None:
        fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def acquire(self) -> None:
        """Take the cross-process lock (re-entrant within this process)."""
        if self._depth == 0:
            if self._lock_fd < 0:
                raise ValueError(f"the shared pool of session {self.session_id!r} was closed in this process")
            try:
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:  # contended: wait, and account for it
                start = time.perf_counter()
                fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
                self.lock_waits += 1
                self.lock_wait_seconds += time.perf_counter() - start
            self._held_since = time.perf_counter()
        self._depth += 1

    def release(self) -> None:
        self._depth -= 1
        if self._depth == 0:
            self.lock_hold_seconds += time.perf_counter() - self._held_since
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    @property
    def held(self) -> bool:
        """Whether this process holds the lock."""
        return self._depth > 0

    def __enter__(self) -> None:
        self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


class StringTable:
    """An append-only table of strings in shared memory: count, end offset of each, utf-8 bytes.

    Indices mean the same in every process attached to the session; appends happen under the lock.
    """

    def __init__(self, memory: memoryview[int], session_id: str) -> None:
        self._index: memoryview[int] = memory[: 8 * (MAX_STRINGS + 2)].cast("q")
        self._bytes: memoryview[int] = memory[8 * (MAX_STRINGS + 2) :]
        self._session_id = session_id

    def clear(self) -> None:
        self._index[0] = self._index[1] = 0

    def release(self) -> None:
        self._index.release()
        self._bytes.release()

    def count(self) -> int:
        return int(self._index[0])

    def read(self, start: int = 0) -> list[str]:
        """Strings ``start..`` of the session's append-only string table (e.g. task labels)."""
        index, count = self._index, self._index[0]
        return [bytes(self._bytes[index[i] : index[i + 1]]).decode() for i in range(start + 1, count + 1)]

    def add(self, text: str) -> int:
        """Append ``text`` (under the lock); returns its index, the same in every process."""
        index, count = self._index, self._index[0]
        encoded = text.encode()
        end = index[count + 1] + len(encoded)
        if count >= MAX_STRINGS or end > len(self._bytes):
            raise ValueError(
                f"shared pool of session {self._session_id!r} cannot hold more than {MAX_STRINGS} labels "
                f"or {_STRING_BYTES} bytes of them; cannot add {text!r}"
            )
        self._bytes[index[count + 1] : end] = encoded
        index[count + 2] = end
        index[0] = count + 1
        return int(count)


class SharedMemoryBackend(TaskMemoryBackend, SegmentLock):
    """The pool buffer in a shared-memory segment named after ``session_id``.

    After construction, :attr:`created` tells whether this process created the segment. A
    creator still holds the lock and must initialise the pool, then call :meth:`mark_ready`;
    other processes block in their constructor until it has.
    """

    def __init__(
        self,
        layout: Sequence[ArraySpec],
        session_id: str,
        *,
        scratch_length: int = 0,
        create: bool = True,
        attach_timeout: float = _ATTACH_TIMEOUT,
        fingerprint: dict[str, str] | None = None,
    ) -> None:
        """``fingerprint``: ``{field: digest}`` of what defines the pool beyond its layout (a
        curriculum's config); attaching with a different one raises :class:`LayoutMismatchError`
        naming the fields that differ."""
        if not session_id:
            raise ValueError("session_id must be a non-empty string")
        self._fingerprint = ",".join(f"{k}={v}" for k, v in sorted((fingerprint or {}).items()))
        self.session_id = session_id
        self.name = segment_name(session_id)
        self._scratch_spec = ArraySpec("journal", "q", scratch_length)
        self._control_bytes = _CONTROL_WORDS * 8 + _DESCRIPTOR_BYTES
        self._data_size = layout_size(layout)
        self._strings_at = self._control_bytes + self._data_size + layout_size([self._scratch_spec])
        self._total = self._strings_at + 8 * (MAX_STRINGS + 2) + _STRING_BYTES
        self._descriptor = _describe(layout)
        SegmentLock.__init__(self)
        self._pid = os.getpid()
        self._fd = -1
        self._attach_fd = -1
        self._mmap: mmap.mmap | None = None
        self.created = False
        self.owner = False
        try:
            self._open(create, attach_timeout)
        except BaseException:
            if self._mmap is not None:
                self._mmap.close()
                self._mmap = None
            if self.owner:  # refused after creating it: remove the segment again
                unlink_session(session_id)
                resource_tracker.unregister("/" + self.name, "shared_memory")
            self._close_fds()  # also drops our lock: others must not wait on a failed attach
            raise
        assert self._mmap is not None
        raw: memoryview[int] = memoryview(self._mmap)
        self._raw: memoryview[int] = raw
        self.control: memoryview[int] = raw[: _CONTROL_WORDS * 8].cast("q")
        super().__init__(layout, raw[self._control_bytes : self._control_bytes + self._data_size])
        scratch = raw[self._control_bytes + self._data_size :]
        self.scratch: npt.NDArray[np.int64] = np.frombuffer(
            scratch[: self._scratch_spec.nbytes], dtype=np.int64
        )
        """Room for the crash journal's task ids and slots (``scratch_length`` int64 values)."""
        self.string_table: StringTable = StringTable(raw[self._strings_at : self._total], session_id)
        """The session's append-only string table (task labels)."""
        if self.created:
            self._write_control()
            self._depth = 1  # still held: released by mark_ready
        else:
            self._release_lock()
        _LIVE.add(self)

    # -- opening ------------------------------------------------------------------------

    def _open(self, create: bool, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                if not create:
                    raise FileExistsError
                self._fd = _posixshmem.shm_open(
                    "/" + self.name, os.O_RDWR | os.O_CREAT | os.O_EXCL, mode=0o600
                )
                created = True
            except FileExistsError:
                try:
                    self._fd = _posixshmem.shm_open("/" + self.name, os.O_RDWR, mode=0o600)
                except FileNotFoundError:
                    if not create:
                        raise FileNotFoundError(
                            f"no shared pool for session {self.session_id!r} (never created, or its owner "
                            "closed it)"
                        ) from None
                    continue  # the owner unlinked it between our two calls: try to create again
                created = False
            self._setup_lock()
            self._lock()
            size = os.fstat(self._fd).st_size
            if created or size == 0:
                if not created and time.monotonic() < deadline:
                    # The creator has opened but not yet sized it (or died doing so): wait a bit.
                    self._release_lock()
                    self._close_fds()
                    time.sleep(0.005)
                    continue
                self._become_owner()
                self._hold_attachment()
                os.ftruncate(self._fd, self._total)
                self._mmap = mmap.mmap(self._fd, self._total)
                return
            if size < self._control_bytes:
                self._fail(f"shared memory {self.name!r} is not an agora pool ({size} bytes)")
            self._mmap = mmap.mmap(self._fd, size)
            control = memoryview(self._mmap)[: _CONTROL_WORDS * 8].cast("q")
            magic, fmt, state, descriptor_len, fingerprint_len = (
                control[0],
                control[1],
                control[2],
                control[_CONTROL.index("descriptor_len")],
                control[_CONTROL.index("fingerprint_len")],
            )
            control.release()
            if magic == _MAGIC and fmt != _FORMAT:
                self._fail(
                    f"shared pool of session {self.session_id!r} has format {fmt}, this agora uses {_FORMAT}"
                )
            if magic == _MAGIC and state == _READY:
                self._check_layout(descriptor_len, size)
                self._check_fingerprint(descriptor_len, fingerprint_len)
                self._hold_attachment()
                return
            # We hold the lock yet the pool was never marked ready: its creator died while
            # initialising it. Take over if it has our size.
            if size < self._total:
                self._fail(
                    f"cannot attach to shared pool of session {self.session_id!r}: it was left "
                    f"half-initialised with {size} bytes, this pool needs {self._total}",
                    LayoutMismatchError,
                )
            self._become_owner()
            self._hold_attachment()
            return

    def _hold_attachment(self) -> None:
        """Hold a shared flock on the session's attachment file while attached.

        The kernel drops it when a process dies, so a new owner of the session name can tell
        whether processes still work on an earlier pool of this session whose segment was
        removed (its owner closed it, or was killed and its resource tracker unlinked it):
        creating a second pool then would silently split the session, so it refuses.
        """
        self._attach_fd = os.open(self._attach_path(), os.O_RDWR | os.O_CREAT, 0o600)
        if self.owner:
            try:
                fcntl.flock(self._attach_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                self._fail(
                    f"session {self.session_id!r}: processes are still attached to an earlier pool of this "
                    "session whose shared-memory segment was removed (its owner closed it or was killed); "
                    "a new pool now would split the session between them. Stop those processes first, "
                    "or use another session_id",
                    SessionSplitError,
                )
        fcntl.flock(self._attach_fd, fcntl.LOCK_SH)

    def _attach_path(self) -> Path:
        return Path(tempfile.gettempdir()) / f"{self.name}.attached"

    def _become_owner(self) -> None:
        self.created = True
        self.owner = True
        # Python's resource tracker unlinks the segment if this process dies without closing.
        resource_tracker.register("/" + self.name, "shared_memory")

    def _write_control(self) -> None:
        control = self.control
        encoded, fingerprint = self._descriptor.encode(), self._fingerprint.encode()
        if len(encoded) + len(fingerprint) > _DESCRIPTOR_BYTES:
            raise ValueError(f"pool layout descriptor too long ({len(encoded) + len(fingerprint)} bytes)")
        start = _CONTROL_WORDS * 8
        self._raw[start : start + len(encoded)] = encoded
        self._raw[start + len(encoded) : start + len(encoded) + len(fingerprint)] = fingerprint
        for i in range(_CONTROL_WORDS):
            control[i] = 0
        control[_CONTROL.index("magic")] = _MAGIC
        control[_CONTROL.index("format")] = _FORMAT
        control[_CONTROL.index("data_size")] = self._data_size
        control[_CONTROL.index("descriptor_len")] = len(encoded)
        control[_CONTROL.index("fingerprint_len")] = len(fingerprint)
        control[_CONTROL.index("owner_pid")] = os.getpid()
        control[_CONTROL.index("state")] = _INIT
        self.string_table.clear()

    def _check_layout(self, length: int, size: int) -> None:
        assert self._mmap is not None
        start = _CONTROL_WORDS * 8
        theirs = self._mmap[start : start + length].decode()
        if theirs == self._descriptor and size >= self._total:
            return
        pool_size, diffs = _layout_differences(theirs, self._descriptor)
        self._fail(
            f"cannot attach to shared pool of session {self.session_id!r}: {pool_size}"
            f"layouts differ ({'; '.join(diffs) or f'{size} vs {self._total} bytes'})",
            LayoutMismatchError,
        )

    def _check_fingerprint(self, descriptor_len: int, length: int) -> None:
        assert self._mmap is not None
        start = _CONTROL_WORDS * 8 + descriptor_len
        theirs = self._mmap[start : start + length].decode()
        if theirs == self._fingerprint:
            return
        their_fields = dict(item.split("=", 1) for item in theirs.split(",") if item)
        my_fields = dict(item.split("=", 1) for item in self._fingerprint.split(",") if item)
        differ = sorted(
            k for k in their_fields.keys() | my_fields.keys() if their_fields.get(k) != my_fields.get(k)
        )
        self._fail(
            f"cannot attach to shared pool of session {self.session_id!r}: it was created with a "
            f"different config (differs in: {', '.join(differ)}); use another session_id for another "
            "curriculum",
            LayoutMismatchError,
        )

    def _fail(self, message: str, kind: type[Exception] = ValueError) -> NoReturn:
        raise kind(message)  # __init__ releases the lock and the mapping

    def mark_ready(self) -> None:
        """Creator only: the pool is initialised; let waiting processes attach."""
        self.control[_CONTROL.index("state")] = _READY
        self.release()

    def lock(self) -> SharedMemoryBackend:
        return self

    # -- control words --------------------------------------------------------------------

    def next_attach_index(self) -> int:
        """A number unique among the processes that attached to this session (for seeding)."""
        with self:
            index = self.control[_CONTROL.index("attach_count")] + 1
            self.control[_CONTROL.index("attach_count")] = index
        return int(index)

    journal_base = len(_CONTROL)
    """Control words from this index up to 16 are free for the crash journal
    (:class:`agora.curriculum.coordination.shared.Journal`)."""

    # -- fork and close -------------------------------------------------------------------

    def _after_fork(self) -> None:
        """In a forked child: get an open file description of our own, so that flock excludes the parent."""
        self._depth = 0
        old = self._lock_fd
        if self._lock_path is not None:
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        else:
            try:
                self._lock_fd = os.open(f"/proc/self/fd/{old}", os.O_RDWR)
            except OSError:  # pragma: no cover - no /proc (macOS uses the lock-file path)
                self._lock_fd = _posixshmem.shm_open("/" + self.name, os.O_RDWR, mode=0o600)
            self._fd = self._lock_fd
        os.close(old)

    def _close_fds(self) -> None:
        for fd in {self._fd, self._lock_fd, self._attach_fd}:
            if fd >= 0:
                os.close(fd)
        self._fd = self._lock_fd = self._attach_fd = -1

    @property
    def closed(self) -> bool:
        return self._mmap is None

    def close(self) -> None:
        """Detach; the owner (the creating process, not its forked children) also unlinks the pool."""
        if self._mmap is None:
            return
        unlink = self.owner and os.getpid() == self._pid
        super().close()
        self.control.release()
        self.string_table.release()
        self.scratch = np.empty(0, dtype=np.int64)
        try:
            self._raw.release()
            self._mmap.close()
        except BufferError:
            pass  # someone still holds a numpy view; the mapping goes with the process
        self._mmap = None
        if unlink:
            unlink_session(self.session_id)
            resource_tracker.unregister("/" + self.name, "shared_memory")  # registered when created
            if self._lock_path is not None:
                self._lock_path.unlink(missing_ok=True)
            try:  # nobody else attached: the attachment file goes too (else it stays, empty)
                fcntl.flock(self._attach_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                self._attach_path().unlink(missing_ok=True)
            except BlockingIOError:
                pass
        self._close_fds()
        _LIVE.discard(self)


def session_exists(session_id: str) -> bool:
    """Whether the segment of ``session_id`` exists (looked up by name)."""
    try:
        fd = _posixshmem.shm_open("/" + segment_name(session_id), os.O_RDONLY, mode=0o600)
    except FileNotFoundError:
        return False
    os.close(fd)
    return True


def unlink_session(session_id: str) -> bool:
    """Remove a session's segment by name (e.g. after its owner was killed); True if it existed.

    Processes still attached keep their mapping; the name is free for a new session.
    """
    try:
        _posixshmem.shm_unlink("/" + segment_name(session_id))
    except FileNotFoundError:
        return False
    return True


def CentralizedTaskTracker(
    session_id: str,
    capacity: int = 1000,
    memory: int = 25,
    ema_alpha: float = 0.02,
    success_threshold: float = 0.5,
) -> TaskTracker:
    """A tracker whose pool is in shared memory: every process naming ``session_id`` sees the same
    statistics. Updates are read-modify-write, so hold ``tracker.pool.backend.lock()`` around
    ``pool.add_many`` and ``tracker.update``; ``tracker.pool.backend.close()`` detaches (the
    creating process also removes the pool). A :class:`~agora.Curriculum` does all this itself.
    """
    pool = TaskPool(
        capacity, TaskTracker.fields(memory), functools.partial(SharedMemoryBackend, session_id=session_id)
    )
    backend = pool.backend
    assert isinstance(backend, SharedMemoryBackend)
    if backend.created:
        pool.initialize()
        backend.mark_ready()
    return TaskTracker(pool, memory=memory, ema_alpha=ema_alpha, success_threshold=success_threshold)


_LIVE: weakref.WeakSet[SharedMemoryBackend] = weakref.WeakSet()
_FORK_HOOKS: list[weakref.WeakMethod[Callable[[], Any]]] = []


def on_fork(callback: Callable[[], Any]) -> None:
    """Call the bound method ``callback`` in forked children (after the backends are re-opened)."""
    _FORK_HOOKS.append(weakref.WeakMethod(callback))


def _after_fork_in_child() -> None:
    for backend in list(_LIVE):
        if not backend.closed:
            backend._after_fork()
    alive = []
    for ref in _FORK_HOOKS:
        method = ref()
        if method is not None:
            method()
            alive.append(ref)
    _FORK_HOOKS[:] = alive


if sys.platform != "win32":
    os.register_at_fork(after_in_child=_after_fork_in_child)
