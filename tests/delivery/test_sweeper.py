"""The sweep re-queues lost work once, not once per interval, and holds off while the
queues are full: after a crash it must not bury the real retries under duplicates."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from app.delivery import fanout, publishing, sweeper
from app.delivery.queues import RETRY_QUEUE, TRIGGER_QUEUE
from app.extensions import db
from app.models import Delivery
from app.models.types import utcnow
from app.usecases import subscriptions


def overdue_chains(ctx, count: int) -> None:
    """``count`` chains whose worker died: leases run out, attempts long overdue."""
    sub = subscriptions.create("example.event", "http://x.test/", "t")
    for n in range(count):
        publication = publishing.create_publication("example.event", {"n": n})
        fanout.fan_out(publication.id)
    past = utcnow() - timedelta(minutes=5)
    db.session.execute(
        update(Delivery)
        .where(Delivery.subscription_id == sub.subscription_id)
        .values(locked_until=past, next_attempt_at=past)
    )
    db.session.commit()


def test_a_swept_chain_is_left_to_its_job_for_a_grace_period(ctx, redis_conn):
    overdue_chains(ctx, 3)
    assert sweeper.sweep() == sweeper.SweepResult(0, 3)
    assert sweeper.sweep() == sweeper.SweepResult(0, 0)  # their jobs are queued already
    assert redis_conn.llen(f"rq:queue:{RETRY_QUEUE}") == 3


def test_the_sweep_queues_only_what_the_queues_have_room_for(ctx, redis_conn):
    overdue_chains(ctx, 5)
    for _ in range(3):
        redis_conn.rpush(f"rq:queue:{TRIGGER_QUEUE}", "a-job-waiting")
    assert sweeper.sweep(limit=5) == sweeper.SweepResult(0, 2)
    assert sweeper.sweep(limit=5) == sweeper.SweepResult(0, 0)  # full now
    redis_conn.delete(f"rq:queue:{TRIGGER_QUEUE}", f"rq:queue:{RETRY_QUEUE}")
    ctx.config["DELIVERY_SWEEP_GRACE"] = 0
    assert sweeper.sweep(limit=5) == sweeper.SweepResult(0, 5)  # the queues were lost
