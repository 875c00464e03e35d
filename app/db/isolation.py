"""Storing a batch so that one bad row cannot fail the others: halve on a data error.

A batch is one transaction, and one value the database refuses fails all of it. The
recorder prevents the refusals it knows of (``app.db.escaping``); this is the
safety net for the rest. A batch that fails for its data is rolled back and split in
halves, each stored on its own, until the row that fails is alone; that row is then
stored in its safe form. A failure that is not about data (the database is down,
locked or read-only) is raised at once, never split: splitting cannot help, and the
rows not yet stored stay leased, so the sweep brings them back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, StatementError

from app.extensions import db

log = logging.getLogger(__name__)
T = TypeVar("T")

# Raised by a driver, before anything reaches the server, for a value it cannot send:
# a lone surrogate (UnicodeEncodeError), NUL (psycopg, as DataError), an integer
# beyond 64 bits (sqlite3's OverflowError), a type it cannot bind.
_REFUSED_VALUES = (ValueError, TypeError, OverflowError)


def is_data_error(exc: BaseException) -> bool:
    """Whether ``exc`` says a value was refused, rather than that the database failed.

    DataError (a value out of range, NUL in text) and IntegrityError (a constraint)
    are about rows; OperationalError, InterfaceError, InternalError (a read-only
    transaction, say) and a lost connection are about the database.
    """
    if isinstance(exc, DBAPIError):
        return not exc.connection_invalidated and isinstance(exc, DataError | IntegrityError)
    if isinstance(exc, StatementError):  # SQLAlchemy wrapped an error of its own processing
        exc = exc.orig
    driver = db.engine.dialect.loaded_dbapi  # its errors, where they reach us unwrapped
    return isinstance(exc, (*_REFUSED_VALUES, driver.DataError, driver.IntegrityError))


def store_isolating(items: list[T], store: Callable[[list[T], bool], None]) -> int:
    """Store ``items`` with ``store(items, safe)``, which commits a transaction of its own.

    First all at once, with ``safe`` False. On a data error, roll back and store each
    half the same way; an item that fails alone is stored again with ``safe`` True.
    If even that fails, the item is logged and left out: it stays leased, as any
    unrecorded attempt does. Any other error rolls back and is raised. Returns how
    many items were stored in their safe form.
    """
    refused = _attempt(items, store, safe=False)
    if refused is None:
        return 0
    if len(items) > 1:
        half = len(items) // 2
        return store_isolating(items[:half], store) + store_isolating(items[half:], store)
    log.warning(
        "a row was refused (%s: %s); storing its safe form", type(refused).__name__, refused
    )
    refused = _attempt(items, store, safe=True)
    if refused is None:
        return 1
    log.error("a row was refused even in its safe form; left to its lease: %r", refused)
    return 0


def _attempt(
    items: list[T], store: Callable[[list[T], bool], None], safe: bool
) -> Exception | None:
    """Run ``store(items, safe)``: None once it committed, the error if the database
    refused the data (rolled back); any other error is rolled back and raised."""
    try:
        store(items, safe)
        return None
    except Exception as exc:
        db.session.rollback()
        if not is_data_error(exc):
            raise
        return exc
