"""The delivery jobs: fan a publication out, attempt a chain, sweep for lost work."""

from __future__ import annotations

from sqlalchemy import select

from app.extensions import db
from app.models import Delivery
from app.services import attempts, fanout, sweeper


def trigger_publication(publication_id: int) -> int:
    """Queue ``event.trigger``: resolve once, open a chain per subscription, deliver them all."""
    chain_ids = fanout.fan_out(publication_id)
    if chain_ids:
        chains = db.session.scalars(select(Delivery).where(Delivery.id.in_(chain_ids))).all()
        attempts.run(attempts.prepare(chains))
    return len(chain_ids)


def attempt_delivery(delivery_id: int, attempts_done: int) -> bool:
    """Queue ``event.retry``: the next attempt of a chain, if it is still this job's to make."""
    if not attempts.lease(delivery_id, attempts_done):
        return False
    chain = db.session.get(Delivery, delivery_id)
    attempts.run(attempts.prepare([chain] if chain else []))
    return True


def sweep() -> dict[str, int]:
    """Re-queue overdue work; run by every worker's sweeper thread."""
    result = sweeper.sweep()
    return {"publications": result.publications, "chains": result.chains}
