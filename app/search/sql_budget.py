"""Holding a SQL search to its deadline: SQLite's progress handler, PostgreSQL's statement_timeout.

``enforced(session)`` wraps the statements of one search (``app.search.sql``) when
``budget.current()`` has a deadline:

- **SQLite**: a progress handler on the session's own connection looks at the clock
  about ``CHECKS_PER_BUDGET`` times per budget and interrupts the statement once the
  deadline has passed. It answers only in the thread that installed it, and it is
  removed when the search ends, so the connection goes back to the pool as it came,
  and no other connection (the outbox's, a worker's recorder) ever has it. Not more
  often: each call takes the GIL, and with another thread busy in Python a call waits
  up to the switch interval (5 ms) for it. Measured on a LIKE scan with a busy thread
  beside it: 28 ms without a handler, 40 ms with one every 500,000 steps, 243 ms every
  20,000; idle, no difference. An interrupted SELECT leaves the transaction open.
- **PostgreSQL**: ``SAVEPOINT``, then ``SET LOCAL statement_timeout`` to the time left,
  inside the search's transaction; at the end, ``ROLLBACK TO SAVEPOINT`` and
  ``RELEASE``. A search only reads, so the rollback undoes only the timeout, which
  therefore never outlives the search, let alone reaches a pooled connection; and a
  statement the timeout cancelled leaves the transaction usable again. One round trip
  at each end.
- **Both**: before each statement of the search (``watch`` listens on the engine), a
  search past its deadline stops; on PostgreSQL, a statement that would start with
  less time left than its timeout gets the timeout lowered first, so a search of many
  statements stops within ~10 % of its deadline, not one statement timeout after it.

A search that runs out of time raises ``budget.SearchTimeout``; the caller's session
and transaction stay usable (rows it loaded before stay loaded).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.search import budget
from app.search.budget import Deadline

STEPS_PER_SECOND = 50_000_000  # SQLite VM steps a second, about (measured: 50-65 million)
CHECKS_PER_BUDGET = 50  # looks at the clock per budget: a stop within ~2 % of the deadline
LOWER_BELOW = 0.9  # lower statement_timeout once the time left is under 90 % of it
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement timeout (and a cancel)
SAVEPOINT = "async_events_search_budget"


class _Guard:
    """The deadline of the search running on one driver connection (no timer of its own)."""

    def __init__(self, driver: Any, deadline: Deadline) -> None:
        self.driver, self.deadline = driver, deadline

    def start(self) -> None:
        """Arm the database's own timer."""

    def before_statement(self) -> None:
        """Called before each statement of the search: stop if the deadline has passed."""
        if self.deadline.remaining() <= 0:
            raise self.deadline.timeout()

    def stopped(self, error: DBAPIError) -> bool:
        """True if ``error`` is this guard's timer stopping a statement."""
        return False

    def finish(self) -> None:
        """Disarm the timer (after the search, whether it failed or not)."""


class _SqliteGuard(_Guard):
    def start(self) -> None:
        owner, at = threading.get_ident(), self.deadline.at

        def past_deadline() -> bool:  # true interrupts the statement
            return time.monotonic() > at and threading.get_ident() == owner

        self.driver.set_progress_handler(past_deadline, progress_steps(self.deadline.seconds))

    def stopped(self, error: DBAPIError) -> bool:
        return getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT

    def finish(self) -> None:
        with suppress(sqlite3.ProgrammingError):  # closed meanwhile: nothing left to disarm
            self.driver.set_progress_handler(None, 0)


class _PostgresGuard(_Guard):
    armed_ms = 0

    def start(self) -> None:
        self.armed_ms = self._milliseconds()
        self._run(f"SAVEPOINT {SAVEPOINT}; SET LOCAL statement_timeout = {self.armed_ms}")

    def before_statement(self) -> None:
        super().before_statement()
        ms = self._milliseconds()
        if ms < self.armed_ms * LOWER_BELOW:
            self._run(f"SET LOCAL statement_timeout = {ms}")
            self.armed_ms = ms

    def stopped(self, error: DBAPIError) -> bool:
        return getattr(error.orig, "sqlstate", None) == QUERY_CANCELED

    def finish(self) -> None:
        self._run(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")

    def _milliseconds(self) -> int:
        return max(1, int(self.deadline.remaining() * 1000))  # 0 would mean "no timeout"

    def _run(self, sql: str) -> None:
        # Straight to the driver: SQLAlchemy would add a round trip of its own to nothing.
        # Never prepared: each text holds a different number, and would only churn
        # psycopg's cache of the statements that are worth preparing.
        self.driver.execute(sql, prepare=False)


_GUARDS = {"sqlite": _SqliteGuard, "postgresql": _PostgresGuard}
_active: ContextVar[_Guard | None] = ContextVar("sql_search_guard", default=None)


def progress_steps(seconds: float) -> int:
    """SQLite VM steps between two looks at the clock, for a budget of ``seconds``."""
    return max(1000, int(seconds * STEPS_PER_SECOND / CHECKS_PER_BUDGET))


def watch(engine: Engine) -> None:
    """Let ``enforced`` see each statement ``engine`` runs (once per engine; idempotent).

    Outside a budgeted search the listener costs one context-variable read per statement.
    """
    if not event.contains(engine, "before_cursor_execute", _before_statement):
        event.listen(engine, "before_cursor_execute", _before_statement)


@contextmanager
def enforced(session: Session) -> Iterator[None]:
    """Run the block's statements on ``session`` within ``budget.current()``'s deadline.

    Without a deadline, or inside another ``enforced`` block, it only yields. Raises
    SearchTimeout when the deadline passes; the block must only read.
    """
    deadline = budget.current()
    if deadline is None or _active.get() is not None:
        yield
        return
    if deadline.remaining() <= 0:
        raise deadline.timeout()
    connection = session.connection()
    guard_type = _GUARDS.get(connection.dialect.name, _Guard)
    guard = guard_type(connection.connection.dbapi_connection, deadline)
    guard.start()
    token = _active.set(guard)
    try:
        yield
    except DBAPIError as error:
        _finish_after_error(guard)
        if guard.stopped(error):
            raise deadline.timeout() from None
        raise
    except BaseException:
        _finish_after_error(guard)
        raise
    else:
        guard.finish()
    finally:
        _active.reset(token)


def _finish_after_error(guard: _Guard) -> None:
    """Disarm ``guard`` after the search failed; a second error (a broken connection)
    must not hide the first, which is already on its way."""
    with suppress(Exception):  # the search's own error is the one to see
        guard.finish()


def _before_statement(conn: Any, cursor: Any, *_: Any) -> None:
    guard = _active.get()
    if guard is not None and guard.driver is conn.connection.dbapi_connection:
        guard.before_statement()
