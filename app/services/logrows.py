"""Log rows of attempts: one per attempt, inserted in bulk with their ids."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from app.extensions import db
from app.models import DeliveryLog
from app.services import bulk

if TYPE_CHECKING:
    from app.services.attempts import Attempt


def insert(attempts: list[Attempt]) -> list[DeliveryLog]:
    """Insert one log row per attempt in bulk; return them (transient) with their ids."""
    rows = [_row(attempt) for attempt in attempts]
    bulk.insert_with_ids(db.session, DeliveryLog.__table__, rows)
    return [DeliveryLog(**row) for row in rows]


def _row(attempt: Attempt) -> dict[str, object]:
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
