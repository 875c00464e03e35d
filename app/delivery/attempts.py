"""Delivery attempts: lease a chain, send through its sink in parallel, record the outcome."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import orjson
from flask import current_app
from sqlalchemy import bindparam, or_, select, update

from app import settings
from app.db import sqlite
from app.delivery.fanout import NewChain
from app.extensions import db
from app.models import ChainState, Delivery, Subscription
from app.models.types import utcnow
from app.sinks import DeliveryRequest, Envelope, Outcome, Sink, get_sink, sink_names


@dataclass
class Attempt:
    """One leased chain, ready to send: everything a sink thread needs, no database."""

    delivery_id: int
    attempts_before: int
    subscription_id: int
    sink_name: str
    sink: Sink | None
    request: DeliveryRequest
    missing_sink: str = ""  # why there is no sink, said in the log row
    started: datetime | None = None
    outcome: Outcome | None = None


def lease(delivery_id: int, attempts: int) -> bool:
    """Take a pending chain whose attempt number still matches; False if someone else has it.

    The attempt count in the WHERE clause makes the job idempotent: a duplicate job
    (a sweep re-queue, a retried RQ job) finds the count moved on and does nothing.
    """
    now = utcnow()
    lease_until = now + timedelta(seconds=current_app.config["DELIVERY_LEASE_SECONDS"])
    taken = db.session.execute(
        update(Delivery)
        .where(
            Delivery.id == delivery_id,
            Delivery.state == ChainState.PENDING,
            Delivery.attempts == attempts,
            or_(Delivery.locked_until.is_(None), Delivery.locked_until < now),
        )
        .values(locked_until=lease_until)
    )
    db.session.commit()
    return taken.rowcount == 1


def prepare(chains: Iterable[Delivery | NewChain]) -> list[Attempt]:
    """Build the attempts of leased chains; a chain whose subscription is disabled ends quietly.

    The chains may be rows or the fan-out's NewChain: only their columns are read.
    Reads begin a read-only transaction (on SQLite, no write lock), which ends here;
    cancellations, if any, are written after it in a transaction of their own.
    """
    chains = list(chains)
    if not chains:
        return []
    sqlite.begin_read_only(db.session())
    legacy = settings.get("legacy_payload")
    subs = {c.subscription_id: c.subscription for c in chains if isinstance(c, NewChain)}
    subs |= _subscriptions({chain.subscription_id for chain in chains} - subs.keys())
    ready: list[Attempt] = []
    cancelled: list[int] = []
    parsed: dict[str, Any] = {}  # a publication's chains share its payload: parse it once
    for chain in chains:
        sub = subs.get(chain.subscription_id)
        if sub is None or not sub.status:
            cancelled.append(chain.id)
            continue
        data = parsed.get(chain.payload)
        if data is None:
            data = parsed[chain.payload] = _loads(chain.payload)
        envelope = Envelope(chain.uuid, str(chain.store_id), chain.event_name, data)
        request = DeliveryRequest(sub.delivery_recipient(), sub.signing_tokens(), envelope, legacy)
        sink = get_sink(sub.sink)
        missing = (
            "" if sink else f"unknown sink {sub.sink!r}; known sinks: {', '.join(sink_names())}"
        )
        ready.append(
            Attempt(chain.id, chain.attempts, sub.subscription_id, sub.sink, sink, request, missing)
        )
    db.session.commit()
    if cancelled:
        db.session.execute(
            update(Delivery)
            .where(Delivery.id.in_(cancelled))
            .values(state=ChainState.CANCELLED, locked_until=None, next_attempt_at=None)
        )
        db.session.commit()
    return ready


def _loads(text: str) -> Any:
    """Parse a stored payload: orjson, or json for what orjson refuses (integers past
    64 bits). Sinks only read the result, so the chains of one payload share it."""
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


_SUBSCRIPTIONS = select(Subscription).where(
    Subscription.subscription_id.in_(bindparam("ids", expanding=True))
)  # built once: SQLAlchemy spends 50-80 µs building a statement


def _subscriptions(ids: set[int]) -> dict[int, Subscription]:
    """The subscriptions of a batch of chains, in one query (none for no ids).

    Not ``session.get`` one by one: the session holds the fan-out's subscriptions
    only weakly, so by now they are usually gone, and each get was a query of its
    own. For a publication at a time, that was a query per delivery.
    """
    if not ids:
        return {}
    found = db.session.scalars(_SUBSCRIPTIONS, {"ids": list(ids)})
    return {sub.subscription_id: sub for sub in found}


def send(attempt: Attempt) -> Attempt:
    """Run one attempt through its sink. Never raises: a broken sink is a failed attempt."""
    attempt.started = utcnow()
    began = time.monotonic()
    if attempt.sink is None:
        attempt.outcome = Outcome(False, False, attempt.missing_sink)
        return attempt
    try:
        attempt.outcome = attempt.sink.deliver(attempt.request)
    except Exception as exc:  # a sink bug must not stop the other subscribers
        elapsed = int((time.monotonic() - began) * 1000)
        text = f"sink {attempt.sink_name!r} raised {type(exc).__name__}: {exc}"
        attempt.outcome = Outcome(False, True, text, duration_ms=elapsed)
    return attempt


def start(attempt: Attempt, done: Callable[[Attempt], None]) -> bool:
    """Start one attempt on a sink that sends without a thread of ours (``sink.start``):
    ``done(attempt)`` follows, on the sink's thread, once it has its outcome. False if the
    sink raised instead (a bug): the failed outcome is set, and ``done`` is not called."""
    attempt.started = utcnow()
    began = time.monotonic()

    def finished(outcome: Outcome) -> None:
        attempt.outcome = outcome
        done(attempt)

    try:
        attempt.sink.start(attempt.request, finished)  # type: ignore[union-attr]
    except Exception as exc:
        elapsed = int((time.monotonic() - began) * 1000)
        text = f"sink {attempt.sink_name!r} raised {type(exc).__name__}: {exc}"
        attempt.outcome = Outcome(False, True, text, duration_ms=elapsed)
        return False
    return True


def sends_alone(attempt: Attempt) -> bool:
    """Whether the attempt's sink sends without a thread of ours (it has ``start``)."""
    return callable(getattr(attempt.sink, "start", None))
