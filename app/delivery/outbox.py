"""The outbox: publications committed on a connection of its own, their ids relayed to Redis.

``publish()`` returns once its event is committed, so a publisher that loops pays
for one commit per event. Through the session that costs a pool checkout, the
unit of work and a pool return around the commit; the outbox keeps one connection
per process instead, which is several times cheaper. Threads that publish at once
share it by group commit: each adds its rows to a queue, and whichever thread takes
the connection writes everything queued in one transaction, so concurrent
publishers cost one commit between them, not one each.

Redis only carries wake-ups (``app.delivery.queues``): the relay thread pushes committed
ids in the background, a burst of them in one round trip, so a publish never waits
for Redis and a Redis outage cannot fail one. An id the relay loses, in a crash or
an outage, is still pending in the database, and the sweep queues it.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import threading
import time
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Dialect, Engine, insert
from sqlalchemy.exc import DBAPIError

from app.db import bulk, sqlite
from app.delivery import queues
from app.models import Publication

log = logging.getLogger(__name__)

RELAY_LINGER = 0.002  # s the relay waits after a first id, so a burst shares a round trip
RELAY_MAX_IDS = 100_000  # ids waiting for a push; more wait in the database for the sweep
_INHERITED: list[Outbox] = []  # a parent's outboxes: their connections are not this process's


class _Entry:
    """One caller's rows, waiting for a group commit; the ids or the error once written."""

    __slots__ = ("done", "error", "ids", "rows")

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.ids: list[int] = []
        self.error: BaseException | None = None
        self.done = False


class Outbox:
    """Stores publication rows with group commit on one held connection; relays their ids."""

    def __init__(self, app: Flask, engine: Engine) -> None:
        self.engine = engine
        self.relay = Relay(app)
        self._queued: list[_Entry] = []
        self._cond = threading.Condition()  # guards _queued and _writing
        self._writing = False  # a thread is writing a group on the connection
        self._conn: Connection | None = None

    def store(self, rows: list[dict[str, Any]]) -> list[int]:
        """Commit ``rows`` (one caller's, all or nothing) and return their ids, in order.

        The caller's rows join the queue. If no thread is writing, the caller
        writes the whole queue: its own rows and any that other threads queued
        meanwhile. Otherwise it waits, and either the writer took its rows along
        or it becomes the next writer. Each writer wakes every waiter at the end,
        so the threads it served return at once rather than one at a time.
        """
        entry = _Entry(rows)
        with self._cond:
            self._queued.append(entry)
            self._cond.wait_for(lambda: entry.done or not self._writing)
            if not entry.done:
                self._writing = True
                group, self._queued = self._queued, []
        if not entry.done:
            try:
                self._write(group)
            finally:
                with self._cond:
                    self._writing = False
                    self._cond.notify_all()
        if entry.error is not None:
            raise entry.error
        return entry.ids

    def waiting(self) -> int:
        """How many callers' rows are queued for the next group commit."""
        with self._cond:
            return len(self._queued)

    def _write(self, group: list[_Entry]) -> None:
        """Insert and commit a group; every entry gets its ids, or the error."""
        rows = [row for entry in group for row in entry.rows]
        try:
            ids = self._commit(rows)
        except BaseException as exc:  # even an interrupt must not leave a waiter unanswered
            for entry in group:
                entry.error, entry.done = exc, True
            if not isinstance(exc, Exception):
                raise
            return
        start = 0
        for entry in group:
            entry.ids, entry.done = ids[start : start + len(entry.rows)], True
            start += len(entry.rows)
        self.relay.send(ids)

    def _commit(self, rows: list[dict[str, Any]]) -> list[int]:
        """Insert ``rows`` in one transaction; a connection found dead first is replaced once.

        Only a failure before the commit is retried, on a fresh connection: nothing
        was stored then. A connection lost during the commit raises, because the
        rows may or may not be stored, as with any client.
        """
        for retry in (True, False):
            conn = self._connection()
            on_driver = len(rows) == 1  # see _insert
            try:
                ids = _insert(conn, rows)
            except Exception as exc:
                if self._end(conn, exc, on_driver) and retry:
                    log.info("outbox connection lost (%s); reconnecting", exc)
                    continue
                raise
            try:
                if on_driver:
                    conn.connection.dbapi_connection.commit()
                else:
                    conn.commit()
            except Exception as exc:
                self._end(conn, exc, on_driver)
                raise
            return ids
        raise AssertionError("unreachable")  # pragma: no cover

    def _connection(self) -> Connection:
        if self._conn is None or self._conn.closed or self._conn.invalidated:
            self._conn = self.engine.connect()
        return self._conn

    def _end(self, conn: Connection, exc: Exception, on_driver: bool) -> bool:
        """After a failure: roll back (on SQLite, freeing the write lock); True if the
        connection was lost, in which case it is dropped instead."""
        if isinstance(exc, DBAPIError):  # SQLAlchemy has already invalidated a lost one
            lost = exc.connection_invalidated
        else:
            dialect = self.engine.dialect
            lost = isinstance(exc, dialect.loaded_dbapi.Error) and dialect.is_disconnect(
                exc, conn.connection.dbapi_connection, None
            )
        if not lost:
            try:
                if on_driver:
                    conn.connection.dbapi_connection.rollback()
                else:
                    conn.rollback()
                return False
            except Exception:
                pass  # no rollback: the connection goes
        conn.invalidate()
        self._conn = None
        return lost

    def close(self, timeout: float = 5.0) -> None:
        """Relay what is left and stop the relay, then return the connection to the pool."""
        self.relay.stop(timeout)
        with self._cond:
            self._cond.wait_for(lambda: not self._writing, timeout)
            if self._conn is not None:
                self._conn.close()
                self._conn = None


