"""Trace and replay of delivery chains."""

from __future__ import annotations

from sqlalchemy import select

from app import settings
from app.delivery import publishing
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog
from app.usecases import replay, subscriptions, trace
from jobs.delivery import attempt_delivery
from tests.receiver import Reply


def publish_once(receiver, jobs, *replies: Reply, path: str = "/hook") -> str:
    subscriptions.create("example.event", receiver.route(path, *replies), "tok")
    publishing.publish("example.event", {"order": 1, "note": "<script>alert(1)</script>"})
    jobs()
    return db.session.scalars(select(Delivery.uuid)).first()


def run_due(uuid: str) -> None:
    """Run the newest pending chain of ``uuid`` now instead of waiting for the scheduler."""
    chain = db.session.scalars(
        select(Delivery).where(Delivery.uuid == uuid).order_by(Delivery.id.desc())
    ).first()
    assert attempt_delivery(chain.id, chain.attempts)
    db.session.expire_all()


def test_trace_of_a_delivered_chain(ctx, receiver, jobs):
    uuid = publish_once(receiver, jobs)
    found = trace.trace(uuid)
    assert found.status == "Delivered"
    assert [a.success for a in found.attempts] == [True]
    assert found.first_attempt == found.last_attempt == found.attempts[0].created
    assert found.subscription.event_name == "example.event"
    assert found.payload["data"] == {"order": 1, "note": "<script>alert(1)</script>"}
    assert found.payload["id"] == uuid


def test_trace_statuses_through_a_chain(ctx, receiver, jobs):
    settings.set("max_deaths", 2)
    uuid = publish_once(receiver, jobs, Reply(503), Reply(500), Reply(200))
    assert trace.trace(uuid).status.startswith("Retrying, next attempt at ")
    run_due(uuid)
    run_due(uuid)
    found = trace.trace(uuid)
    assert found.status == "Delivered with 2 retries"
    assert found.first_attempt < found.last_attempt


def test_trace_of_a_dead_chain_and_unknown_uuid(ctx, receiver, jobs):
    settings.set("max_deaths", 1)
    uuid = publish_once(receiver, jobs, Reply(503))
    run_due(uuid)
    assert trace.trace(uuid).status == "Dead Lettered with 1 retries"
    assert trace.trace("00000000-0000-4000-8000-000000000000") is None


def test_replay_appends_rows_under_the_same_uuid(ctx, receiver, jobs):
    uuid = publish_once(receiver, jobs, Reply(200))
    chain_id = replay.replay(uuid)
    new_chain = db.session.get(Delivery, chain_id)
    assert new_chain.uuid == uuid and new_chain.is_replay and new_chain.attempts == 0
    run_due(uuid)
    rows = db.session.scalars(select(DeliveryLog).where(DeliveryLog.uuid == uuid)).all()
    assert len(rows) == 2 and all(r.success for r in rows)
    bodies = [r.json() for r in receiver.received("/hook")]
    assert bodies[0] == bodies[1]  # the stored snapshot, not a re-resolution
    assert trace.trace(uuid).status == "Delivered"


def test_replay_uses_the_subscriptions_current_url(ctx, receiver, jobs):
    uuid = publish_once(receiver, jobs, Reply(200), path="/old")
    sub = trace.trace(uuid).subscription
    sub.recipient_url = receiver.route("/new")
    db.session.commit()
    replay.replay(uuid)
    run_due(uuid)
    assert len(receiver.received("/new")) == 1


def test_replay_on_a_disabled_subscription_ends_quietly(ctx, receiver, jobs):
    uuid = publish_once(receiver, jobs)
    subscriptions.set_status(trace.trace(uuid).subscription.subscription_id, False)
    replay.replay(uuid)
    run_due(uuid)
    assert len(receiver.received("/hook")) == 1
    assert trace.trace(uuid).status == "Cancelled: the subscription is disabled"
    chains = db.session.scalars(select(Delivery.state).order_by(Delivery.id)).all()
    assert chains == [ChainState.DELIVERED, ChainState.CANCELLED]


def test_bulk_replay_reports_unknown_uuids(ctx, receiver, jobs):
    uuid = publish_once(receiver, jobs)
    result = replay.replay_many([uuid, "nope", uuid])
    assert list(result.replayed) == [uuid] and result.not_found == ["nope"]


def test_replay_of_a_dead_letter_starts_a_fresh_retry_chain(ctx, receiver, jobs):
    settings.set("max_deaths", 0)
    uuid = publish_once(receiver, jobs, Reply(503), Reply(503), Reply(200))
    assert trace.trace(uuid).status == "Dead Lettered"
    replay.replay(uuid)
    run_due(uuid)
    settings.set("max_deaths", 5)
    assert trace.trace(uuid).status == "Dead Lettered"  # max_deaths 0 at that decision
    replay.replay(uuid)
    run_due(uuid)
    assert trace.trace(uuid).status == "Delivered"
