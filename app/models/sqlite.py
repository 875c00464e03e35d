"""SQLite tuning so the web process and several workers can write one file safely."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, event


def configure(engine: Engine) -> None:
    """Turn on WAL, a busy timeout and foreign keys, and make every transaction IMMEDIATE.

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
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Straight to the driver: exec_driver_sql would double the cost of a short
        # transaction such as a publish, for a statement with no result to handle.
        conn.connection.dbapi_connection.execute("BEGIN IMMEDIATE")
