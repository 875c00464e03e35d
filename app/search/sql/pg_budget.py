"""Holding a SQL search to its deadline on PostgreSQL: a cancel at the deadline.

Every connection gets, as it opens, a cursor class (``install``) that looks at
``budget.current()`` before each statement. A statement run under a deadline is
handed to ``pg_watchdog``, which cancels it if it still runs at the deadline; a
cancelled statement becomes SearchTimeout. A search that ends in time costs no round
trip: measured against the per-search ``SAVEPOINT; SET LOCAL statement_timeout`` this
replaces, that extra round trip made the public queries' pages 4-7 % slower.

A cancel aborts the transaction, so the caller's must be put back as it was before the
search. The cursor keeps, per transaction, whether anything but plain reads ran in it
(``_plain_read``: a SELECT or SHOW that locks nothing and sets nothing):
- only reads, or nothing (the usual case: a page, a count, a REST search; a token's
  "last used" write commits at once): a cancelled search rolls the transaction back,
  which undoes only reads, and the next statement begins a new one;
- a write, a locking read or anything else: before its first statement the search sets
  a savepoint (the one round trip it pays), and a cancel rolls back to it.
Either way the caller's session and transaction stay usable after SearchTimeout, and
nothing of the search outlives it on a pooled connection.

Not an engine-wide statement listener: one would switch on SQLAlchemy's event dispatch
for every statement of the process, the delivery pipeline's included (15-40 us a
statement on the loaded machine). The cursor class costs a context-variable read, the
transaction's status and a look at the statement's first word.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from sqlalchemy import Engine, event

from app.search import budget
from app.search.budget import Deadline
from app.search.sql import pg_watchdog

SAVEPOINT = "async_events_search_budget"
_IDLE = 0  # psycopg.pq.TransactionStatus.IDLE: the next statement begins a transaction
_IN_TRANSACTION = 2  # psycopg.pq.TransactionStatus.INTRANS: idle inside a transaction
_UNSAFE = "async_events_unsafe"  # the transaction ran more than reads since its restore point
_SAVED = "async_events_saved"  # the transaction holds the search savepoint
# A statement that a rollback undoes nothing of but reads: SELECT or SHOW that takes
# no row lock, no advisory lock and sets no setting. Anything else, WITH included (a
# CTE may write), counts as a write.
_PLAIN_READ = re.compile(
    r"\s*(?:SELECT|SHOW)\b"
    r"(?!.*\bFOR\s+(?:UPDATE|NO\s+KEY\s+UPDATE|SHARE|KEY\s+SHARE)\b)"
    r"(?!.*(?:advisory|set_config))",
    re.IGNORECASE | re.DOTALL,
)


def install(engine: Engine) -> None:
    """On PostgreSQL, give each new connection the cursor class that holds searches to
    their deadline. A pool event: SQLAlchemy dispatches no statement event for it."""
    if engine.dialect.name == "postgresql" and not event.contains(engine, "connect", _connected):
        event.listen(engine, "connect", _connected)


def _connected(driver: Any, _record: Any) -> None:
    driver.cursor_factory = _budget_cursor(driver.cursor_factory)
    setattr(driver, _UNSAFE, False)
    setattr(driver, _SAVED, False)


@cache
def _budget_cursor(base: type) -> type:
    """``base`` (a psycopg cursor class), holding the statements of a search to its deadline."""

    class BudgetCursor(base):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            deadline = budget.current()
            if deadline is None:
                _note(self.connection, _plain_read(query))
                return super().execute(query, params, **options)
            return _search(self.connection, deadline, super().execute, query, params, options)

        def executemany(self, query: Any, params_seq: Any, **options: Any) -> Any:
            _note(self.connection, False)
            return super().executemany(query, params_seq, **options)

    return BudgetCursor


def _plain_read(query: Any) -> bool:
    return isinstance(query, str) and _PLAIN_READ.match(query) is not None


def _note(driver: Any, read: bool) -> None:
    """Keep track of whether the transaction ran more than reads since its restore point."""
    if driver.info.transaction_status == _IDLE:  # this statement begins a transaction
        setattr(driver, _SAVED, False)
        setattr(driver, _UNSAFE, not read)
    elif not read:
        setattr(driver, _UNSAFE, True)


def _search(driver: Any, deadline: Deadline, run: Any, query: Any, params: Any, options: Any):
    """Run one statement of a search on ``driver``; cancelled at the deadline."""
    if deadline.remaining() <= 0:
        raise deadline.timeout()
    read = _plain_read(query)
    if not driver.autocommit:  # (a pool's ping runs in autocommit: nothing to put back)
        in_transaction = driver.info.transaction_status == _IN_TRANSACTION
        if in_transaction and getattr(driver, _UNSAFE, True):
            _execute(driver, f"SAVEPOINT {SAVEPOINT}")
            setattr(driver, _SAVED, True)
            setattr(driver, _UNSAFE, False)
        _note(driver, read)
    from psycopg.errors import QueryCanceled

    watch = pg_watchdog.watch(driver, deadline.at)
    try:
        return run(query, params, **options)
    except QueryCanceled:
        if not watch.fired:
            raise
        _put_back(driver)
        raise deadline.timeout() from None
    finally:
        pg_watchdog.release(watch)


def _put_back(driver: Any) -> None:
    """Undo a cancelled search: to its savepoint, or the whole transaction of reads."""
    if driver.autocommit:
        return
    if getattr(driver, _SAVED, False):
        _execute(driver, f"ROLLBACK TO SAVEPOINT {SAVEPOINT}")
        setattr(driver, _UNSAFE, False)
    else:
        driver.rollback()


def _execute(driver: Any, sql: str) -> None:
    # A plain cursor, not the connection's own class: this statement is not the search's.
    from psycopg import Cursor

    with Cursor(driver) as cursor:
        cursor.execute(sql, prepare=False)
