"""The worker's feeder: publications reach it without RQ jobs, and nothing is stranded."""

from __future__ import annotations

import gc

from rq import Queue
from sqlalchemy import select

from app.broker.connection import get_redis
from app.delivery import outbox, publishing, queues
from app.delivery.feeder import Feeder
from app.delivery.worker import AppWorker
from app.extensions import db
from app.models import Publication
from app.usecases import subscriptions
from tests.support import wait_until


def dispatch_jobs() -> int:
    return Queue(queues.TRIGGER_QUEUE, connection=get_redis()).count


def test_publishes_queue_no_dispatch_job_while_a_feeder_is_alive(ctx):
    get_redis().set(queues.FEEDERS_KEY, 1, ex=queues.FEEDER_TTL)
    publishing.publish("example.event", {"n": 1})
    assert outbox.flush(ctx)
    assert dispatch_jobs() == 0 and queues.pending_publications() == 1
    get_redis().delete(queues.FEEDERS_KEY)  # the feeder is gone: jobs wake up again
    publishing.publish("example.event", {"n": 2})
    assert outbox.flush(ctx)
    assert dispatch_jobs() == 1 and queues.pending_publications() == 2


def test_a_feeder_delivers_what_is_published_and_marks_itself_alive(ctx, receiver):
    subscriptions.create("example.event", receiver.route("/a"), "t")
    subscriptions.create("example.event", receiver.route("/b"), "t")
    feeder = Feeder(ctx)
    feeder.start()
    try:
        wait_until(lambda: get_redis().exists(queues.FEEDERS_KEY), timeout=5)
        for n in range(3):
            publishing.publish("example.event", {"n": n})
        assert outbox.flush(ctx)
        got = receiver.wait_for(6)
    finally:
        feeder.stop(timeout=10)
    assert sorted(r.json()["data"]["n"] for r in got) == [0, 0, 1, 1, 2, 2]
    assert dispatch_jobs() == 0
    states = db.session.scalars(select(Publication.state)).all()
    assert states == ["dispatched"] * 3
    assert not get_redis().exists(queues.FEEDERS_KEY)  # a stopped feeder says so


def test_a_stopping_feeder_hands_what_is_left_to_a_dispatch_job(ctx):
    get_redis().set(queues.FEEDERS_KEY, 1, ex=queues.FEEDER_TTL)
    publishing.publish("example.event", {"n": 1})
    assert outbox.flush(ctx) and dispatch_jobs() == 0
    queues.feeder_gone()
    assert dispatch_jobs() == 1 and not get_redis().exists(queues.FEEDERS_KEY)
    queues.feeder_gone()  # the wake flag is set: no second job for the same list
    assert dispatch_jobs() == 1


def test_a_feeder_survives_a_failed_round(ctx, receiver, monkeypatch):
    from app.delivery import fanout

    subscriptions.create("example.event", receiver.route("/a"), "t")
    real = fanout.fan_out_many
    calls = []

    def flaky(ids):
        calls.append(ids)
        if len(calls) == 1:
            raise RuntimeError("database went away")
        return real(ids)

    monkeypatch.setattr(fanout, "fan_out_many", flaky)
    monkeypatch.setattr("app.delivery.feeder.PAUSE", 0.05)
    feeder = Feeder(ctx)
    feeder.start()
    try:
        publishing.publish("example.event", {"n": 1})
        assert outbox.flush(ctx)
        wait_until(lambda: calls, timeout=5)
        publishing.publish("example.event", {"n": 2})
        assert outbox.flush(ctx)
        got = receiver.wait_for(1)
    finally:
        feeder.stop(timeout=10)
    assert [r.json()["data"]["n"] for r in got] == [2]
    # the first publication is still pending: the sweep hands it out again
    pending = db.session.scalars(select(Publication.state).order_by(Publication.id)).all()
    assert pending == ["pending", "dispatched"]


def test_a_worker_freezes_its_start_up_heap_when_its_feeder_starts(ctx):
    """Full collections then walk only what was made since: not the ~170,000 objects
    of start-up, which cost every thread a 65-90 ms pause per pass."""
    worker = AppWorker([Queue(queues.TRIGGER_QUEUE, connection=get_redis())], app=ctx)
    worker.feeder = Feeder(ctx)  # as a long-running worker's work() sets it
    gc.unfreeze()
    try:
        assert gc.get_freeze_count() == 0
        worker.dequeue_job_and_maintain_ttl(timeout=1, max_idle_time=1)
        assert worker.feeder.is_alive()
        assert gc.get_freeze_count() > 100_000
    finally:
        worker.feeder.stop(timeout=10)
        gc.unfreeze()


def test_a_feeder_pops_fewer_publications_when_each_has_many_subscribers(
    ctx, receiver, monkeypatch
):
    """A round holds about ROUND_ATTEMPTS attempts, not DISPATCH_BATCH times the fan-out."""
    monkeypatch.setattr("app.delivery.feeder.ROUND_ATTEMPTS", 10)
    for i in range(5):
        subscriptions.create("example.event", receiver.route(f"/r{i}"), "t")
    publishing.publish_many(("example.event", {"n": n}, 0) for n in range(20))
    assert outbox.flush(ctx)
    feeder = Feeder(ctx)  # its rounds run here, one at a time, not on its thread
    assert feeder.feed() == 100  # the fan-out is unknown yet: all 20 publications
    publishing.publish_many(("example.event", {"n": n}, 0) for n in range(20, 40))
    assert outbox.flush(ctx)
    assert feeder.feed() == 10  # 2 publications of 5 deliveries each
    assert queues.pending_publications() == 18
    assert len(receiver.wait_for(110)) == 110
