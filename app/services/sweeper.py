"""The sweep: re-queue pending work that Redis forgot or a crashed worker dropped."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import or_, select

from app import queues
from app.extensions import db
from app.models import ChainState, Delivery, Publication, PublicationState
from app.models.types import utcnow


@dataclass(frozen=True)
class SweepResult:
    """How much work one sweep handed back to the queues."""

    publications: int
    chains: int


def sweep(limit: int = 1000) -> SweepResult:
    """Queue every overdue pending publication and chain again.

    The database is the record of pending work; Redis only carries the wake-ups.
    Work younger than DELIVERY_SWEEP_GRACE is left to its own job, and a chain
    whose lease is still running is left to its worker. Re-queuing is safe even
    when the original job survives: jobs lease before they act.
    """
    now = utcnow()
    cutoff = now - timedelta(seconds=current_app.config["DELIVERY_SWEEP_GRACE"])
    timeout = current_app.config["DELIVERY_JOB_TIMEOUT"]
    publications = db.session.scalars(
        select(Publication.id)
        .where(Publication.state == PublicationState.PENDING, Publication.created < cutoff)
        .order_by(Publication.id)
        .limit(limit)
    ).all()
    chains = db.session.execute(
        select(Delivery.id, Delivery.attempts)
        .where(
            Delivery.state == ChainState.PENDING,
            Delivery.next_attempt_at < cutoff,
            or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
        )
        .order_by(Delivery.next_attempt_at)
        .limit(limit)
    ).all()
    db.session.commit()
    sent_pubs = sum(queues.enqueue_trigger(pid, timeout) for pid in publications)
    sent_chains = sum(queues.enqueue_attempt(cid, n, None, timeout) for cid, n in chains)
    return SweepResult(sent_pubs, sent_chains)
