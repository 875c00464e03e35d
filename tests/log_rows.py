"""Test helper: log rows written straight to the database and indexed, as delivery would."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from app.extensions import db
from app.models import DeliveryLog
from app.search.indexing import index_logs
from app.usecases import subscriptions


def add_logs(event_name: str, rows: Iterable[dict[str, Any]], chunk: int = 500) -> int:
    """Insert and index one log row per dict (``success``, ``response_data``, ``uuid``,
    ``data``) under a new subscription to ``event_name``; returns the subscription id."""
    sub = subscriptions.create(event_name, "http://receiver.test/hook", "tok")
    batch: list[DeliveryLog] = []
    for number, row in enumerate(rows):
        payload = {"specversion": "1.0", "type": event_name, "data": row.get("data", {})}
        batch.append(
            DeliveryLog(
                uuid=row.get("uuid", f"00000000-0000-4000-8000-{number:012d}"),
                subscription_id=sub.subscription_id,
                success=row.get("success", True),
                response_data=row.get("response_data", "ok"),
                serialized_data=json.dumps(payload),
            )
        )
        if len(batch) == chunk:
            _flush(batch)
    _flush(batch)
    return sub.subscription_id


def _flush(batch: list[DeliveryLog]) -> None:
    db.session.add_all(batch)
    db.session.flush()
    index_logs(batch)
    db.session.commit()
    batch.clear()
