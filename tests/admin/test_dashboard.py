"""The dashboard's figures on SQLite and PostgreSQL: outcomes, hourly buckets, queues, failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from app.delivery.queues import TRIGGER_QUEUE, enqueue_attempt, enqueue_trigger, get_queue
from app.extensions import db
from app.models import DeadLetter, DeliveryLog
from app.models.types import utcnow
from app.usecases import dashboard, subscriptions


def _log(sub_id: int, success: bool, age: timedelta) -> None:
    created = utcnow() - age
    db.session.add(DeliveryLog(uuid="u", subscription_id=sub_id, success=success, created=created))


@pytest.fixture
def two_subs(ctx):
    a = subscriptions.create("example.event", "http://a.test/hook", "t")
    b = subscriptions.create("example.event", "http://b.test/hook", "t")
    return a.subscription_id, b.subscription_id


def test_totals_count_only_the_window(ctx, two_subs) -> None:
    a, _ = two_subs
    for success, age in [(True, 1), (True, 2), (False, 3), (False, 30)]:
        _log(a, success, timedelta(hours=age))
    db.session.commit()
    assert dashboard.outcome_totals(utcnow() - timedelta(hours=24)) == (2, 1)


def test_hourly_buckets_are_oldest_first_and_whole_hours(ctx, two_subs) -> None:
    a, _ = two_subs
    now = utcnow().replace(minute=30)
    for success, hours_ago in [(True, 0), (False, 0), (True, 5), (True, 25)]:
        created = now - timedelta(hours=hours_ago)
        db.session.add(DeliveryLog(uuid="u", subscription_id=a, success=success, created=created))
    db.session.commit()
    hours = dashboard.hourly(24, now=now)
    assert len(hours) == 24
    assert hours[-1].start == now.replace(minute=0, second=0, microsecond=0)
    assert (hours[-1].succeeded, hours[-1].failed, hours[-1].rate) == (1, 1, 0.5)
    assert (hours[-6].succeeded, hours[-6].failed, hours[-6].rate) == (1, 0, 1.0)
    assert sum(h.succeeded + h.failed for h in hours) == 3  # 25 h ago is outside
    assert hours[0].rate is None


def test_failing_endpoints_rank_by_failures(ctx, two_subs) -> None:
    a, b = two_subs
    for _ in range(3):
        _log(b, False, timedelta(minutes=5))
    _log(a, False, timedelta(minutes=5))
    _log(a, True, timedelta(minutes=5))
    _log(a, False, timedelta(days=3))  # too old
    db.session.commit()
    top = dashboard.failing_endpoints(utcnow() - timedelta(hours=24), limit=5)
    assert [(f.subscription_id, f.recipient_url, f.failures) for f in top] == [
        (b, "http://b.test/hook", 3),
        (a, "http://a.test/hook", 1),
    ]


def test_dead_letters_are_counted(ctx, two_subs) -> None:
    a, _ = two_subs
    db.session.add_all(
        DeadLetter(uuid=f"u{i}", subscription_id=a, death_count=1, reason="exhausted")
        for i in range(2)
    )
    db.session.commit()
    assert dashboard.dead_letters() == 2


def test_queue_depths_read_redis(ctx) -> None:
    enqueue_trigger(1)
    enqueue_trigger(2)
    enqueue_attempt(1, 1)
    enqueue_attempt(2, 1, due=utcnow() + timedelta(hours=1))
    assert dashboard.queue_depths() == {"trigger": 2, "retry": 1, "scheduled": 1}


def test_published_events_waiting_for_fan_out_count_as_trigger_work(ctx) -> None:
    from app.delivery import outbox, publishing

    publishing.publish_many([("example.event", {"id": i}, 0) for i in range(3)])
    assert outbox.flush(ctx)
    assert len(get_queue(TRIGGER_QUEUE)) == 1  # one dispatch job wakes up for the lot
    assert dashboard.queue_depths()["trigger"] == 3 + 1


def test_queue_depths_are_unknown_when_redis_is_down(ctx) -> None:
    from app.broker.connection import Broker

    ctx.extensions["broker"] = Broker(url="redis://127.0.0.1:1/0", directory="")
    assert dashboard.queue_depths() == {"trigger": None, "retry": None, "scheduled": None}
