"""SQLite's write lock: taken at BEGIN, waited for in short steps, given up after the timeout."""

from __future__ import annotations

import sqlite3
import threading
import time

import pytest
from sqlalchemy import create_engine, text

from app.models import sqlite


@pytest.fixture
def engine(tmp_path):
    engine = create_engine(f"sqlite:///{tmp_path / 'lock.db'}")
    sqlite.configure(engine)
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE t (n INTEGER)"))
    yield engine
    engine.dispose()


def holder(path: str) -> sqlite3.Connection:
    """A plain connection of another "process" that has taken the write lock."""
    other = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    other.execute("INSERT INTO t VALUES (1)")
    return other


def test_a_writer_waits_for_the_lock_in_short_pauses(engine, monkeypatch):
    pauses: list[float] = []
    sleep = time.sleep
    monkeypatch.setattr(sqlite.time, "sleep", lambda s: pauses.append(s) or sleep(s))
    other = holder(engine.url.database)
    threading.Timer(0.3, other.commit).start()
    with engine.begin() as conn:  # busy until the timer commits
        conn.execute(text("INSERT INTO t VALUES (2)"))
    assert len(pauses) >= 10 and max(pauses) == sqlite.LONGEST_PAUSE  # not up to 100 ms
    with engine.connect() as conn:
        assert conn.execute(text("SELECT n FROM t ORDER BY n")).scalars().all() == [1, 2]


def test_a_writer_gives_up_after_the_lock_timeout(engine, monkeypatch):
    monkeypatch.setattr(sqlite, "LOCK_TIMEOUT", 0.2)
    other = holder(engine.url.database)
    with pytest.raises(Exception, match="database is locked"), engine.begin():
        pass
    other.rollback()
    with engine.begin() as conn:  # the failed BEGIN left nothing behind
        conn.execute(text("INSERT INTO t VALUES (3)"))


def test_other_errors_are_not_retried(engine, tmp_path):
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        raw.execute("BEGIN IMMEDIATE")  # already in a transaction: an error, not busy
        with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
            sqlite.begin_immediate(raw)
        raw.execute("ROLLBACK")
