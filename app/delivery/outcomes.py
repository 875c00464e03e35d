"""Recording outcomes: a log row per attempt, then deliver, retry, or dead-letter the chain."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import bindparam, update

from app import settings
from app.db import escaping, isolation, sqlite
from app.delivery import logrows, queues
from app.delivery.attempts import Attempt
from app.delivery.backoff import retry_delay
from app.extensions import db
from app.models import ChainState, DeadLetter, Delivery, Subscription
from app.models.types import utcnow
from app.search import indexing

log = logging.getLogger(__name__)
_chains = Delivery.__table__
# Built once (SQLAlchemy spends 50-80 µs building a statement, more than running it).
_DELIVERED = (
    update(_chains)
    .where(
        _chains.c.id.in_(bindparam("ids", expanding=True)),
        _chains.c.attempts == bindparam("before"),
    )
    .values(
        state=ChainState.DELIVERED,
        attempts=bindparam("after"),
        locked_until=None,
        next_attempt_at=None,
    )
)


def record(attempts: list[Attempt]) -> None:
    """Store a batch of finished attempts, then queue their retries; one bad row fails no other.

    Log rows go in as one multi-row INSERT, their search index rows with them, and
    the chains delivered at the same attempt number are advanced by one UPDATE;
    failures take the row-by-row path that schedules retries and dead letters.
    Maximum Deaths and the backoff cap are read from the database here, at each
    decision, so an operator's change applies to the very next failure.

    The rows are built storable (``logrows``) before the first query, which on
    SQLite takes the write lock: the lock is held for the statements, not for the
    Python that prepares them. A batch the database refuses for its data is split
    until the refused row is alone, which is stored in its safe form
    (``isolation.store_isolating``); any other failure is raised, and the attempts
    not yet stored stay leased for the sweep.
    """
    rows = logrows.build(attempts)
    isolation.store_isolating(list(zip(attempts, rows, strict=True)), _store)


def _store(batch: list[tuple[Attempt, dict]], safe: bool) -> None:
    """Record ``(attempt, log row)`` pairs in one transaction, committed; queue their retries."""
    attempts = [attempt for attempt, _ in batch]
    rows = [logrows.safe(row) if safe else row for _, row in batch]
    sqlite.begin_background(db.session())  # off the path from publish to receipt
    max_deaths, max_backoff, indexed = settings.get_many(
        "max_deaths", "max_backoff", "indexing_enabled"
    )
    logrows.insert(rows)
    retries: list[tuple[int, int, datetime]] = []
    delivered: dict[int, list[int]] = defaultdict(list)  # attempts before -> chain ids
    for attempt in attempts:
        assert attempt.outcome is not None
        if attempt.outcome.success:
            delivered[attempt.attempts_before].append(attempt.delivery_id)
            continue
        due = _advance(attempt, max_deaths, max_backoff, safe)
        if due is not None:
            retries.append((attempt.delivery_id, attempt.attempts_before + 1, due))
    for before, chain_ids in delivered.items():
        _deliver(before, chain_ids)
    # same transaction: searchable exactly when committed
    indexing.index_documents(logrows.documents(rows, attempts, safe), indexed)
    db.session.commit()
    timeout = current_app.config["DELIVERY_JOB_TIMEOUT"]
    for delivery_id, attempts_done, due in retries:
        queues.enqueue_attempt(delivery_id, attempts_done, due, timeout)


def release(attempts: list[Attempt]) -> None:
    """Give unsent attempts back: their leases end, and the sweep queues them again."""
    for attempt in attempts:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id == attempt.delivery_id, Delivery.attempts == attempt.attempts_before)
            .values(locked_until=None)
        )
    db.session.commit()


def _deliver(attempts_before: int, chain_ids: list[int]) -> None:
    """Mark chains delivered, guarded by their attempt count, in one statement."""
    moved = db.session.execute(
        _DELIVERED, {"ids": chain_ids, "before": attempts_before, "after": attempts_before + 1}
    )
    if moved.rowcount != len(chain_ids):
        log.warning("%s chains had already advanced", len(chain_ids) - moved.rowcount)


def _advance(attempt: Attempt, max_deaths: int, max_backoff: int, safe: bool) -> datetime | None:
    """Move the chain to its next state; return when its retry is due, if one is.

    Guarded by the attempt count, so a duplicate attempt (at-least-once after a
    lease expired) still leaves its log row but cannot advance the chain twice.
    """
    outcome = attempt.outcome
    assert outcome is not None
    done = attempt.attempts_before + 1
    values: dict[str, object] = {"attempts": done, "locked_until": None, "next_attempt_at": None}
    due: datetime | None = None
    if outcome.success:
        values["state"] = ChainState.DELIVERED
    elif outcome.retryable and done - 1 < max_deaths:
        retry_after_max = current_app.config["DELIVERY_RETRY_AFTER_MAX"]
        delay = retry_delay(done, max_backoff, outcome.retry_after, retry_after_max)
        due = attempt.started + timedelta(seconds=delay)
        values["next_attempt_at"] = due
    else:
        values["state"] = ChainState.DEAD
    moved = db.session.execute(
        update(Delivery)
        .where(Delivery.id == attempt.delivery_id, Delivery.attempts == attempt.attempts_before)
        .values(**values)
    )
    if moved.rowcount != 1:
        log.warning("chain %s already advanced past attempt %s", attempt.delivery_id, done)
        return None
    if values.get("state") == ChainState.DEAD:
        _dead_letter(attempt, done, safe)
    return due


def _dead_letter(attempt: Attempt, done: int, safe: bool) -> None:
    """Keep the undeliverable chain, with its UUID, for trace and replay; honour 410 Gone.

    Its texts are storable, as the log row's are; in ASCII if ``safe``.
    """
    outcome = attempt.outcome
    assert outcome is not None
    text = escaping.ascii_storable if safe else escaping.storable
    data = escaping.storable_json(attempt.request.event.to_dict())
    reason = "gone" if outcome.gone else ("exhausted" if outcome.retryable else "permanent")
    db.session.add(
        DeadLetter(
            uuid=attempt.request.event.id,
            subscription_id=attempt.subscription_id,
            delivery_id=attempt.delivery_id,
            death_count=done - 1,
            reason=reason,
            last_response=text(outcome.response[:2000]),
            serialized_data=escaping.ascii_json(data) if safe else data,
        )
    )
    if outcome.gone:
        sub = db.session.get(Subscription, attempt.subscription_id)
        if sub is not None:
            sub.status = False
            sub.disabled_reason = text(
                f"disabled at {utcnow():%Y-%m-%d %H:%M:%S} UTC: {sub.recipient_url} "
                f"answered 410 Gone to chain {attempt.request.event.id}"
            )
