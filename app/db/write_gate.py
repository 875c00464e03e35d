"""The write gate: SQLite writers of every process queue for the write lock, in the kernel.

Writers queue for SQLite's write lock on an advisory ``flock`` of a side file,
``<database>-writer.lock``, taken just before ``BEGIN IMMEDIATE`` and given up just
after the COMMIT or ROLLBACK. SQLite's own busy handler sleeps 1, 2, 5 ... 100 ms
between tries, so a waiter can sleep up to 100 ms after the lock is free (p99
publish-to-delivery of 1-2.5 s). Polling every 0.2-2 ms instead was tried and
dropped: a waiter then holds a WAL read mark at almost every moment, which keeps
SQLite from restarting the WAL (704 MB after three processes wrote for 20 s,
against 38 MB with the handler). A flock waiter sleeps in the kernel, which wakes
it when the lock is let go; it holds no read mark while it waits; and the kernel
drops the lock of a process that dies. The busy handler stays, for writers that
do not queue (the sqlite3 shell, a nested transaction).

The recorder writes in the background (``begin_background``): it lets foreground
writers go first, for up to BACKGROUND_YIELD, through a second flock, the gate, that
foreground writers hold shared while they queue and write. At half the bench's
maximum rate the recorders held the write lock about 90 % of the time, and a fan-out
(on the path from publish to receipt) queued behind them: p99 from publish to
receipt 352-995 ms without the gate, 158-361 ms with it.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import threading
import time
import weakref
from typing import Any, Literal

LOCK_SUFFIX = "-writer.lock"
GATE_SUFFIX = "-writer.gate"  # foreground writers hold it shared while they queue and write
BACKGROUND_YIELD = 0.05  # s a background writer lets foreground writers go first, at most


class WriterConnection(sqlite3.Connection):
    """A pysqlite connection that queues for the write lock; see the module docstring.

    Each connection opens the lock file itself: a flock belongs to the open file, so
    two connections of one process exclude each other as two processes do. commit,
    rollback and close let the next writer in only once SQLite has let go: the
    SQLAlchemy events of those names fire before the driver call, too early.
    """

    lock_path: str | None = None
    _fd: int | None = None
    _gate: int | None = None
    _gated = False  # this connection holds the gate shared (a foreground writer)
    _owner: int | None = None  # the thread that holds the lock, while held

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        path = self.execute("PRAGMA database_list").fetchone()[2]
        self.lock_path = path + LOCK_SUFFIX if path else None  # "" in memory
        _connections.add(self)

    def acquire_write_lock(self, background: bool = False) -> bool:
        """Wait for the lock, asleep in the kernel; True if this call took it.

        A thread that holds the lock on another connection only tries, since waiting
        would never end; its BEGIN then waits on the busy handler, and fails with
        "database is locked" if the other connection is in the same file.

        A ``background`` writer (the recorder) first lets foreground writers (a
        publish, a fan-out: the path from publish to receipt) go ahead, for up to
        BACKGROUND_YIELD s: they hold the gate shared while they queue and write.
        """
        if self.lock_path is None or self._owner is not None:
            return False
        if self._fd is None:
            try:
                gate_path = self.lock_path[: -len(LOCK_SUFFIX)] + GATE_SUFFIX
                self._fd = os.open(self.lock_path, _FLAGS, 0o644)
                self._gate = os.open(gate_path, _FLAGS, 0o644)
            except OSError:  # a read-only directory, say: the busy handler alone
                self.lock_path = None
                return False
        me = threading.get_ident()
        nested = _held.get(me, 0) > 0  # only this thread changes its own count upwards
        self._owner = me  # first: an interrupt just after the wait must not orphan the lock
        try:
            if not nested:
                self._pass_gate(background)
            fcntl.flock(self._fd, fcntl.LOCK_EX | (fcntl.LOCK_NB if nested else 0))
        except BaseException as exc:
            self._owner = None
            self._leave_gate()
            if isinstance(exc, BlockingIOError):
                return False
            raise
        with _held_mutex:
            _held[me] = _held.get(me, 0) + 1
        return True

    def _pass_gate(self, background: bool) -> None:
        """Foreground: hold the gate shared. Background: wait while someone holds it.

        The background wait polls (it is bounded, and a flock wait cannot time out);
        it polls the gate, not SQLite, so it holds no WAL read mark.
        """
        assert self._gate is not None
        if not background:
            fcntl.flock(self._gate, fcntl.LOCK_SH)
            self._gated = True
            return
        deadline = time.monotonic() + BACKGROUND_YIELD
        while True:
            try:
                fcntl.flock(self._gate, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                if time.monotonic() < deadline:
                    time.sleep(0.001)
                    continue
                return
            fcntl.flock(self._gate, fcntl.LOCK_UN)
            return

    def _leave_gate(self) -> None:
        if self._gated and self._gate is not None:
            self._gated = False
            fcntl.flock(self._gate, fcntl.LOCK_UN)

    def release_write_lock(self) -> None:
        """Let the next writer in, if this connection holds the lock."""
        owner, self._owner = self._owner, None
        if owner is None or self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        self._leave_gate()
        with _held_mutex:
            if _held.get(owner, 0) > 1:
                _held[owner] -= 1
            else:
                _held.pop(owner, None)

    def commit(self) -> None:
        try:
            super().commit()
        finally:
            self.release_write_lock()

    def rollback(self) -> None:
        try:
            super().rollback()
        finally:
            self.release_write_lock()

    def __exit__(self, *exc_info: object) -> Literal[False]:
        try:  # the driver commits or rolls back here without calling the methods above
            return super().__exit__(*exc_info)
        finally:
            self.release_write_lock()

    def close(self) -> None:
        try:
            super().close()
        finally:
            self.release_write_lock()
            self._forget_lock_file()

    def __del__(self) -> None:
        self.release_write_lock()
        self._forget_lock_file()

    def _forget_lock_file(self) -> None:
        fd, self._fd, self._owner = self._fd, None, None
        gate, self._gate, self._gated = self._gate, None, False
        for opened in (fd, gate):
            if opened is not None:
                os.close(opened)


_FLAGS = os.O_RDWR | os.O_CREAT
_connections: weakref.WeakSet[WriterConnection] = weakref.WeakSet()
_held: dict[int, int] = {}  # thread ident -> write locks it holds
_held_mutex = threading.Lock()


def _after_fork_in_child() -> None:
    """Close the lock files a forked child inherited, without unlocking them.

    A child's copy would keep a lock its parent holds for as long as the child
    lives, even after the parent died; LOCK_UN on it would free the parent's lock.
    The child's connections open the file afresh if they are used.
    """
    global _held_mutex
    for conn in list(_connections):
        conn._forget_lock_file()
    _held.clear()
    _held_mutex = threading.Lock()  # another thread may have held it at the fork


os.register_at_fork(after_in_child=_after_fork_in_child)
