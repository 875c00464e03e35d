"""Publishing: record the event durably, then queue its fan-out."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from flask import current_app

from app import queues
from app.events import get_registry
from app.extensions import db
from app.models import Publication, PublicationState
from app.models.types import utcnow
from app.services import bulk


class PublishError(ValueError):
    """The event cannot be published as asked (unknown event, bad arguments)."""


def publish(event_name: str, args: dict[str, Any], store_id: int = 0) -> int:
    """Publish ``event_name`` with ``args`` for ``store_id`` (0: every store); return its id.

    The publication is committed to the database before anything touches Redis,
    so an unreachable Redis delays delivery but never loses the event: the sweep
    queues it once Redis answers again.
    """
    publication = create_publication(event_name, args, store_id)
    queues.enqueue_publications([publication.id], current_app.config["DELIVERY_JOB_TIMEOUT"])
    return publication.id


def publish_many(events: Iterable[tuple[str, dict[str, Any], int]]) -> list[int]:
    """Publish ``(event_name, args, store_id)`` triples in one transaction; return their ids.

    For publishers with many events at once: one commit and one Redis round trip for
    the lot, instead of one each. All or nothing: a bad event raises PublishError
    before anything is stored.
    """
    now = utcnow()
    rows = [
        {
            "event_name": name,
            "arguments": _arguments(name, args, store_id),
            "store_id": store_id,
            "state": PublicationState.PENDING,
            "chain_count": 0,
            "created": now,
        }
        for name, args, store_id in events
    ]
    ids = bulk.insert_with_ids(db.session, Publication.__table__, rows)
    db.session.commit()
    queues.enqueue_publications(ids, current_app.config["DELIVERY_JOB_TIMEOUT"])
    return ids


def create_publication(
    event_name: str, args: dict[str, Any], store_id: int = 0, idempotency_key: str | None = None
) -> Publication:
    """Validate and store a publication without queueing it."""
    publication = Publication(
        event_name=event_name,
        arguments=_arguments(event_name, args, store_id),
        store_id=store_id,
        idempotency_key=idempotency_key,
    )
    db.session.add(publication)
    db.session.commit()
    return publication


def _arguments(event_name: str, args: dict[str, Any], store_id: int) -> str:
    """The arguments as JSON, once the event, arguments and store are known to be valid."""
    if event_name not in get_registry():
        known = ", ".join(get_registry().names())
        raise PublishError(f"unknown event {event_name!r}; known events: {known}")
    if not isinstance(args, dict):
        raise PublishError(f"arguments must be a JSON object, got {type(args).__name__}")
    if isinstance(store_id, bool) or not isinstance(store_id, int) or store_id < 0:
        raise PublishError(f"store_id must be a whole number >= 0, got {store_id!r}")
    try:
        return json.dumps(args, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise PublishError(f"arguments are not JSON-serialisable: {exc}") from None
