"""Fan-out: resolve a publication once and open one delivery chain per enabled subscription."""

from __future__ import annotations

import json
import logging
import uuid
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from app.events import ResolveError, get_registry
from app.extensions import db
from app.models import ChainState, Delivery, Publication, PublicationState, Subscription
from app.models.types import utcnow

log = logging.getLogger(__name__)


def matching_subscriptions(event_name: str, store_id: int) -> list[Subscription]:
    """Enabled subscriptions of the event, by the original's store rule.

    Store 0 reaches every subscription of the event; store S reaches only the
    subscriptions of store S (not those of store 0; a documented quirk we keep).
    """
    query = select(Subscription).where(
        Subscription.event_name == event_name, Subscription.status.is_(True)
    )
    if store_id != 0:
        query = query.where(Subscription.store_id == store_id)
    return list(db.session.scalars(query.order_by(Subscription.subscription_id)))


def fan_out(publication_id: int) -> list[int]:
    """Open the chains of a pending publication; return their ids, leased to the caller.

    The payload is resolved before any write, then the claim of the publication and
    the insert of its chains commit together, so a crash at any point leaves the
    publication pending for the sweep, and a duplicate trigger job finds it taken.
    """
    publication = db.session.get(Publication, publication_id)
    db.session.commit()  # resolvers may be slow: hold no lock while they run
    if publication is None or publication.state != PublicationState.PENDING:
        return []
    try:
        payload = get_registry().resolve(publication.event_name, json.loads(publication.arguments))
    except ResolveError as exc:
        _fail(publication_id, str(exc))
        return []
    return _open_chains(publication, json.dumps(payload, separators=(",", ":")))


def _open_chains(publication: Publication, payload: str) -> list[int]:
    """Claim the publication and insert its chains in one transaction."""
    now = utcnow()
    subscriptions = matching_subscriptions(publication.event_name, publication.store_id)
    claimed = db.session.execute(
        update(Publication)
        .where(Publication.id == publication.id, Publication.state == PublicationState.PENDING)
        .values(
            state=PublicationState.DISPATCHED, dispatched_at=now, chain_count=len(subscriptions)
        )
    )
    if claimed.rowcount != 1:
        db.session.rollback()
        return []
    lease = now + timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
    chains = [
        Delivery(
            uuid=str(uuid.uuid4()),
            subscription_id=s.subscription_id,
            event_name=publication.event_name,
            store_id=publication.store_id,
            payload=payload,
            state=ChainState.PENDING,
            attempts=0,
            next_attempt_at=now,
            locked_until=lease,
            publication_id=publication.id,
        )
        for s in subscriptions
    ]
    db.session.add_all(chains)
    db.session.commit()
    return [c.id for c in chains]


def _fail(publication_id: int, error: str) -> None:
    """Record why a publication could not be resolved; failures are data, not log lines."""
    log.error("publication %s failed: %s", publication_id, error)
    db.session.rollback()
    db.session.execute(
        update(Publication)
        .where(Publication.id == publication_id, Publication.state == PublicationState.PENDING)
        .values(state=PublicationState.FAILED, error=error, dispatched_at=utcnow())
    )
    db.session.commit()
