"""Fan-out: resolve a publication once and open one delivery chain per enabled subscription."""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import current_app
from sqlalchemy import bindparam, select, update

from app.db import bulk, escaping, sqlite
from app.delivery import payloads
from app.events import ResolveError, get_registry
from app.extensions import db
from app.models import ChainState, Delivery, Publication, PublicationState, Subscription
from app.models.types import utcnow

log = logging.getLogger(__name__)


@dataclass(slots=True)
class NewChain:
    """A chain the fan-out just inserted: the columns ``attempts.prepare`` reads.

    Not a Delivery instance: building those cost a tenth of a worker's GIL time. It
    carries the subscription the fan-out loaded, so prepare need not load it again.
    """

    id: int
    uuid: str
    subscription_id: int
    event_name: str
    store_id: int
    payload: str
    subscription: Subscription
    attempts: int = 0


# The statements of every fan-out, built once: building one costs SQLAlchemy 50-80 µs,
# more than running it, and a fan-out batch ran five.
_AUDIENCE = (
    select(Subscription)
    .where(Subscription.event_name == bindparam("event"), Subscription.status.is_(True))
    .order_by(Subscription.subscription_id)
)
_STORE_AUDIENCE = _AUDIENCE.where(Subscription.store_id == bindparam("store"))
_PENDING = (
    select(Publication)
    .where(Publication.id.in_(bindparam("ids", expanding=True)))
    .where(Publication.state == PublicationState.PENDING)
    .order_by(Publication.id)
)
_publications = Publication.__table__
_CLAIM = (
    update(_publications)
    .where(
        _publications.c.id.in_(bindparam("ids", expanding=True)),
        _publications.c.state == PublicationState.PENDING,
    )
    .values(state=PublicationState.DISPATCHED, dispatched_at=bindparam("now"))
    .returning(_publications.c.id)
)
_COUNT = (
    update(_publications)
    .where(_publications.c.id == bindparam("pid"))
    .values(chain_count=bindparam("n"))
)


def matching_subscriptions(event_name: str, store_id: int) -> list[Subscription]:
    """Enabled subscriptions of the event, by the original's store rule.

    Store 0 reaches every subscription of the event; store S reaches only the
    subscriptions of store S (not those of store 0; a documented quirk we keep).
    """
    if store_id != 0:
        found = db.session.scalars(_STORE_AUDIENCE, {"event": event_name, "store": store_id})
    else:
        found = db.session.scalars(_AUDIENCE, {"event": event_name})
    return list(found)


def fan_out(publication_id: int) -> list[NewChain]:
    """Open the chains of one pending publication; see ``fan_out_many``."""
    return fan_out_many([publication_id])


def fan_out_many(publication_ids: list[int]) -> list[NewChain]:
    """Open the chains of pending publications; return them, leased to the caller.

    The publications and their audiences are read, and payloads resolved, before any
    write. Then the claims of the publications and the insert of all their chains
    share one transaction, so a crash at any point leaves them pending for the sweep,
    and a duplicate job finds them taken. That transaction holds SQLite's write lock
    for its statements alone: at half the bench's rate the lock is busy about 90 % of
    the time, and every fan-out queues for it.
    """
    sqlite.begin_read_only(db.session())  # no write lock to wait for, only to read
    publications = db.session.scalars(_PENDING, {"ids": publication_ids}).all()
    audiences = {
        key: matching_subscriptions(*key)
        for key in dict.fromkeys((p.event_name, p.store_id) for p in publications)
    }
    db.session.commit()  # resolvers may be slow: hold no lock while they run
    resolved: list[tuple[Publication, str]] = []
    for publication in publications:
        try:
            resolved.append((publication, _resolve(publication)))
        except ResolveError as exc:
            _fail(publication.id, str(exc))
        except payloads.PayloadError as exc:
            _fail(publication.id, f"the resolved payload cannot be delivered: {exc}")
        except RecursionError:  # a resolver's payload deeper than json can even encode
            _fail(publication.id, "the arguments or the payload are nested too deeply for JSON")
        except ValueError as exc:  # arguments stored before publish() checked them
            _fail(publication.id, f"the stored arguments are not JSON: {exc}")
    return _open_chains(resolved, audiences) if resolved else []


def _resolve(publication: Publication) -> str:
    """The publication's payload as JSON text, resolved and proven deliverable.

    A resolver may return what ``publish()`` would refuse (NaN, a lone surrogate, a
    deep or huge structure); that fails this publication alone, with the reason.
    """
    arguments = json.loads(publication.arguments)
    payload = get_registry().resolve(publication.event_name, arguments)
    config = current_app.config
    return payloads.encode(
        payload, config["PUBLISH_MAX_DEPTH"], config["PUBLISH_MAX_BYTES"], name="payload"
    )


def _open_chains(
    resolved: list[tuple[Publication, str]], audiences: dict[tuple[str, int], list[Subscription]]
) -> list[NewChain]:
    """Claim the publications and insert their chains, in one transaction, committed."""
    now = utcnow()
    lease = now + timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
    counts = {p.id: len(audiences[(p.event_name, p.store_id)]) for p, _ in resolved}
    claimed = _claim(counts, now)
    targets = [
        (publication, payload, sub)
        for publication, payload in resolved
        if publication.id in claimed
        for sub in audiences[(publication.event_name, publication.store_id)]
    ]
    rows: list[dict[str, Any]] = [
        {
            "uuid": str(uuid.uuid4()),
            "subscription_id": sub.subscription_id,
            "event_name": publication.event_name,
            "store_id": publication.store_id,
            "payload": payload,
            "state": ChainState.PENDING,
            "attempts": 0,
            "next_attempt_at": now,
            "locked_until": lease,
            "is_replay": False,
            "publication_id": publication.id,
            "created": now,
            "updated": now,
        }
        for publication, payload, sub in targets
    ]
    bulk.insert_with_ids(db.session, Delivery.__table__, rows)
    db.session.commit()
    return [
        NewChain(
            id=row["id"],
            uuid=row["uuid"],
            subscription_id=sub.subscription_id,
            event_name=publication.event_name,
            store_id=publication.store_id,
            payload=payload,
            subscription=sub,
        )
        for row, (publication, payload, sub) in zip(rows, targets, strict=True)
    ]


def _claim(chain_counts: dict[int, int], now: datetime) -> set[int]:
    """Mark pending publications dispatched; return those this round got.

    Both statements keep one shape whatever the batch size. SQLAlchemy caches a
    compiled statement per shape for the life of the process, and the single UPDATE
    this replaced, with a CASE branch per publication, made a new shape (and a cache
    entry) for every batch size: a worker's memory crept up through a soak run.
    """
    claimed = set(db.session.scalars(_CLAIM, {"ids": list(chain_counts), "now": now}))
    counted = [{"pid": pid, "n": n} for pid, n in chain_counts.items() if n and pid in claimed]
    if counted:
        db.session.execute(_COUNT, counted)
    return claimed


def _fail(publication_id: int, error: str) -> None:
    """Record why a publication could not be resolved; failures are data, not log lines."""
    log.error("publication %s failed: %s", publication_id, error)
    db.session.rollback()
    db.session.execute(
        update(Publication)
        .where(Publication.id == publication_id, Publication.state == PublicationState.PENDING)
        .values(
            state=PublicationState.FAILED, error=escaping.storable(error), dispatched_at=utcnow()
        )
    )
    db.session.commit()
