"""Chores around a bulk load: the cycle collector, SQLite's page cache, sequences, VACUUM."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import func, select, text

from app.extensions import db
from app.models import (
    DeliveryLog,
    SearchDocument,
    SearchField,
    SearchKeyword,
    SearchNumber,
    Subscription,
)

# SQLite page cache for the import's connection: index inserts land all over the
# postings B-tree, and re-reading its pages from the OS dominated with the 2 MB default.
SQLITE_IMPORT_CACHE_KIB = 1024 * 1024  # filled only as needed, and shrunk back after


@contextmanager
def no_gc() -> Iterator[None]:
    """Pause the cycle collector: bulk work makes millions of acyclic objects, and its
    repeated full collections over them cost as much as the work (measured: 2x)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@contextmanager
def sqlite_import_cache() -> Iterator[None]:
    """A big page cache on SQLite for the import's connection, back to the default after."""
    sqlite = db.session.get_bind().dialect.name == "sqlite"
    if sqlite:
        db.session.execute(text(f"PRAGMA cache_size = -{SQLITE_IMPORT_CACHE_KIB}"))
    try:
        yield
    finally:
        if sqlite:
            db.session.rollback()  # after a bad line: its batch is not kept
            db.session.execute(text("PRAGMA cache_size = -2000"))  # SQLite's default
            db.session.rollback()


def reset_sequences() -> None:
    """After explicit ids, move PostgreSQL's sequences past them (SQLite needs nothing)."""
    if db.engine.dialect.name != "postgresql":
        return
    for table, column, model_col in (
        ("async_event_subscriber_log", "log_id", DeliveryLog.log_id),
        ("async_event_subscriber", "subscription_id", Subscription.subscription_id),
    ):
        top = db.session.scalar(select(func.max(model_col))) or 0
        if top:
            db.session.execute(
                text(f"SELECT setval(pg_get_serial_sequence('{table}', '{column}'), :v)"),
                {"v": top},
            )
    db.session.commit()


def vacuum() -> None:
    """VACUUM (ANALYZE) on PostgreSQL after a bulk load (seconds for a million rows).

    ANALYZE: empty or stale statistics make the planner pick plans for a few dozen rows.
    VACUUM: until it marks the new pages all-visible, an index-only scan of postings
    visits the table for every row, which made candidate counts 10-20x slower.
    Autovacuum would get there, later, if it is on.
    """
    if db.engine.dialect.name != "postgresql":
        return
    models = (DeliveryLog, SearchDocument, SearchField, SearchKeyword, SearchNumber)
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.exec_driver_sql(f"VACUUM (ANALYZE) {', '.join(m.__tablename__ for m in models)}")
