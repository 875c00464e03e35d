"""Backpressure from the recorder: a worker that cannot log stops sending, and loses nothing."""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, func, select, text
from sqlalchemy.engine import make_url

from app import create_app
from app.delivery import attempts, fanout, outbox, publishing, relay
from app.delivery.dispatcher import Dispatcher
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Publication
from app.usecases import subscriptions
from tests.receiver import Receiver, Reply
from tests.support import wait_until

BOUND, SENDERS = 50, 4  # DELIVERY_MAX_UNRECORDED, DELIVERY_CONCURRENCY
EVENTS, FANOUT = 100, 5
HOLD = 4.0  # s the test keeps the recorder from writing
LOG_TABLE = "async_event_subscriber_log"


class Unlogged(threading.Thread):
    """Samples deliveries that reached the receiver without a committed log row.

    Arrivals are counted before rows, so a sample never overstates the backlog; while
    the log is locked no row commits, and the sample is exact.
    """

    def __init__(self, url: str, receiver: Receiver) -> None:
        super().__init__(daemon=True)
        self.engine, self.receiver = create_engine(url), receiver
        self.worst = 0
        self.stopped = threading.Event()

    def rows(self) -> int:
        with self.engine.connect() as conn:  # a plain connection: no write lock on SQLite
            return conn.execute(text(f"SELECT count(*) FROM {LOG_TABLE}")).scalar_one()

    def sample(self) -> int:
        arrived = len(self.receiver.received())
        backlog = arrived - self.rows()
        self.worst = max(self.worst, backlog)
        return backlog

    def run(self) -> None:
        while not self.stopped.wait(0.02):
            self.sample()


@contextlib.contextmanager
def log_locked(url: str) -> Iterator[None]:
    """Keep every writer out of the log: SQLite's write lock, or PostgreSQL's table lock."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        conn = sqlite3.connect(parsed.database, isolation_level=None, timeout=30)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("COMMIT")
            conn.close()
        return
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"LOCK TABLE {LOG_TABLE} IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


@pytest.mark.slow
def test_a_worker_whose_log_is_locked_stops_sending_at_the_bound(config, ctx, receiver, worker):
    """While the recorder cannot write, the deliveries that arrived without a log row
    never exceed DELIVERY_MAX_UNRECORDED plus one send per thread; once it can, every
    delivery is logged, and none was sent twice."""
    config.update(
        DELIVERY_MAX_UNRECORDED=BOUND, DELIVERY_CONCURRENCY=SENDERS, DELIVERY_LEASE_SECONDS=60
    )
    for i in range(FANOUT):
        subscriptions.create("example.event", receiver.route(f"/r{i}", Reply(delay=0.02)), "t")
    publishing.publish_many(("example.event", {"n": n}, 0) for n in range(EVENTS))
    assert outbox.flush(ctx)
    url = config["SQLALCHEMY_DATABASE_URI"]
    unlogged = Unlogged(url, receiver)
    unlogged.start()
    worker.start()
    try:
        receiver.wait_for(20, timeout=30)
        with log_locked(url):
            time.sleep(HOLD)  # the senders reach the bound and stop
            held = unlogged.sample()
            unsent = EVENTS * FANOUT - unlogged.rows() - held
        wait_until(lambda: unlogged.rows() == EVENTS * FANOUT, timeout=60)
    finally:
        unlogged.stopped.set()
        unlogged.join()
    assert unlogged.worst <= BOUND + SENDERS
    assert held > BOUND and unsent > 0  # they stopped at the bound, not for want of work
    ids = [r.headers["webhook-id"] for r in receiver.received()]
    assert len(ids) == len(set(ids)) == EVENTS * FANOUT  # each delivered exactly once
    states = db.session.scalars(select(Delivery.state).distinct()).all()
    assert states == [ChainState.DELIVERED]
    assert db.session.scalar(select(func.count()).select_from(Delivery)) == EVENTS * FANOUT


def test_the_relay_leaves_ids_beyond_its_bound_to_the_sweep_while_redis_hangs(
    app, config, monkeypatch
):
    """A Redis that accepts and never answers hangs the relay's push; the publications
    go on, each committed, and the relay holds at most RELAY_MAX_IDS of their ids."""
    monkeypatch.setattr(relay, "RELAY_MAX_IDS", 50)
    with socket.socket() as hole:
        hole.bind(("127.0.0.1", 0))
        hole.listen(8)  # the kernel accepts connections; nothing ever reads or answers
        stuck = create_app({**config, "REDIS_URL": f"redis://127.0.0.1:{hole.getsockname()[1]}"})
        with stuck.app_context():
            for n in range(200):
                publishing.publish("example.event", {"n": n})
            waiting = outbox.get(stuck, db.engine).relay.waiting()
            pending = db.session.scalar(select(func.count()).select_from(Publication))
            db.session.remove()
    outbox.close(stuck)  # the hole is closed: the hung push fails, the relay ends
    with stuck.app_context():
        db.engine.dispose()
    assert waiting == 50  # the rest wait in the database, where the sweep finds them
    assert pending == 200


def test_attempts_held_back_past_half_their_lease_go_back_unsent(ctx, config, receiver):
    """Sent later, a held attempt could outlive its lease and be sent twice: it goes
    back to the database instead, its lease released, for the sweep."""
    for i in range(8):
        subscriptions.create("example.event", receiver.route(f"/r{i}"), "t")
    ready = attempts.prepare(
        fanout.fan_out_many(publishing.publish_many([("example.event", {}, 0)]))
    )
    # 8 fit its capacity (4 per thread), so submit takes them all at once
    dispatcher = Dispatcher(ctx, concurrency=2, per_endpoint=1, lease=1.0, max_unrecorded=1)
    try:
        with log_locked(config["SQLALCHEMY_DATABASE_URI"]):
            dispatcher.submit(ready)  # a few sends, then the gate closes
            time.sleep(1.5)  # the others wait past half a lease
            sent = len(receiver.received())
        assert dispatcher.wait_idle(timeout=30)
    finally:
        dispatcher.close()
    assert 1 <= sent <= 1 + 2  # the bound, plus one send per thread
    assert len(receiver.received()) == sent  # the rest never went out
    chains = db.session.scalars(select(Delivery)).all()
    assert sum(c.state == ChainState.DELIVERED for c in chains) == sent
    assert sum(c.attempts == 0 and c.locked_until is None for c in chains) == 8 - sent
    assert db.session.scalar(select(func.count()).select_from(DeliveryLog)) == sent