_TABLE = Publication.__table__
COLUMNS = ("event_name", "arguments", "store_id", "state", "chain_count", "created")


def _insert(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert without committing: one row on the driver, more with allocated ids.

    The one-row insert runs outside SQLAlchemy's transaction, which never began, and
    so it is committed or rolled back on the driver too.
    """
    if len(rows) == 1:
        return [_one_row(conn.dialect).insert(conn.connection.dbapi_connection, rows[0])]
    return bulk.insert_with_ids(conn, _TABLE, rows)


class _OneRow:
    """``INSERT ... RETURNING id`` of one publication, compiled once, run on the driver.

    A publisher that commits event by event would otherwise pay SQLAlchemy's
    execution, about 0.1 ms of Python a call and as much as SQLite's own insert and
    commit. The statement's text and the columns' bind processors (SQLite's
    datetime format, say) still come from SQLAlchemy.
    """

    def __init__(self, dialect: Dialect) -> None:
        statement = insert(_TABLE).returning(_TABLE.c.id)
        compiled = statement.compile(dialect=dialect, column_keys=list(COLUMNS))
        self.sql = compiled.string
        self.order = list(compiled.positiontup or []) if compiled.positional else None
        processors = bulk.bind_processors(_TABLE, dialect)
        self.processors = {name: processors[name] for name in COLUMNS if name in processors}
        self.sqlite = dialect.name == "sqlite"

    def insert(self, driver: Any, row: dict[str, Any]) -> int:
        values = {name: row[name] for name in COLUMNS}
        for name, processor in self.processors.items():
            values[name] = processor(values[name])
        params = tuple(values[name] for name in self.order) if self.order else values
        if self.sqlite:  # the driver is in autocommit mode here; take the write lock
            sqlite.begin_immediate(driver)
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, params)
            return cursor.fetchone()[0]
        finally:
            cursor.close()


@functools.lru_cache(maxsize=8)
def _one_row(dialect: Dialect) -> _OneRow:
    return _OneRow(dialect)


class Relay:
    """Pushes committed publication ids to Redis from a thread of its own.

    The thread wakes on the first id, lingers ``RELAY_LINGER`` so the rest of a
    burst joins it, and hands the lot to ``queues.enqueue_publications`` in one
    round trip. That never raises: with Redis away, the ids wait for the sweep. While
    a push hangs (Redis unreachable, packets dropped), ids beyond RELAY_MAX_IDS are
    left to the sweep too, so the list stays bounded at any publish rate.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._cond = threading.Condition()
        self._ids: list[int] = []
        self._shed = 0  # ids left to the sweep since the last push began
        self._sending = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def send(self, ids: list[int]) -> None:
        """Queue ``ids`` for the next push; those beyond RELAY_MAX_IDS wait for the sweep."""
        with self._cond:
            room = max(0, RELAY_MAX_IDS - len(self._ids))
            if len(ids) > room and not self._shed:
                log.warning("relay behind Redis: new publications wait for the sweep")
            self._shed += max(0, len(ids) - room)
            self._ids.extend(ids[:room])
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
                self._thread.start()
                atexit.register(self._at_exit)
            self._cond.notify_all()

    def waiting(self) -> int:
        """How many ids wait for the next push."""
        with self._cond:
            return len(self._ids)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every id sent so far has been pushed (or given up on); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._ids and not self._sending, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Push the ids sent so far, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _at_exit(self) -> None:
        if os.getpid() == self._pid:  # not in a forked child, which has no relay thread
            self.flush(1.0)

    def _run(self) -> None:
        timeout = self.app.config["DELIVERY_JOB_TIMEOUT"]
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ids or self._stopping)
                if not self._ids:
                    return
                self._sending = True
            time.sleep(RELAY_LINGER)
            with self._cond:
                ids, self._ids, self._shed = self._ids, [], 0
            try:
                with self.app.app_context():
                    queues.enqueue_publications(ids, timeout)
            except Exception:  # the thread must outlive any failure; the sweep has the ids
                log.exception("publications %s not relayed; the sweep will queue them", ids)
            finally:
                with self._cond:
                    self._sending = bool(self._ids)
                    self._cond.notify_all()


_lock = threading.Lock()


def get(app: Flask, engine: Engine) -> Outbox:
    """This process's outbox for ``app``, made on first use (and again in a forked child)."""
    with _lock:
        outbox = _made_here(app)
        if outbox is None:
            if "outbox" in app.extensions:  # inherited: never use, close or collect it
                _INHERITED.append(app.extensions["outbox"][1])
            outbox = Outbox(app, engine)
            app.extensions["outbox"] = (os.getpid(), outbox)
        return outbox


def close(app: Flask) -> None:
    """End this process's outbox for ``app``, if it made one: at shutdown, and between tests."""
    outbox = _made_here(app)
    app.extensions.pop("outbox", None)
    if outbox is not None:
        outbox.close()


def flush(app: Flask, timeout: float = 5.0) -> bool:
    """Wait until this process's published ids have been pushed to Redis; False on timeout."""
    outbox = _made_here(app)
    return outbox is None or outbox.relay.flush(timeout)


def _made_here(app: Flask) -> Outbox | None:
    """``app``'s outbox if this process made it; None if none was made, or a parent made it."""
    pid, outbox = app.extensions.get("outbox", (None, None))
    return outbox if pid == os.getpid() else None
