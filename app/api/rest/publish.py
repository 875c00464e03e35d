"""Publishing over REST, with an Idempotency-Key and a payload size limit."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from typing import Any

from flask import current_app, request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from app.api.rest.errors import ApiError
from app.api.rest.spec import RestApi
from app.delivery import publishing
from app.extensions import db
from app.models import Publication, PublicationState
from app.models.stores import MAX_STORE_ID
from app.models.types import utcnow

IDEMPOTENCY_WINDOW = timedelta(hours=24)
# Header values arrive as Latin-1; control characters (NUL among them) cannot be stored.
KEY_TEXT = re.compile(r"[^\x00-\x1f\x7f-\x9f\ud800-\udfff]+")


class PublishRequest(BaseModel):
    """An event to publish: its name, the resolver's arguments, and the store (0: all)."""

    model_config = ConfigDict(extra="forbid", strict=True)
    event_name: str = Field(min_length=1, max_length=255)
    arguments: dict[str, Any] = Field(default_factory=dict)
    store_id: int = Field(default=0, ge=0, le=MAX_STORE_ID)


class PublishAccepted(BaseModel):
    """The publication's id; delivery happens asynchronously."""

    id: int
    event_name: str
    status: str


def register(api: RestApi) -> None:
    """Add the publish route to ``api``."""

    @api.operation(
        "POST",
        "/V1/async_events/publish",
        summary="Publish an event",
        tag="events",
        permission="publish",
        body=PublishRequest,
        responses={202: PublishAccepted},
        errors=(400, 413, 415, 422),
        headers=("Idempotency-Key",),
    )
    def publish_event(body: PublishRequest) -> tuple[PublishAccepted, int]:
        size = len(json.dumps(body.arguments, separators=(",", ":")).encode())
        limit = current_app.config["API_MAX_PUBLISH_BYTES"]
        if size > limit:
            raise ApiError(413, "The arguments are %1 bytes; the limit is %2", [size, limit])
        key = _idempotency_key()
        try:
            return _publish(body, key), 202
        except publishing.PublishError as exc:
            raise ApiError(422, str(exc)) from None


def _idempotency_key() -> str | None:
    """The ``Idempotency-Key`` header, or None if absent or empty; 255 printable characters."""
    key = request.headers.get("Idempotency-Key") or None
    if key is not None and len(key) > 255:
        raise ApiError(400, "Idempotency-Key is longer than 255 characters")
    if key is not None and not KEY_TEXT.fullmatch(key):
        raise ApiError(400, "Idempotency-Key may hold printable characters only")
    return key


def _publish(body: PublishRequest, key: str | None) -> PublishAccepted:
    """Publish, or find the publication an earlier request made with the same key.

    Without a key, through the outbox's group commit with other requests. With one,
    through the session, so that a key raced in by another request fails only this one.
    """
    if key is None:
        db.session.commit()  # end the token lookup's transaction: on SQLite it holds the lock
        publication_id = publishing.publish(body.event_name, body.arguments, body.store_id)
        return PublishAccepted(
            id=publication_id, event_name=body.event_name, status=PublicationState.PENDING
        )
    earlier = _earlier(key)
    if earlier is not None:
        return _accepted(earlier)
    try:
        publication = publishing.create_publication(
            body.event_name, body.arguments, body.store_id, idempotency_key=key
        )
    except IntegrityError:  # the same key raced in from another request
        db.session.rollback()
        return _accepted(_earlier(key))  # type: ignore[arg-type]
    publishing.relay([publication.id])
    return _accepted(publication)


def _earlier(key: str | None) -> Publication | None:
    """The publication made with this key, if it was made within the window."""
    if key is None:
        return None
    found = db.session.scalars(
        select(Publication).where(Publication.idempotency_key == key)
    ).first()
    if found is not None and found.created < utcnow() - IDEMPOTENCY_WINDOW:
        found.idempotency_key = None  # expired: free the key for this new request
        db.session.commit()
        return None
    return found


def _accepted(publication: Publication) -> PublishAccepted:
    return PublishAccepted(
        id=publication.id, event_name=publication.event_name, status=publication.state
    )
