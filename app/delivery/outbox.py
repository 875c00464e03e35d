"""The outbox: publications committed on a connection of its own, their ids handed to the relay.

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

import logging
import os
import threading
from typing import Any

from flask import Flask
from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError

from app.delivery import publication_rows
from app.delivery.relay import Relay

log = logging.getLogger(__name__)

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
            on_driver = len(rows) == 1  # see publication_rows.insert
            try:
                ids = publication_rows.insert(conn, rows)
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
