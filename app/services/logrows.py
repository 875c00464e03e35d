"""Log rows of attempts: one per attempt, inserted in bulk with their ids."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from app.extensions import db
from app.models import DeliveryLog
from app.search.backend import LogDocument
from app.search.indexing import CREATED_FORMAT
from app.services import bulk

if TYPE_CHECKING:
    from app.services.attempts import Attempt


def build(attempts: list[Attempt]) -> list[dict[str, Any]]:
    """The log rows of attempts (column -> value), without ids; touches no database."""
    return [_row(attempt) for attempt in attempts]


def insert(rows: list[dict[str, Any]]) -> None:
    """Insert log rows in bulk, in the current transaction; sets ``log_id`` on each."""
    bulk.insert_with_ids(db.session, DeliveryLog.__table__, rows)


def documents(rows: list[dict[str, Any]], attempts: list[Attempt]) -> list[LogDocument]:
    """The search documents of inserted log rows, from their attempts: no query, no parse."""
    return [
        LogDocument(
            log_id=row["log_id"],
            subscription_id=row["subscription_id"],
            uuid=row["uuid"],
            event_name=attempt.request.event.type,
            success=bool(row["success"]),
            created=row["created"].strftime(CREATED_FORMAT),
            response_data=row["response_data"] or "",
            data=attempt.request.event.to_dict(),
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
        "response_data": outcome.response,
        "created": attempt.started,
        "serialized_data": json.dumps(attempt.request.event.to_dict(), ensure_ascii=False),
        "attempt": attempt.attempts_before + 1,
        "status_code": outcome.status_code,
        "duration_ms": outcome.duration_ms,
        "retryable": outcome.retryable and not outcome.success,
        "delivery_id": attempt.delivery_id,
    }
