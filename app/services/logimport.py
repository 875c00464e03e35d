"""Import delivery logs from JSON Lines: migration from the original's tables, and benchmarks."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import IO, Any

from sqlalchemy import func, insert, select, text

from app.extensions import db
from app.models import DeliveryLog, Subscription

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
class ImportResult:
    """How many rows were imported, and how many placeholder subscriptions were created."""

    rows: int = 0
    subscriptions: int = 0


def import_logs(stream: IO[str], batch_size: int = 5000) -> ImportResult:
    """Insert every row of ``stream`` (one JSON object per line), in batches, keeping log_ids.

    A row whose subscription does not exist gets a disabled placeholder subscription
    for its event, so the history stays searchable and traceable. A malformed line
    stops the import with its line number; batches already committed stay.
    """
    result = ImportResult()
    known = set(db.session.scalars(select(Subscription.subscription_id)))
    for batch in _batches(_rows(stream), batch_size):
        result.subscriptions += _ensure_subscriptions(batch, known)
        db.session.execute(insert(DeliveryLog), [{k: r[k] for k in FIELDS} for r in batch])
        db.session.commit()
        result.rows += len(batch)
    _reset_sequence()
    return result


def _rows(stream: IO[str]) -> Iterator[dict[str, Any]]:
    for number, line in enumerate(stream, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            yield {
                "log_id": int(doc["log_id"]),
                "uuid": str(doc["uuid"]),
                "subscription_id": int(doc["subscription_id"]),
                "event_name": str(doc["event_name"]),
                "success": bool(doc["success"]),
                "created": datetime.fromisoformat(str(doc["created"])),
                "response_data": str(doc.get("response_data") or ""),
                "serialized_data": doc.get("serialized_data"),
            }
        except (ValueError, KeyError, TypeError) as exc:
            raise ImportError_(
                f"line {number}: not a log row ({type(exc).__name__}: {exc})"
            ) from None


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    batch: list[dict[str, Any]] = []
    for row in rows:
        batch.append(row)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _ensure_subscriptions(batch: list[dict[str, Any]], known: set[int]) -> int:
    missing = {
        r["subscription_id"]: r["event_name"] for r in batch if r["subscription_id"] not in known
    }
    for sub_id, event_name in missing.items():
        db.session.add(
            Subscription(
                subscription_id=sub_id,
                event_name=event_name,
                recipient_url=f"imported:subscription/{sub_id}",
                verification_token=secrets.token_urlsafe(24),
                status=False,
                sink="http",
                store_id=0,
                disabled_reason="placeholder created by import-logs for imported history",
            )
        )
    known.update(missing)
    return len(missing)


def _reset_sequence() -> None:
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
