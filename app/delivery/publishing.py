"""Publishing: validate the event, commit it, then relay its id to the fan-out."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from flask import current_app

from app.db import bulk, escaping
from app.delivery import outbox, payloads
from app.events import get_registry
from app.extensions import db
from app.models import Publication, PublicationState
from app.models.stores import check_store_id
from app.models.types import utcnow


class PublishError(ValueError):
    """The event cannot be published as asked (unknown event, bad arguments).

    Raised before anything is stored, with a message that says what to change.
    """


def publish(event_name: str, args: dict[str, Any], store_id: int = 0) -> int:
    """Publish ``event_name`` with ``args`` for ``store_id`` (0: every store); return its id.

    Returns once the publication is committed, so an unreachable Redis delays
    delivery but never loses the event: its id is pushed to Redis in the
    background (``app.delivery.outbox``), and the sweep queues it if that fails.

    Raises PublishError, storing nothing, for an unknown event, a bad store, or
    arguments that cannot be stored and delivered exactly as given
    (``app.delivery.payloads``): a lone surrogate, NaN or Infinity, a value JSON
    has no type for, NUL in a string (as the REST API refuses it in any text),
    nesting deeper than ``PUBLISH_MAX_DEPTH`` or JSON longer than ``PUBLISH_MAX_BYTES``.
    """
    return _store([_row(event_name, args, store_id)])[0]


def publish_many(events: Iterable[tuple[str, dict[str, Any], int]]) -> list[int]:
    """Publish ``(event_name, args, store_id)`` triples in one transaction; return their ids.

    For publishers with many events at once: one commit for the lot. All or
    nothing: a bad event raises PublishError before anything is stored.
    """
    rows = [_row(name, args, store_id) for name, args, store_id in events]
    return _store(rows) if rows else []


def create_publication(
    event_name: str, args: dict[str, Any], store_id: int = 0, idempotency_key: str | None = None
) -> Publication:
    """Validate and store a publication through the session; the caller relays its id.

    For the REST route's Idempotency-Key: a unique key that loses a race must fail
    this request alone, so it is not put in a group commit with other publishers.
    """
    if idempotency_key is not None and not _fits_key(idempotency_key):
        raise PublishError("an idempotency key must be 1 to 255 characters, with no NUL")
    publication = Publication(
        event_name=event_name,
        arguments=_arguments(event_name, args, store_id),
        store_id=store_id,
        idempotency_key=idempotency_key,
    )
    db.session.add(publication)
    db.session.commit()
    return publication


def relay(publication_ids: list[int]) -> None:
    """Push committed publications' ids to Redis in the background (see ``relay.Relay``)."""
    _outbox().relay.send(publication_ids)


def _store(rows: list[dict[str, Any]]) -> list[int]:
    """Commit validated rows and relay their ids.

    Normally through the outbox's own connection. If the caller's session has a
    transaction open, the rows are committed with it instead, as part of it: on
    SQLite that transaction holds the write lock, which the outbox would wait for.
    """
    if not db.session().in_transaction():
        return _outbox().store(rows)
    ids = bulk.insert_with_ids(db.session, Publication.__table__, rows)
    db.session.commit()
    relay(ids)
    return ids


def _outbox() -> outbox.Outbox:
    return outbox.get(current_app._get_current_object(), db.engine)


def _row(event_name: str, args: dict[str, Any], store_id: int) -> dict[str, Any]:
    """A pending publication's columns, once the event, arguments and store are valid."""
    return {
        "event_name": event_name,
        "arguments": _arguments(event_name, args, store_id),
        "store_id": store_id,
        "state": PublicationState.PENDING,
        "chain_count": 0,
        "created": utcnow(),
    }


def _arguments(event_name: str, args: dict[str, Any], store_id: int) -> str:
    """The arguments as JSON, once the event, arguments and store are known to be valid."""
    if event_name not in get_registry():
        known = ", ".join(get_registry().names())
        raise PublishError(f"unknown event {event_name!r}; known events: {known}")
    if not isinstance(args, dict):
        raise PublishError(f"arguments must be a JSON object, got {type(args).__name__}")
    problem = check_store_id(store_id)
    if problem:
        raise PublishError(problem)
    config = current_app.config
    try:
        return payloads.encode(args, config["PUBLISH_MAX_DEPTH"], config["PUBLISH_MAX_BYTES"])
    except payloads.PayloadError as exc:
        raise PublishError(str(exc)) from None


def _fits_key(key: str) -> bool:
    """Whether an idempotency key fits its column on every database."""
    return isinstance(key, str) and 0 < len(key) <= 255 and escaping.clean(key)
