"""Trace: every attempt of a delivery chain's UUID, its status, subscription and payload."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Subscription


@dataclass(frozen=True)
class Trace:
    """What an operator sees for one UUID."""

    uuid: str
    status: str
    attempts: list[DeliveryLog]
    first_attempt: datetime | None
    last_attempt: datetime | None
    subscription: Subscription | None
    payload: Any  # the first attempt's stored payload, decoded
    next_attempt_at: datetime | None


def trace(uuid: str) -> Trace | None:
    """The trace of ``uuid``, or None if nothing was ever delivered or scheduled under it."""
    rows = list(
        db.session.scalars(
            select(DeliveryLog).where(DeliveryLog.uuid == uuid).order_by(DeliveryLog.log_id)
        )
    )
    chain = db.session.scalars(
        select(Delivery).where(Delivery.uuid == uuid).order_by(Delivery.id.desc()).limit(1)
    ).first()
    if not rows and chain is None:
        return None
    sub_id = rows[0].subscription_id if rows else chain.subscription_id  # type: ignore[union-attr]
    return Trace(
        uuid=uuid,
        status=status_of(rows, chain),
        attempts=rows,
        first_attempt=rows[0].created if rows else None,
        last_attempt=rows[-1].created if rows else None,
        subscription=db.session.get(Subscription, sub_id),
        payload=_decode(rows[0].serialized_data) if rows else _decode(chain.payload),  # type: ignore[union-attr]
        next_attempt_at=chain.next_attempt_at
        if chain and chain.state == ChainState.PENDING
        else None,
    )


def status_of(rows: list[DeliveryLog], chain: Delivery | None) -> str:
    """The status line, from the newest chain under the UUID.

    Without a chain row (logs imported from the original) it falls back to the
    original's rule: walk to the first success and count the rows before it.
    """
    if chain is None:
        return _from_rows(rows)
    if chain.state == ChainState.PENDING:
        when = chain.next_attempt_at
        return f"Retrying, next attempt at {when:%Y-%m-%d %H:%M:%S} UTC" if when else "Retrying"
    if chain.state == ChainState.DELIVERED:
        return _with_retries("Delivered", chain.attempts - 1)
    if chain.state == ChainState.CANCELLED:
        return "Cancelled: the subscription is disabled"
    return _with_retries("Dead Lettered", max(chain.attempts - 1, 0))


def _from_rows(rows: list[DeliveryLog]) -> str:
    for count, row in enumerate(rows, start=1):
        if row.success:
            return _with_retries("Delivered", count - 1)
    return _with_retries("Dead Lettered", max(len(rows) - 1, 0))


def _with_retries(label: str, retries: int) -> str:
    return f"{label} with {retries} retries" if retries > 0 else label


def _decode(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return text
