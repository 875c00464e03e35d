"""The delivery jobs: fan publications out, attempt a chain, sweep for lost work."""

from __future__ import annotations

from flask import current_app

from app.db import sqlite
from app.delivery import attempts, fanout, queues, sending, sweeper
from app.extensions import db
from app.models import Delivery


def dispatch_publications() -> int:
    """Queue ``event.trigger``: fan out the published ids waiting in Redis, deliver them all."""
    timeout = current_app.config["DELIVERY_JOB_TIMEOUT"]
    ids = queues.take_publications(queues.DISPATCH_BATCH, timeout)
    chains = fanout.fan_out_many(ids) if ids else []
    sending.deliver(chains)
    return len(chains)


def trigger_publication(publication_id: int) -> int:
    """Queue ``event.trigger``: resolve once, open a chain per subscription, deliver them all."""
    chains = fanout.fan_out(publication_id)
    sending.deliver(chains)
    return len(chains)


def attempt_delivery(delivery_id: int, attempts_done: int) -> bool:
    """Queue ``event.retry``: the next attempt of a chain, if it is still this job's to make."""
    if not attempts.lease(delivery_id, attempts_done):
        return False
    sqlite.begin_read_only(db.session())  # reading the chain needs no write lock
    chain = db.session.get(Delivery, delivery_id)
    sending.deliver([chain] if chain else [])
    return True


def sweep() -> dict[str, int]:
    """Re-queue overdue work; run by every worker's sweeper thread."""
    result = sweeper.sweep()
    return {"publications": result.publications, "chains": result.chains}
