"""Log rows of attempts: one per attempt, inserted in bulk with their ids.

Every text column is built storable on either database (``app.db.escaping``):
a receiver's NUL bytes or invalid UTF-8, and an error message quoting a lone
surrogate, are escaped losslessly before the insert, so they never fail a batch. A
row the database refuses all the same is stored in its ``safe`` form, which
``outcomes.record`` falls back to for that row alone.
"""

from __future__ import annotations

from typing import Any

from app.db import bulk, escaping
from app.delivery.attempts import Attempt
from app.extensions import db
from app.models import DeliveryLog
from app.search.backend import LogDocument
from app.search.documents import CREATED_FORMAT

INT32 = 2**31 - 1  # the largest value of an INTEGER column on PostgreSQL


def build(attempts: list[Attempt]) -> list[dict[str, Any]]:
    """The log rows of attempts (column -> value), without ids; touches no database."""
    return [_row(attempt) for attempt in attempts]


def safe(row: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``row`` that no database can refuse for its values: text in plain ASCII
    (escaped and marked where it was not), numbers within their columns' range."""
    response = escaping.unescape(row["response_data"] or "")
    return row | {
        "response_data": escaping.ascii_storable(response),
        "serialized_data": escaping.ascii_json(row["serialized_data"]),
        "status_code": _within(row["status_code"], 0, 999),
        "duration_ms": _within(row["duration_ms"], 0, INT32) or 0,
        "attempt": _within(row["attempt"], 1, INT32) or 1,
    }


def insert(rows: list[dict[str, Any]]) -> None:
    """Insert log rows in bulk, in the current transaction; sets ``log_id`` on each."""
    bulk.insert_with_ids(db.session, DeliveryLog.__table__, rows)


def documents(
    rows: list[dict[str, Any]], attempts: list[Attempt], safe: bool = False
) -> list[LogDocument]:
    """The search documents of inserted log rows, from their attempts: no query, no parse.

    See ``_searchable`` for the payload they carry.
    """
    return [
        LogDocument(
            log_id=row["log_id"],
            subscription_id=row["subscription_id"],
            uuid=row["uuid"],
            event_name=attempt.request.event.type,
            success=bool(row["success"]),
            created=row["created"].strftime(CREATED_FORMAT),
            response_data=row["response_data"] or "",
            data=_searchable(attempt.request.event.to_dict(), row["serialized_data"], safe),
        )
        for row, attempt in zip(rows, attempts, strict=True)
    ]


def _row(attempt: Attempt) -> dict[str, Any]:
    outcome = attempt.outcome
    assert outcome is not None and attempt.started is not None
    return {
        "uuid": attempt.request.event.id,
        "subscription_id": attempt.subscription_id,
        "success": outcome.success,
        "response_data": escaping.storable(outcome.response),
        "created": attempt.started,
        "serialized_data": escaping.storable_json(attempt.request.event.to_dict()),
        "attempt": attempt.attempts_before + 1,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "retryable": outcome.retryable and not outcome.success,
        "delivery_id": attempt.delivery_id,
    }


def _searchable(data: Any, serialized: str | None, safe: bool) -> Any:
    """The payload as the index gets it; none for a ``safe`` row.

    The index stores string values with NUL and surrogates replaced, but not object
    keys, which become its field names: a key with a lone surrogate is escaped here
    (the stored JSON shows one as a ``\\ud800``-style escape). A row stored in its safe form is
    indexed by its own fields alone, so that nothing in its payload can fail it again.
    """
    if safe:
        return None
    if serialized is not None and "\\ud" in serialized:
        return escaping.storable_keys(data)
    return data


def _within(value: int | None, low: int, high: int) -> int | None:
    """``value`` if it is an integer from ``low`` to ``high``, else None."""
    return value if isinstance(value, int) and low <= value <= high else None
