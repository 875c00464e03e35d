"""The delivery jobs: fan publications out, attempt a chain, sweep for lost work."""

from __future__ import annotations

from flask import current_app

from app import queues
from app.extensions import db
from app.models import Delivery
from app.services import attempts, dispatcher, fanout, sweeper

# Publications one dispatch job fans out at most; more waiting wakes a second job at once.
DISPATCH_BATCH = 200


def dispatch_publications() -> int:
    """Queue ``event.trigger``: fan out the published ids waiting in Redis, deliver them all."""
    timeout = current_app.config["DELIVERY_JOB_TIMEOUT"]
    ids = queues.take_publications(DISPATCH_BATCH, timeout)
    chains = fanout.fan_out_many(ids) if ids else []
    _deliver(chains)
    return len(chains)


def trigger_publication(publication_id: int) -> int:
    """Queue ``event.trigger``: resolve once, open a chain per subscription, deliver them all."""
    chains = fanout.fan_out(publication_id)
    _deliver(chains)
    return len(chains)


def attempt_delivery(delivery_id: int, attempts_done: int) -> bool:
    """Queue ``event.retry``: the next attempt of a chain, if it is still this job's to make."""
    if not attempts.lease(delivery_id, attempts_done):
        return False
    chain = db.session.get(Delivery, delivery_id)
    _deliver([chain] if chain else [])
    return True


def sweep() -> dict[str, int]:
    """Re-queue overdue work; run by every worker's sweeper thread."""
    result = sweeper.sweep()
    return {"publications": result.publications, "chains": result.chains}


def _deliver(chains: list[Delivery]) -> None:
    """Send leased chains: through the worker's dispatcher if it has one, else right here.

    A long-running worker has a dispatcher: the job returns once the attempts are
    handed over, and they are recorded as they land. Elsewhere (burst workers, tests,
    the CLI) the attempts are sent and recorded before this returns.
    """
    ready = attempts.prepare(chains)  # commits the fan-out's transaction too
    if not ready:
        return
    running = dispatcher.current(current_app._get_current_object())
    if running is not None:
        running.submit(ready)
    else:
        attempts.run(ready)
