"""SQLite tuned so the web process and several workers can write one file safely.

Every connection runs in WAL mode with a busy timeout and foreign keys, and every
transaction that may write begins IMMEDIATE, after queueing at the write gate
(``app.db.write_gate``), so writers take turns instead of failing with SQLITE_BUSY.
Transactions that only read (``begin_read_only``) take no write lock; the recorder's
(``begin_background``) let foreground writers go first. ``insert_flat`` inserts many
rows in few statements.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Engine, event
from sqlalchemy.orm import Session

from app.db.write_gate import WriterConnection

READ_ONLY = "async_events_read_only"  # execution option set by begin_read_only
BACKGROUND = "async_events_background"  # execution option set by begin_background
MAX_PARAMETERS = 999  # per statement in insert_flat: the limit of SQLite before 3.32


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
