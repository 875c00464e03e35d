"""SQLite tuning so the web process and several workers can write one file safely."""

from __future__ import annotations

import sqlite3
import time
from typing import Any

from sqlalchemy import Engine, event

LOCK_TIMEOUT = 30.0  # s a transaction waits for the write lock before it fails
FIRST_PAUSE, LONGEST_PAUSE = 0.0002, 0.002  # s between tries for the lock


def configure(engine: Engine) -> None:
    """Turn on WAL and foreign keys, and make every transaction IMMEDIATE.

    pysqlite starts transactions lazily, so two processes that read then write can
    deadlock with SQLITE_BUSY however long the timeout. Taking the write lock at
    BEGIN serialises writers while WAL keeps readers unblocked.
    """
    if engine.dialect.name != "sqlite":
        return

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=30000")  # another process may be opening the file
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=0")  # from here on, begin_immediate waits
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        begin_immediate(conn.connection.dbapi_connection)


def begin_immediate(dbapi_conn: sqlite3.Connection) -> None:
    """``BEGIN IMMEDIATE``, retried every 0.2 to 2 ms while another process holds the lock.

    SQLite's own busy handler sleeps 1, 2, 5, 10, 15, 20, 25... up to 100 ms between
    tries, so with three processes taking turns at transactions of a few ms, a
    waiter often slept tens of ms past the lock's release. Every statement here runs
    inside such a transaction, and once it holds the write lock nothing else in it
    can be busy, so this is the one place that waits. Straight to the driver:
    exec_driver_sql would double the cost of a short transaction such as a publish.
    """
    pause, deadline = FIRST_PAUSE, 0.0
    while True:
        try:
            dbapi_conn.execute("BEGIN IMMEDIATE")
            return
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY:
                raise
            now = time.monotonic()
            deadline = deadline or now + LOCK_TIMEOUT
            if now >= deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, LONGEST_PAUSE)
