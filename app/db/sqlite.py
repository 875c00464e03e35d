"""SQLite tuning so the web process and several workers can write one file safely.

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
from collections.abc import Sequence
from typing import Any, Literal

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

LOCK_SUFFIX = "-writer.lock"
GATE_SUFFIX = "-writer.gate"  # foreground writers hold it shared while they queue and write
READ_ONLY = "async_events_read_only"  # execution option set by begin_read_only
BACKGROUND = "async_events_background"  # execution option set by begin_background
BACKGROUND_YIELD = 0.05  # s a background writer lets foreground writers go first, at most
MAX_PARAMETERS = 999  # per statement in insert_flat: the limit of SQLite before 3.32


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


def configure(engine: Engine) -> None:
    """Turn on WAL, a busy timeout and foreign keys, and make every transaction IMMEDIATE.

    pysqlite starts transactions lazily, so two processes that read then write can
    deadlock with SQLITE_BUSY however long the timeout. Taking the write lock at
    BEGIN serialises writers while WAL keeps readers unblocked. Connections are made
    as ``WriterConnection``, which queues for that lock.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "do_connect")
    def _on_do_connect(_dialect: Any, _record: Any, _cargs: Any, cparams: dict) -> None:
        cparams.setdefault("factory", WriterConnection)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        options = conn.get_execution_options()
        if options.get(READ_ONLY):
            conn.connection.dbapi_connection.execute("BEGIN DEFERRED")
        else:
            begin_immediate(conn.connection.dbapi_connection, options.get(BACKGROUND, False))


def begin_read_only(session: Session) -> None:
    """Begin the session's next transaction as one that only reads: no write lock on SQLite.

    Only for a transaction that will not write: a deferred one that writes after
    another process did can fail at once with "database is locked". With a
    transaction already open this does nothing, and the reads share it. Any other
    database ignores the option.
    """
    _begin_with(session, READ_ONLY)


def begin_background(session: Session) -> None:
    """Begin the session's next transaction as a background writer (see acquire_write_lock).

    With a transaction already open this does nothing. Any other database ignores it.
    """
    _begin_with(session, BACKGROUND)


def _begin_with(session: Session, option: str) -> None:
    """Begin the session's transaction with ``option`` set, unless one is open already."""
    if not session.in_transaction():
        session.connection(execution_options={option: True})


def begin_immediate(driver: Any, background: bool = False) -> None:
    """Queue for the write lock if ``driver`` can, then take SQLite's.

    Straight to the driver: exec_driver_sql would double the cost of a short
    transaction such as a publish, for a statement with no result to handle.
    """
    queued = isinstance(driver, WriterConnection) and driver.acquire_write_lock(background)
    try:
        driver.execute("BEGIN IMMEDIATE")
    except BaseException:
        if queued:
            driver.release_write_lock()
        raise


def insert_flat(connection: Connection, table: str, columns: Sequence[str], flat: list) -> None:
    """Insert rows given as one flat list of driver values, in few statements.

    Multi-row INSERTs of up to MAX_PARAMETERS values, in sizes that halve (64, 32 ...
    1 rows, say): a handful of statement texts per table, each prepared once. One
    statement per row, as executemany has it, costs more than SQLite's own work
    under load: the driver lets go of the GIL for each statement it steps, and may
    wait up to a switch interval (5 ms) for it back while other threads run, all the
    while holding the write lock.
    """
    width = len(columns)
    one = "(" + ",".join("?" * width) + ")"
    head = f"INSERT INTO {table} ({', '.join(columns)}) VALUES "
    size = 1 << (MAX_PARAMETERS // width).bit_length() - 1  # the largest power of two that fits
    done, left = 0, len(flat) // width
    while left:
        count = left // size
        if count:
            step = size * width
            end = done + count * step
            chunks = [tuple(flat[i : i + step]) for i in range(done, end, step)]
            connection.exec_driver_sql(head + ",".join([one] * size), chunks)
            done, left = end, left - count * size
        size //= 2
