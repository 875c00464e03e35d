"""Publishing: record the event durably, then queue its fan-out."""

from __future__ import annotations

import json
from typing import Any

from flask import current_app

from app import queues
from app.events import get_registry
from app.extensions import db
from app.models import Publication


class PublishError(ValueError):
    """The event cannot be published as asked (unknown event, bad arguments)."""


def publish(event_name: str, args: dict[str, Any], store_id: int = 0) -> int:
    """Publish ``event_name`` with ``args`` for ``store_id`` (0: every store); return its id.

    The publication is committed to the database before anything touches Redis,
    so an unreachable Redis delays delivery but never loses the event: the sweep
    queues it once Redis answers again.
    """
    publication = create_publication(event_name, args, store_id)
    queues.enqueue_trigger(publication.id, current_app.config["DELIVERY_JOB_TIMEOUT"])
    return publication.id


def create_publication(
    event_name: str, args: dict[str, Any], store_id: int = 0, idempotency_key: str | None = None
) -> Publication:
    """Validate and store a publication without queueing it."""
    if event_name not in get_registry():
        known = ", ".join(get_registry().names())
        raise PublishError(f"unknown event {event_name!r}; known events: {known}")
    if not isinstance(args, dict):
        raise PublishError(f"arguments must be a JSON object, got {type(args).__name__}")
    if isinstance(store_id, bool) or not isinstance(store_id, int) or store_id < 0:
        raise PublishError(f"store_id must be a whole number >= 0, got {store_id!r}")
    try:
        arguments = json.dumps(args, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        raise PublishError(f"arguments are not JSON-serialisable: {exc}") from None
    publication = Publication(
        event_name=event_name,
        arguments=arguments,
        store_id=store_id,
        idempotency_key=idempotency_key,
    )
    db.session.add(publication)
    db.session.commit()
    return publication
