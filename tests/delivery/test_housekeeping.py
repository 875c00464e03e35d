"""Housekeeping: the sweep lock, daily retention, and tokens encrypted at rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, text

from app import settings
from app.delivery import publishing
from app.delivery.housekeeping import Housekeeper
from app.extensions import db
from app.models import DeliveryLog, Subscription
from app.usecases import subscriptions
from tests.support import seed_aged_logs


def count_logs() -> int:
    return db.session.scalar(select(func.count()).select_from(DeliveryLog))


def test_retention_runs_once_a_day_after_one_am_when_enabled(ctx, redis_conn):
    seed_aged_logs()
    keeper = Housekeeper(ctx, redis_conn)
    day = datetime(2026, 3, 1, 1, 30, tzinfo=UTC)
    assert keeper.retain(day) == 0  # disabled by default: nothing deleted
    settings.set("log_cleanup_enabled", "true")
    assert keeper.retain(day) is None  # already ran today
    assert keeper.retain(day + timedelta(days=1, hours=-1)) is None  # 00:30: too early
    assert keeper.retain(day + timedelta(days=1)) == 1
    assert count_logs() == 1


def test_only_one_worker_sweeps_per_interval(ctx, redis_conn, receiver):
    subscriptions.create("example.event", receiver.route("/x"), "t")
    ctx.config["DELIVERY_SWEEP_GRACE"] = 0
    publishing.create_publication("example.event", {})  # pending, never queued
    a, b = Housekeeper(ctx, redis_conn), Housekeeper(ctx, redis_conn)
    a.sweep()
    b.sweep()
    assert redis_conn.llen("rq:queue:event.trigger") == 1


def test_verification_tokens_are_encrypted_at_rest(ctx):
    sub = subscriptions.create("example.event", "http://x.test/", "supersecret")
    raw = db.session.execute(
        text("SELECT verification_token FROM async_event_subscriber WHERE subscription_id = :i"),
        {"i": sub.subscription_id},
    ).scalar_one()
    assert "supersecret" not in raw and raw.startswith("gAAAA")  # a Fernet token
    db.session.expire_all()
    assert db.session.get(Subscription, sub.subscription_id).verification_token == "supersecret"
