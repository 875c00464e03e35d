"""Parsing import files: JSON Lines into log rows and their search documents.

Pure functions, no database: ``logparse_workers`` runs ``parse`` in worker processes.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from sqlalchemy.dialects import sqlite

from app.db.bulkload import no_gc
from app.models import DeliveryLog
from app.search.backend import LogDocument
from app.search.documents import CREATED_FORMAT, decode, loads
from app.search.sql.leaves import flatten_fields
from app.search.sql.write import Batch, prepare_leaves

FIELDS = (
    "log_id",
    "uuid",
    "subscription_id",
    "success",
    "created",
    "response_data",
    "serialized_data",
)


class ImportError_(ValueError):
    """A line of the import file is not a log row; the message names the line."""


@dataclass
class Parsed:
    """One chunk: log rows ready to insert, and their documents or prepared SQL index rows."""

    columns: tuple[str, ...]
    values: list[tuple[Any, ...]]  # log rows in ``columns`` order, as the driver takes them
    events: dict[int, str]  # subscription_id -> event_name, for placeholder subscriptions
    documents: list[LogDocument]
    index_rows: Batch | None = None


def parse(lines: list[tuple[int, str]], dialect: str, prepare_sql: bool) -> Parsed:
    """Parse numbered lines into rows for ``dialect``; with ``prepare_sql`` index rows too."""
    with no_gc():
        return _parse(lines, dialect, prepare_sql)


def _parse(lines: list[tuple[int, str]], dialect: str, prepare_sql: bool) -> Parsed:
    rows = [_row(number, line) for number, line in lines if line.strip()]
    columns, defaults, converters = _log_columns(dialect)
    values = []
    for row in rows:
        value = [*row[:7], *defaults]
        for position, convert in converters:
            value[position] = convert(value[position])
        values.append(tuple(value))
    events = {row[2]: row[7] for row in rows}
    if prepare_sql:
        flattened = (
            (r[0], *flatten_fields(r[0], r[2], r[1], r[7], r[5], r[8], r[3], decode(r[6])))
            for r in rows
        )
        return Parsed(columns, values, events, [], prepare_leaves(flattened))
    documents = [LogDocument(r[0], r[2], r[1], r[7], r[3], r[8], r[5], decode(r[6])) for r in rows]
    return Parsed(columns, values, events, documents)


@lru_cache(maxsize=4)
def _log_columns(dialect: str) -> tuple[tuple[str, ...], tuple[Any, ...], list[Any]]:
    """The log table's columns we fill, scalar defaults of the rest, and SQLite's converters.

    Only SQLite needs converting (its DATETIME is text in SQLAlchemy's format); COPY and
    SQLAlchemy take Python values for the other databases.
    """
    table = DeliveryLog.__table__
    extra = [c for c in table.c if c.name not in FIELDS and c.default is not None]
    extra = [c for c in extra if c.default.is_scalar]  # type: ignore[union-attr]
    columns = (*FIELDS, *(c.name for c in extra))
    defaults = tuple(c.default.arg for c in extra)  # type: ignore[union-attr]
    if dialect != "sqlite":
        return columns, defaults, []
    engine_dialect = sqlite.dialect()
    types = [table.c[name].type.dialect_impl(engine_dialect) for name in columns]
    processors = [t.bind_processor(engine_dialect) for t in types]
    return columns, defaults, [(i, f) for i, f in enumerate(processors) if f is not None]


def _row(number: int, line: str) -> tuple[Any, ...]:
    """FIELDS, then the event name and ``created`` as the contract's text."""
    try:
        doc = loads(line)
        raw = str(doc["created"])
        created = datetime.fromisoformat(raw)
        return (
            int(doc["log_id"]),
            str(doc["uuid"]),
            int(doc["subscription_id"]),
            bool(doc["success"]),
            created,
            str(doc.get("response_data") or ""),
            doc.get("serialized_data"),
            str(doc["event_name"]),
            raw if _is_contract_time(raw) else created.strftime(CREATED_FORMAT),
        )
    except (ValueError, KeyError, TypeError) as exc:
        raise ImportError_(f"line {number}: not a log row ({type(exc).__name__}: {exc})") from None


def _is_contract_time(raw: str) -> bool:
    """Whether ``raw`` (which parsed as a time) is already ``CREATED_FORMAT``'s text."""
    return len(raw) == 19 and raw.isascii() and raw[10] == " " and raw[13] == raw[16] == ":"
