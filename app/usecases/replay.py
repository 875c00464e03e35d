"""Replay: deliver a UUID's first stored payload again, under the same UUID, as a new chain."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from app.delivery import queues
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Subscription
from app.models.types import utcnow
from app.usecases import search

REPLAY_DELAY = 1  # seconds, as the original's init queue


@dataclass
class ReplayResult:
    """Which UUIDs got a new chain and which had nothing to replay."""

    replayed: dict[str, int] = field(default_factory=dict)  # uuid -> new chain id
    not_found: list[str] = field(default_factory=list)


def replay(uuid: str) -> int | None:
    """Start a new chain for ``uuid`` from its first stored payload; None if unknown.

    The snapshot is never re-resolved. The new chain uses the subscription's
    current URL, token and sink, and obeys the retry rules; on a disabled
    subscription it ends quietly when its attempt comes up.
    """
    first = db.session.scalars(
        select(DeliveryLog).where(DeliveryLog.uuid == uuid).order_by(DeliveryLog.log_id).limit(1)
    ).first()
    if first is None or not first.serialized_data:
        return None
    event_name, store_id, data = _unpack(first.serialized_data)
    due = utcnow() + timedelta(seconds=REPLAY_DELAY)
    chain = Delivery(
        uuid=uuid,
        subscription_id=first.subscription_id,
        event_name=event_name or _event_name(first.subscription_id),
        store_id=store_id,
        payload=json.dumps(data, separators=(",", ":")),
        state=ChainState.PENDING,
        attempts=0,
        next_attempt_at=due,
        is_replay=True,
    )
    db.session.add(chain)
    db.session.commit()
    queues.enqueue_attempt(chain.id, 0, due, current_app.config["DELIVERY_JOB_TIMEOUT"])
    return chain.id


def replay_many(uuids: Iterable[str]) -> ReplayResult:
    """Replay several UUIDs; each gets its own new chain."""
    result = ReplayResult()
    for uuid in dict.fromkeys(uuids):
        chain_id = replay(uuid)
        if chain_id is None:
            result.not_found.append(uuid)
        else:
            result.replayed[uuid] = chain_id
    return result


def matching_uuids(query: str) -> Iterator[str]:
    """Each chain (UUID) with an attempt matching the Lucene ``query``, once, newest first."""
    seen: set[str] = set()
    for hit in search.iter_all(query):
        uuid = hit.log.uuid
        if uuid and uuid not in seen:
            seen.add(uuid)
            yield uuid


def count_matching(query: str) -> int:
    """How many chains a bulk replay of ``query`` would start."""
    return sum(1 for _ in matching_uuids(query))


def replay_matching(query: str) -> int:
    """Replay every chain matching ``query``; return how many were started."""
    return sum(replay(uuid) is not None for uuid in list(matching_uuids(query)))


def _unpack(serialized: str) -> tuple[str | None, int, object]:
    """Event name, store and payload from a stored CloudEvent, or from the 3.x ``{"data": ...}``."""
    doc = json.loads(serialized)
    if isinstance(doc, dict) and "specversion" in doc:
        source = str(doc.get("source", "0"))
        return doc.get("type"), int(source) if source.isdigit() else 0, doc.get("data")
    if isinstance(doc, dict) and set(doc) == {"data"}:
        return None, 0, doc["data"]
    return None, 0, doc


def _event_name(subscription_id: int) -> str:
    sub = db.session.get(Subscription, subscription_id)
    return sub.event_name if sub else ""
