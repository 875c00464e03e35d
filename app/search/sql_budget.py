"""Holding a SQL search to its deadline: SQLite's progress handler, PostgreSQL's statement_timeout.

``enforced(session)`` wraps the statements of one search (``app.search.sql``) when
``budget.current()`` has a deadline:

- **SQLite**: a progress handler on the session's own connection looks at the clock
  every ``progress_steps(budget)`` virtual-machine steps and interrupts the statement
  once the deadline has passed. It answers only in the thread that installed it, and
  it is removed when the search ends, so the connection goes back to the pool as it
  came, and no other connection (the outbox's, a worker's recorder) ever has it.
  Steps differ in cost: an index scan runs 50-65 million a second, a scan that probes
  each document's JSON (leading wildcards) about 2 million, on the bench machine
  under load. The step count is set for the slow kind, about 20 looks per budget,
  and capped at 500,000 steps, so a 5 s search stops within about 0.3 s of its
  deadline. Not more often: each look takes the GIL, and with another thread busy in
  Python it waits up to the switch interval (5 ms) for it. Measured on a LIKE scan
  with a busy thread beside it: 28 ms without a handler, 40 ms with one every 500,000
  steps, 71 ms every 100,000, 243 ms every 20,000; idle, no difference. An
  interrupted SELECT leaves the transaction open.
- **PostgreSQL**: ``SAVEPOINT``, then ``SET LOCAL statement_timeout`` to the time left,
  inside the search's transaction; at the end, ``ROLLBACK TO SAVEPOINT`` and
  ``RELEASE``. A search only reads, so the rollback undoes only the timeout, which
  therefore never outlives the search, let alone reaches a pooled connection; and a
  statement the timeout cancelled leaves the transaction usable again. One round trip
  at each end (together 0.2 ms p50 on loopback, on the loaded bench machine). Before
  each statement of the search (the connection's ``cursor_factory`` is swapped for the
  search's, and put back after), a search past its deadline stops, and a statement
  that would start with less time left than its timeout gets the timeout lowered
  first, so a search of many statements stops within ~10 % of its deadline, not one
  statement timeout after it. (On SQLite, a statement that starts after the deadline
  is interrupted at the handler's next look at the clock, which does as much.)

No engine-wide event listener: one would turn on SQLAlchemy's event dispatch for
every statement of the process on PostgreSQL (none is on there), the delivery
pipeline's included; measured, 15-40 us a statement on the loaded bench machine.

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
from functools import cache
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.search import budget
from app.search.budget import Deadline

STEPS_PER_SECOND = 2_000_000  # SQLite VM steps a second when each probes JSON (the slow kind)
CHECKS_PER_BUDGET = 20  # looks at the clock per budget, for queries of that kind
MAX_STEPS = 500_000  # between two looks, whatever the budget (8 ms of a fast index scan)
LOWER_BELOW = 0.9  # lower statement_timeout once the time left is under 90 % of it
QUERY_CANCELED = "57014"  # PostgreSQL's SQLSTATE for a statement timeout (and a cancel)
SAVEPOINT = "async_events_search_budget"


class _Guard:
    """The deadline of the search running on one driver connection (no timer of its own)."""

    def __init__(self, driver: Any, deadline: Deadline) -> None:
        self.driver, self.deadline = driver, deadline

    def start(self) -> None:
        """Arm the database's own timer."""

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
    cursors: Any = None  # the connection's own cursor_factory, while the search has it

    def start(self) -> None:
        self.armed_ms = self._milliseconds()
        self._run(f"SAVEPOINT {SAVEPOINT}; SET LOCAL statement_timeout = {self.armed_ms}")
        self.cursors = self.driver.cursor_factory
        self.driver.cursor_factory = _budget_cursor(self.cursors)

    def before_statement(self) -> None:
        """Stop if the deadline has passed; else make the timeout at most the time left."""
        left = self.deadline.remaining()
        if left <= 0:
            raise self.deadline.timeout()
        ms = max(1, int(left * 1000))
        if ms < self.armed_ms * LOWER_BELOW:
            self._run(f"SET LOCAL statement_timeout = {ms}")
            self.armed_ms = ms

    def stopped(self, error: DBAPIError) -> bool:
        return getattr(error.orig, "sqlstate", None) == QUERY_CANCELED

    def finish(self) -> None:
        if self.cursors is not None:
            self.driver.cursor_factory, self.cursors = self.cursors, None
        self._run(f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")

    def _milliseconds(self) -> int:
        return max(1, int(self.deadline.remaining() * 1000))  # 0 would mean "no timeout"

    def _run(self, sql: str) -> None:
        # Straight to the driver, on a plain cursor: not the search's own cursor class.
        # Never prepared: each text holds a different number, and would only churn
        # psycopg's cache of the statements that are worth preparing.
        from psycopg import Cursor  # only PostgreSQL deployments need the driver

        with Cursor(self.driver) as cursor:
            cursor.execute(sql, prepare=False)


@cache
def _budget_cursor(base: type) -> type:
    """``base`` (a psycopg cursor class), checking the search's deadline before each statement."""

    def execute(self: Any, query: Any, params: Any = None, **options: Any) -> Any:
        guard = _active.get()
        if isinstance(guard, _PostgresGuard) and guard.driver is self.connection:
            guard.before_statement()
        return base.execute(self, query, params, **options)

    return type(f"Budget{base.__name__}", (base,), {"execute": execute})


_GUARDS = {"sqlite": _SqliteGuard, "postgresql": _PostgresGuard}
_active: ContextVar[_Guard | None] = ContextVar("sql_search_guard", default=None)


def progress_steps(seconds: float) -> int:
    """SQLite VM steps between two looks at the clock, for a budget of ``seconds``."""
    return min(MAX_STEPS, max(1000, int(seconds * STEPS_PER_SECOND / CHECKS_PER_BUDGET)))


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
