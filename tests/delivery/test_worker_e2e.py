"""End to end with real worker processes: timing, isolation, crashes and Redis loss."""

from __future__ import annotations

import itertools
import time

import pytest
from sqlalchemy import func, select

from app import settings
from app.delivery import outbox, publishing
from app.extensions import db
from app.models import ChainState, DeadLetter, Delivery, DeliveryLog
from app.usecases import subscriptions
from tests.receiver import Reply
from tests.support import wait_until

pytestmark = pytest.mark.slow


def committed(query):
    """Run a read and end the transaction at once, so a SQLite writer is never blocked."""
    try:
        return db.session.execute(query).all()
    finally:
        db.session.commit()


def attempts_of(uuid: str) -> list[tuple]:
    return committed(
        select(DeliveryLog.success, DeliveryLog.created, DeliveryLog.attempt)
        .where(DeliveryLog.uuid == uuid)
        .order_by(DeliveryLog.log_id)
    )


def chain_states() -> list[str]:
    return [row[0] for row in committed(select(Delivery.state))]


def test_exhaustion_four_attempts_with_quadratic_gaps_then_dead_letter(ctx, receiver, worker):
    subscriptions.create("example.event", receiver.route("/down", Reply(503)), "s3cret")
    settings.set("max_deaths", 3)
    worker.start()
    publishing.publish("example.event", {"countryId": "AU"})
    got = receiver.wait_for(4, "/down", timeout=40)
    wait_until(lambda: chain_states() == [ChainState.DEAD], timeout=10)
    uuid = got[0].headers["webhook-id"]
    rows = attempts_of(uuid)
    assert len(rows) == 4 and not any(r[0] for r in rows)
    gaps = [(b[1] - a[1]).total_seconds() for a, b in itertools.pairwise(rows)]
    for gap, expected in zip(gaps, (1, 4, 9), strict=True):
        assert expected <= gap <= expected + 1.2, gaps
    assert {r.headers["webhook-id"] for r in got} == {uuid}
    dead = committed(select(DeadLetter.uuid, DeadLetter.death_count))
    assert dead == [(uuid, 3)]
    time.sleep(2)
    assert len(receiver.received("/down")) == 4


def test_a_sleeping_subscriber_does_not_delay_the_others(ctx, receiver, worker):
    subscriptions.create("example.event", receiver.route("/sleeper", Reply(200, delay=10)), "t")
    for i in range(5):
        subscriptions.create("example.event", receiver.route(f"/fast{i}"), "t")
    worker.start()
    # A first event warms the worker up (a loaded machine boots it in 2-8 s), so the 1 s
    # budget measures delivery only; the sleeper is already holding a send meanwhile.
    publishing.publish("example.event", {"id": 0})
    for i in range(5):
        receiver.wait_for(1, f"/fast{i}", timeout=30)
    started = time.time()
    publishing.publish("example.event", {"id": 1})
    fast = [receiver.wait_for(2, f"/fast{i}", timeout=5)[1] for i in range(5)]
    assert max(r.at for r in fast) - started < 1.0
    logged = wait_until(
        lambda: committed(select(func.count()).select_from(DeliveryLog))[0][0] >= 10, timeout=3
    )
    assert logged


def test_killed_worker_mid_delivery_still_delivers(ctx, receiver, worker):
    url = receiver.route("/slow", Reply(200, delay=3), Reply(200))
    subscriptions.create("example.event", url, "t")
    first = worker.start()
    publishing.publish("example.event", {"id": 2})
    receiver.wait_for(1, "/slow", timeout=15)  # the request is in flight
    worker.kill(first)
    assert committed(select(func.count()).select_from(DeliveryLog))[0][0] == 0
    worker.start()
    got = receiver.wait_for(2, "/slow", timeout=40)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    wait_until(lambda: chain_states() == [ChainState.DELIVERED], timeout=10)


def test_redis_flushed_between_publish_and_delivery_loses_nothing(
    ctx, receiver, worker, redis_conn
):
    subscriptions.create("example.event", receiver.route("/after"), "t")
    publishing.publish("example.event", {"id": 3})
    assert outbox.flush(ctx)
    assert redis_conn.dbsize() > 0
    redis_conn.flushdb()  # the trigger job is gone; the publication is still in the database
    worker.start()
    (got,) = receiver.wait_for(1, "/after", timeout=30)
    assert got.json()["data"] == {"id": 3}
    wait_until(lambda: chain_states() == [ChainState.DELIVERED], timeout=10)


def test_scheduled_retry_lost_with_redis_is_swept(ctx, receiver, worker, redis_conn):
    subscriptions.create("example.event", receiver.route("/flaky", Reply(503), Reply(200)), "t")
    first = worker.start()
    publishing.publish("example.event", {"id": 4})
    receiver.wait_for(1, "/flaky", timeout=15)
    wait_until(lambda: committed(select(Delivery.attempts))[0][0] == 1, timeout=10)
    worker.kill(first)
    redis_conn.flushdb()  # the scheduled retry is gone
    worker.start()
    got = receiver.wait_for(2, "/flaky", timeout=30)
    assert got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    wait_until(lambda: chain_states() == [ChainState.DELIVERED], timeout=10)


def test_several_workers_and_a_publisher_write_one_database_safely(app, receiver, worker):
    """Web-like publishing from threads while three workers deliver: nothing lost or locked."""
    from concurrent.futures import ThreadPoolExecutor

    with app.app_context():
        for i in range(5):
            subscriptions.create("example.event", receiver.route(f"/w{i}"), "t")
    procs = [worker.start() for _ in range(3)]

    def publish(n: int) -> int:
        with app.app_context():
            return publishing.publish("example.event", {"n": n})

    with ThreadPoolExecutor(4) as pool:
        assert len(set(pool.map(publish, range(40)))) == 40
    receiver.wait_for(200, timeout=60)
    with app.app_context():
        wait_until(lambda: chain_states().count(ChainState.DELIVERED) == 200, timeout=20)
        assert committed(select(func.count()).select_from(DeliveryLog))[0][0] == len(
            receiver.received()
        )
    assert all(p.poll() is None for p in procs)
