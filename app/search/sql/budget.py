"""Holding a SQL search to its deadline on SQLite: a progress handler (PostgreSQL: ``pg_budget``).

``enforced(session)`` wraps the statements of one search (``app.search.sql.backend``) when
``budget.current()`` has a deadline. On SQLite, a progress handler on the session's
own connection looks at the clock every ``progress_steps(budget)`` virtual-machine
steps and interrupts the statement once the deadline has passed (an interrupted
SELECT leaves the transaction open). It answers only in the thread that installed it,
and it is removed when the search ends, so the connection goes back to the pool as it
came, and no other connection (the outbox's, a worker's recorder) ever has it.

Steps differ in cost: an index scan runs 50-65 million a second, a scan that probes
each document's JSON (leading wildcards) about 2 million, on the bench machine under
load. The step count is set for the slow kind, about 20 looks per budget, and capped
at 500,000 steps, so a 5 s search stops within about 0.3 s of its deadline. Not more
often: each look takes the GIL, and with another thread busy in Python it waits up to
the switch interval (5 ms) for it. Measured on a LIKE scan with a busy thread beside
it: 28 ms without a handler, 40 ms with one every 500,000 steps, 71 ms every 100,000,
243 ms every 20,000; idle, no difference.

Python work between statements is not interrupted (the first run of a new query shape
compiles its SQL: 0.1-0.6 s on the loaded machine); the next statement is, at the
handler's first look. A search that runs out of time raises ``budget.SearchTimeout``;
the caller's session and transaction stay usable.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from contextvars import ContextVar
from typing import Any

from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from app.search import budget
from app.search.budget import Deadline

STEPS_PER_SECOND = 2_000_000  # SQLite VM steps a second when each probes JSON (the slow kind)
CHECKS_PER_BUDGET = 20  # looks at the clock per budget, for queries of that kind
MAX_STEPS = 500_000  # between two looks, whatever the budget (8 ms of a fast index scan)


class _ProgressHandler:
    """SQLite's progress handler on one connection, stopping this thread's statements."""

    def __init__(self, driver: Any, deadline: Deadline) -> None:
        self.driver, self.deadline = driver, deadline

    def install(self) -> None:
        owner, at = threading.get_ident(), self.deadline.at

        def past_deadline() -> bool:  # true interrupts the statement
            return time.monotonic() > at and threading.get_ident() == owner

        self.driver.set_progress_handler(past_deadline, progress_steps(self.deadline.seconds))

    def remove(self) -> None:
        with suppress(sqlite3.ProgrammingError):  # closed meanwhile: nothing left to remove
            self.driver.set_progress_handler(None, 0)


_active: ContextVar[_ProgressHandler | None] = ContextVar("sqlite_search_handler", default=None)


def progress_steps(seconds: float) -> int:
    """SQLite VM steps between two looks at the clock, for a budget of ``seconds``."""
    return min(MAX_STEPS, max(1000, int(seconds * STEPS_PER_SECOND / CHECKS_PER_BUDGET)))


@contextmanager
def enforced(session: Session) -> Iterator[None]:
    """Run the block's statements on ``session`` within ``budget.current()``'s deadline.

    On SQLite this installs the progress handler for the block. On PostgreSQL the
    connection's cursor class (``pg_budget``) does the work statement by statement, so,
    as without a deadline or inside another ``enforced`` block, this only yields.
    Raises SearchTimeout when the deadline passes; the block must only read.
    """
    deadline = budget.current()
    if deadline is None or _active.get() is not None:
        yield
        return
    if deadline.remaining() <= 0:
        raise deadline.timeout()
    connection = session.connection()
    if connection.dialect.name != "sqlite":
        yield
        return
    handler = _ProgressHandler(connection.connection.dbapi_connection, deadline)
    handler.install()
    token = _active.set(handler)
    try:
        yield
    except DBAPIError as error:
        if getattr(error.orig, "sqlite_errorcode", None) == sqlite3.SQLITE_INTERRUPT:
            raise deadline.timeout() from None
        raise
    finally:
        _active.reset(token)
        handler.remove()
