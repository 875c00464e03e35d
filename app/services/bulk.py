"""Bulk inserts that hand back the new ids: one id allocation, then one executemany.

Multi-row ``INSERT ... RETURNING`` builds a new statement text for every batch size,
which psycopg parses afresh each time (a tenth of a worker's time in a profile).
Allocating the ids first and inserting with them through the driver's executemany
keeps one cached statement on every database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, func, insert, select, text
from sqlalchemy.orm import Session

Executor = Session | Connection  # a session, or a connection of one's own (the outbox's)


def allocate_ids(session: Executor, table: Table, count: int) -> list[int] | None:
    """``count`` fresh primary keys of ``table``, inside the caller's transaction.

    PostgreSQL: from the column's sequence. SQLite: after the current maximum, which
    is safe because every transaction here starts with ``BEGIN IMMEDIATE`` and so
    holds the write lock until it commits (``app.models.sqlite``). Any other
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
    session.execute(insert(table), rows)
    return ids
