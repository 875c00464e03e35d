"""Holding a SQL search to its deadline on PostgreSQL: ``SET LOCAL statement_timeout``.

Every connection gets, as it opens, a cursor class (``install``) that looks at
``budget.current()`` before each statement, and does nothing else while no search
runs. At a search's first statement it sends ``SAVEPOINT`` and ``SET LOCAL
statement_timeout`` set to the time left, in one round trip, inside the search's
transaction. Before each later statement it stops a search past its deadline, and
lowers the timeout once less than 90 % of it is left, so a search of many statements
stops within ~10 % of its deadline, not one statement timeout after it. A statement
the timeout cancels becomes SearchTimeout, after ``ROLLBACK TO SAVEPOINT``, which
leaves the caller's transaction usable.

The first statement outside the search in the same transaction first gets ``ROLLBACK
TO SAVEPOINT; RELEASE`` (a search only reads, so that undoes only the timeout); if the
transaction ends first, the timeout ends with it (``SET LOCAL``). Either way it never
outlives the search, nor reaches a pooled connection's next user. A REST search thus
pays one extra round trip, as does a dashboard page with its count. Arming and
disarming around each search cost two, and 11 % on the public queries' pages
(geometric mean, 100,000 logs, on the loaded machine).

Not an engine-wide statement listener: one would switch on SQLAlchemy's event dispatch
for every statement of the process (none is on for PostgreSQL), the delivery
pipeline's included: 15-40 us a statement on the loaded machine. The cursor class
costs an attribute and a context-variable read per statement.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Engine, event

from app.search import budget
from app.search.budget import Deadline

LOWER_BELOW = 0.9  # lower statement_timeout once the time left is under 90 % of it
SAVEPOINT = "async_events_search_budget"
_IN_TRANSACTION = 2  # psycopg.pq.TransactionStatus.INTRANS (idle inside a transaction)
_ARMED = "async_events_search_budget"  # the psycopg connection's attribute while armed


class _Armed:
    """The statement_timeout a search set in its connection's current transaction."""

    __slots__ = ("deadline", "ms")

    def __init__(self, deadline: Deadline, ms: int) -> None:
        self.deadline, self.ms = deadline, ms


def install(engine: Engine) -> None:
    """On PostgreSQL, give each new connection the cursor class that holds searches to
    their deadline. A pool event: SQLAlchemy dispatches no statement event for it."""
    if engine.dialect.name == "postgresql" and not event.contains(engine, "connect", _connected):
        event.listen(engine, "connect", _connected)


def _connected(driver: Any, _record: Any) -> None:
    driver.cursor_factory = _budget_cursor(driver.cursor_factory)


@cache
def _budget_cursor(base: type) -> type:
    """``base`` (a psycopg cursor class), holding the statements of a search to its deadline."""
    from psycopg.errors import QueryCanceled

    class BudgetCursor(base):  # type: ignore[misc, valid-type]
        def execute(self, query: Any, params: Any = None, **options: Any) -> Any:
            _before_statement(self.connection)
            try:
                return super().execute(query, params, **options)
            except QueryCanceled:
                armed = getattr(self.connection, _ARMED, None)
                if armed is None or budget.current() is not armed.deadline:
                    raise
                _disarm(self.connection)  # the transaction is usable again
                raise armed.deadline.timeout() from None

        def executemany(self, query: Any, params_seq: Any, **options: Any) -> Any:
            _before_statement(self.connection)  # writes run outside searches: this disarms
            return super().executemany(query, params_seq, **options)

    return BudgetCursor


def _before_statement(driver: Any) -> None:
    """Arm, lower or disarm the timeout for the statement about to run on ``driver``."""
    armed, deadline = getattr(driver, _ARMED, None), budget.current()
    if armed is None and deadline is None:
        return  # no search, before or now: every statement outside searches
    if armed is not None and driver.info.transaction_status != _IN_TRANSACTION:
        _forget(driver)  # its transaction ended, and the timeout with it
        armed = None
    if deadline is None or driver.autocommit:  # (a pool's ping runs in autocommit)
        if armed is not None:
            _disarm(driver)
        return
    left = deadline.remaining()
    if left <= 0:
        raise deadline.timeout()
    ms = max(1, int(left * 1000))  # 0 would mean "no timeout"
    if armed is None:
        _run(driver, f"SAVEPOINT {SAVEPOINT}; SET LOCAL statement_timeout = {ms}")
        setattr(driver, _ARMED, _Armed(deadline, ms))
    elif armed.deadline is not deadline or ms < armed.ms * LOWER_BELOW:
        _run(driver, f"SET LOCAL statement_timeout = {ms}")
        armed.deadline, armed.ms = deadline, ms


def _disarm(driver: Any) -> None:
    """Undo the search's timeout: back to the savepoint (a search only reads), and on."""
    _forget(driver)
    _run(driver, f"ROLLBACK TO SAVEPOINT {SAVEPOINT}; RELEASE SAVEPOINT {SAVEPOINT}")


def _forget(driver: Any) -> None:
    if getattr(driver, _ARMED, None) is not None:
        delattr(driver, _ARMED)


def _run(driver: Any, sql: str) -> None:
    # A plain cursor, not the connection's own class. Never prepared: each text holds a
    # different number, and would only churn psycopg's cache of statements worth it.
    from psycopg import Cursor

    with Cursor(driver) as cursor:
        cursor.execute(sql, prepare=False)
