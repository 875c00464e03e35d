"""Publication rows into the outbox table, inserted without committing, as fast as they go.

One row, the usual publish, runs on the driver with a statement compiled once; more rows
get their ids allocated in one step (``app.db.bulk``). The outbox (``app.delivery.outbox``)
commits them.
"""

from __future__ import annotations

import functools
from typing import Any

import sqlalchemy
from sqlalchemy import Connection, Dialect

from app.db import bulk, sqlite
from app.models import Publication

_TABLE = Publication.__table__
COLUMNS = ("event_name", "arguments", "store_id", "state", "chain_count", "created")


def insert(conn: Connection, rows: list[dict[str, Any]]) -> list[int]:
    """Insert without committing: one row on the driver, more with allocated ids.

    The one-row insert runs outside SQLAlchemy's transaction, which never began, and
    so it is committed or rolled back on the driver too.
    """
    if len(rows) == 1:
        return [_one_row(conn.dialect).insert(conn.connection.dbapi_connection, rows[0])]
    return bulk.insert_with_ids(conn, _TABLE, rows)


class _OneRow:
    """``INSERT ... RETURNING id`` of one publication, compiled once, run on the driver.

    A publisher that commits event by event would otherwise pay SQLAlchemy's
    execution, about 0.1 ms of Python a call and as much as SQLite's own insert and
    commit. The statement's text and the columns' bind processors (SQLite's
    datetime format, say) still come from SQLAlchemy.
    """

    def __init__(self, dialect: Dialect) -> None:
        statement = sqlalchemy.insert(_TABLE).returning(_TABLE.c.id)
        compiled = statement.compile(dialect=dialect, column_keys=list(COLUMNS))
        self.sql = compiled.string
        self.order = list(compiled.positiontup or []) if compiled.positional else None
        processors = bulk.bind_processors(_TABLE, dialect)
        self.processors = {name: processors[name] for name in COLUMNS if name in processors}
        self.sqlite = dialect.name == "sqlite"

    def insert(self, driver: Any, row: dict[str, Any]) -> int:
        values = {name: row[name] for name in COLUMNS}
        for name, processor in self.processors.items():
            values[name] = processor(values[name])
        params = tuple(values[name] for name in self.order) if self.order else values
        if self.sqlite:  # the driver is in autocommit mode here; take the write lock
            sqlite.begin_immediate(driver)
        cursor = driver.cursor()
        try:
            cursor.execute(self.sql, params)
            return cursor.fetchone()[0]
        finally:
            cursor.close()


@functools.lru_cache(maxsize=8)
def _one_row(dialect: Dialect) -> _OneRow:
    return _OneRow(dialect)
