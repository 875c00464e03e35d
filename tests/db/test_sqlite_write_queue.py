"""SQLite writers queue for the write lock on a flock (app.db.sqlite)."""

from __future__ import annotations

import fcntl
import gc
import os
import signal
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from app.db import sqlite, write_gate
from app.db.sqlite import begin_immediate
from app.db.write_gate import WriterConnection

ROOT = Path(__file__).resolve().parents[2]

# The start of every helper process: ``connect`` as the app connects, minus SQLAlchemy.
PRELUDE = """
import os, sqlite3, sys, time
from app.db.sqlite import begin_immediate
from app.db.write_gate import WriterConnection

def connect(path, timeout=30.0):
    conn = sqlite3.connect(path, timeout, isolation_level=None, factory=WriterConnection)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn

conn = connect(sys.argv[1])
"""


def connect(path: Path, timeout: float = 30.0) -> WriterConnection:
    conn = sqlite3.connect(
        path, timeout, isolation_level=None, check_same_thread=False, factory=WriterConnection
    )
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def locked(lock_path: str) -> bool:
    """Whether some open file holds the flock, tried from a file of our own."""
    fd = os.open(lock_path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return False
    except BlockingIOError:
        return True
    finally:
        os.close(fd)


def write_after_the_dead_holder(conn: WriterConnection) -> None:
    """In ``conn``'s open transaction: a write commits, and the dead holder's row is gone."""
    conn.execute("INSERT INTO t VALUES (2)")
    conn.commit()
    assert conn.execute("SELECT x FROM t").fetchall() == [(2,)]


def spawn(code: str, db: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-c", PRELUDE + code, str(db)],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )


@pytest.fixture
def db(tmp_path: Path) -> Path:
    path = tmp_path / "test.db"
    conn = connect(path)
    conn.execute("CREATE TABLE t (x INTEGER)")
    conn.close()
    return path


@pytest.fixture
def conn(db: Path) -> Iterator[WriterConnection]:
    conn = connect(db)
    yield conn
    conn.close()


def test_engine_connections_queue_from_begin_until_the_driver_commits(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    sqlite.configure(engine)
    with engine.connect() as c:
        driver = c.connection.dbapi_connection
        assert isinstance(driver, WriterConnection)
        assert driver.lock_path == str(tmp_path / "app.db") + "-writer.lock"
        c.execute(text("CREATE TABLE t (x TEXT)"))
        assert locked(driver.lock_path)
        assert c.execute(text("SELECT 'abc' REGEXP 'b'")).scalar() == 1  # SQLAlchemy's function
        c.commit()
        assert not locked(driver.lock_path)
        c.execute(text("INSERT INTO t VALUES ('a')"))
        c.rollback()
        assert not locked(driver.lock_path)
        c.execute(text("INSERT INTO t VALUES ('b')"))
    assert not locked(driver.lock_path)  # the pool's rollback on return
    with engine.connect() as c:  # the same pooled connection, queueing again
        c.execute(text("INSERT INTO t VALUES ('c')"))
        assert locked(driver.lock_path)
        c.commit()
        assert c.execute(text("SELECT x FROM t")).scalars().all() == ["c"]
    engine.dispose()

    memory = create_engine("sqlite://")
    sqlite.configure(memory)
    with memory.connect() as c:
        assert c.connection.dbapi_connection.lock_path is None
        c.execute(text("SELECT 1"))
        c.commit()


def test_a_failed_begin_lets_the_lock_go(conn: WriterConnection) -> None:
    begin_immediate(conn)
    with pytest.raises(sqlite3.OperationalError, match="within a transaction"):
        begin_immediate(conn)  # already held by the outer transaction: kept
    assert locked(conn.lock_path)
    conn.rollback()
    assert not locked(conn.lock_path)
    conn.rollback()  # none open: a no-op, and nothing to unlock


def test_every_way_out_of_a_transaction_lets_the_lock_go(db: Path) -> None:
    conn = connect(db)
    lock_path = conn.lock_path
    for end in (conn.commit, conn.rollback, lambda: conn.__exit__(None, None, None)):
        begin_immediate(conn)
        assert locked(lock_path)
        end()
        assert not locked(lock_path)
    begin_immediate(conn)
    conn.close()
    assert not locked(lock_path)
    for _ in range(2):  # dropped without a close; the thread's count goes too
        dropped = connect(db)
        begin_immediate(dropped)
        del dropped
        gc.collect()
        assert not locked(lock_path)
    assert threading.get_ident() not in write_gate._held  # else its next BEGIN would not queue


def test_a_nested_transaction_in_one_thread_fails_instead_of_hanging(
    db: Path, conn: WriterConnection, tmp_path: Path
) -> None:
    nested = connect(db, timeout=0.2)
    other_file = connect(tmp_path / "other.db")
    errors: list[BaseException] = []

    def nest() -> None:
        begin_immediate(conn)
        try:
            begin_immediate(other_file)  # another file's lock, free: taken
            assert locked(other_file.lock_path)
            other_file.commit()
            begin_immediate(nested)  # this file's, held by this thread on conn
        except BaseException as exc:
            errors.append(exc)

    try:
        thread = threading.Thread(target=nest, daemon=True)
        thread.start()
        thread.join(5)
        hung = thread.is_alive()
        conn.rollback()  # lets a hung thread go
        thread.join(5)
        assert not hung
        assert len(errors) == 1
        assert isinstance(errors[0], sqlite3.OperationalError)
        assert "database is locked" in str(errors[0])
        assert not locked(conn.lock_path)
        assert not locked(other_file.lock_path)

        begin_immediate(conn)  # another thread waits on the lock rather than failing
        thread = threading.Thread(target=begin_immediate, args=(nested,))
        thread.start()
        time.sleep(0.4)
        assert thread.is_alive()
        conn.commit()
        thread.join(5)
        assert nested.in_transaction
    finally:
        conn.rollback()
        nested.rollback()
        nested.close()
        other_file.close()


def test_a_forked_child_neither_keeps_nor_frees_its_parents_lock(
    db: Path, conn: WriterConnection
) -> None:
    holder = spawn(
        """
begin_immediate(conn)
conn.execute("INSERT INTO t VALUES (1)")
pid = os.fork()
if pid == 0:  # RQ forks like this; the child never touches the connection
    os.write(1, b"child\\n")  # one write each: print() splits its line under PYTHONUNBUFFERED
    time.sleep(60)
    os._exit(0)
os.write(1, f"{pid}\\n".encode())
time.sleep(60)
""",
        db,
    )
    child = None
    try:
        lines = {holder.stdout.readline().strip(), holder.stdout.readline().strip()}
        lines.remove("child")
        child = int(lines.pop())
        assert locked(conn.lock_path)  # the child closed its copy without unlocking
        holder.kill()
        holder.wait(5)
        os.kill(child, 0)  # the child lives on, and has no copy keeping the lock
        assert not locked(conn.lock_path)
        begin_immediate(conn)
        write_after_the_dead_holder(conn)
    finally:
        holder.kill()
        holder.wait(5)
        if child is not None:
            os.kill(child, signal.SIGKILL)


def test_a_killed_holder_does_not_block_the_next_writer(db: Path, conn: WriterConnection) -> None:
    holder = spawn(
        """
begin_immediate(conn)
conn.execute("INSERT INTO t VALUES (1)")
print("held", flush=True)
time.sleep(60)
""",
        db,
    )
    try:
        assert holder.stdout.readline() == "held\n"
        waiter = threading.Thread(target=begin_immediate, args=(conn,))
        waiter.start()
        time.sleep(0.2)
        assert waiter.is_alive()
        holder.send_signal(signal.SIGKILL)
        waiter.join(5)
        assert not waiter.is_alive()
        assert conn.in_transaction
        write_after_the_dead_holder(conn)
    finally:
        holder.kill()
        holder.wait(5)


@pytest.mark.slow
def test_a_waiting_writer_starts_as_soon_as_the_holder_commits(
    db: Path, conn: WriterConnection
) -> None:
    """Another process holds the lock 340-430 ms; this one asks for it 50 ms in.

    SQLite's busy handler alone retries at 378 and 478 ms into the wait by then,
    so its start lags the holder's commit by ~45 ms in the median.
    """
    holder = spawn(
        """
for line in sys.stdin:
    begin_immediate(conn)
    conn.execute("INSERT INTO t VALUES (1)")
    print("held", flush=True)
    time.sleep(float(line))
    conn.commit()
    print(time.monotonic(), flush=True)
""",
        db,
    )
    lags = []
    try:
        for i in range(10):
            holder.stdin.write(f"{0.34 + i * 0.01}\n")
            holder.stdin.flush()
            assert holder.stdout.readline() == "held\n"
            time.sleep(0.05)
            begin_immediate(conn)
            started = time.monotonic()
            conn.rollback()
            lags.append(started - float(holder.stdout.readline()))
    finally:
        holder.kill()
        holder.wait(5)
    ms = [round(lag * 1000, 1) for lag in lags]
    print("start after the holder's commit, ms:", ms)
    assert statistics.median(lags) < 0.015, ms


def test_a_read_only_transaction_does_not_wait_for_a_writer(tmp_path: Path) -> None:
    from sqlalchemy.orm import Session

    engine = create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    sqlite.configure(engine)  # without begin_read_only, the reader would wait 30 s here
    with Session(engine) as setup:
        setup.execute(text("CREATE TABLE t (x INTEGER)"))
        setup.execute(text("INSERT INTO t VALUES (1)"))
        setup.commit()
    with Session(engine) as writer, Session(engine) as reader:
        writer.execute(text("INSERT INTO t VALUES (2)"))  # holds the write lock, uncommitted
        sqlite.begin_read_only(reader)
        started = time.monotonic()
        assert reader.execute(text("SELECT x FROM t")).scalars().all() == [1]
        assert time.monotonic() - started < 0.2  # neither queued nor in the busy handler
        reader.commit()
        writer.commit()


def test_foreground_writers_go_ahead_of_a_background_writer(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_gate, "BACKGROUND_YIELD", 10.0)
    holder, background, foreground = connect(db), connect(db), connect(db)
    order: list[str] = []

    def write(conn: WriterConnection, name: str, in_background: bool) -> None:
        begin_immediate(conn, in_background)
        order.append(name)
        conn.commit()

    try:
        for _ in range(5):  # a race, without the gate: all five in this order is 1 in 32
            order.clear()
            begin_immediate(holder)
            late = threading.Thread(target=write, args=(background, "background", True))
            late.start()
            time.sleep(0.05)
            first = threading.Thread(target=write, args=(foreground, "foreground", False))
            first.start()
            time.sleep(0.05)
            holder.commit()
            late.join(5)
            first.join(5)
            assert order == ["foreground", "background"]
    finally:
        for conn in (holder, background, foreground):
            conn.close()


def test_a_background_writer_yields_for_a_bounded_time(
    db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(write_gate, "BACKGROUND_YIELD", 0.2)
    gate = os.open(str(db) + write_gate.GATE_SUFFIX, os.O_RDWR | os.O_CREAT)
    fcntl.flock(gate, fcntl.LOCK_SH)  # a foreground writer that never finishes
    conn = connect(db)
    try:
        started = time.monotonic()
        begin_immediate(conn, background=True)
        waited = time.monotonic() - started
        conn.commit()
        assert 0.2 <= waited < 2.0
    finally:
        conn.close()
        os.close(gate)
