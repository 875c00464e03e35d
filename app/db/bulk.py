"""Bulk inserts that hand back the new ids: one id allocation, then the rows with them.

Multi-row ``INSERT ... RETURNING`` builds a new statement text for every batch size,
which psycopg parses afresh each time (a tenth of a worker's time in a profile).
Allocating the ids first keeps the statements few: one executemany on PostgreSQL;
on SQLite, multi-row INSERTs in a handful of fixed sizes (``sqlite.insert_flat``).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Dialect, Table, func, insert, select, text
from sqlalchemy.orm import Session

from app.db import sqlite

Executor = Session | Connection  # a session, or a connection of one's own (the outbox's)


def allocate_ids(session: Executor, table: Table, count: int) -> list[int] | None:
    """``count`` fresh primary keys of ``table``, inside the caller's transaction.

    PostgreSQL: from the column's sequence. SQLite: after the current maximum, which
    is safe because every transaction here starts with ``BEGIN IMMEDIATE`` and so
    holds the write lock until it commits (``app.db.sqlite``). Any other
    database: None, and the caller lets the database number the rows.
    """
    (key,) = table.primary_key.columns
    bind = session if isinstance(session, Connection) else session.get_bind()
    dialect = bind.dialect.name
    if dialect == "postgresql":
        query = text(
            "SELECT nextval(pg_get_serial_sequence(:table, :column)) FROM generate_series(1, :n)"
        )
        params = {"table": table.name, "column": key.name, "n": count}
        return list(session.scalars(query, params))
    if dialect == "sqlite":
        start = session.scalar(select(func.coalesce(func.max(key), 0)))
        return list(range(start + 1, start + 1 + count))
    return None


def insert_with_ids(session: Executor, table: Table, rows: list[dict[str, Any]]) -> list[int]:
    """Insert ``rows`` (column -> value) with fresh ids set on them; return the ids in order."""
    if not rows:
        return []
    (key,) = table.primary_key.columns
    ids = allocate_ids(session, table, len(rows))
    if ids is None:  # slower but portable: one INSERT per row, keeping the id it reports
        for row in rows:
            row[key.name] = session.execute(insert(table).values(row)).inserted_primary_key[0]
        return [row[key.name] for row in rows]
    for row, new_id in zip(rows, ids, strict=True):
        row[key.name] = new_id
    connection = session if isinstance(session, Connection) else session.connection()
    columns = list(rows[0])
    if connection.dialect.name == "sqlite" and _no_defaults_missing(table, columns):
        processors = bind_processors(table, connection.dialect)
        flat = [
            processor(row[name]) if (processor := processors.get(name)) else row[name]
            for row in rows
            for name in columns
        ]
        sqlite.insert_flat(connection, table.name, columns, flat)
    else:  # SQLAlchemy's executemany, which also fills the columns' Python defaults
        session.execute(insert(table), rows)
    return ids


def _no_defaults_missing(table: Table, columns: list[str]) -> bool:
    """Whether the rows set every column that has a Python-side default."""
    given = set(columns)
    return all(column.name in given for column in table.columns if column.default is not None)


@functools.lru_cache(maxsize=32)
def bind_processors(table: Table, dialect: Dialect) -> dict[str, Callable[[Any], Any]]:
    """The columns' conversions to driver values (SQLite's datetime text, say)."""
    return {
        column.name: processor
        for column in table.columns
        if (processor := column.type.dialect_impl(dialect).bind_processor(dialect))
    }
