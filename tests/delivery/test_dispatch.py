"""Batched publishing and fan-out, and the worker's dispatcher: per-endpoint limits, hand-back."""

from __future__ import annotations

import json
import time
from datetime import datetime, timedelta

import pytest
from rq import Queue
from sqlalchemy import event, func, select

from app.broker.connection import get_redis
from app.db import bulk
from app.delivery import attempts, fanout, outbox, publishing, queues
from app.delivery.dispatcher import Dispatcher
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Publication, SearchDocument
from app.usecases import subscriptions
from tests.receiver import Reply
from tests.support import wait_until


def count(model) -> int:
    try:
        return db.session.scalar(select(func.count()).select_from(model))
    finally:
        db.session.commit()


def leased(event: str, events: int) -> list[attempts.Attempt]:
    """Publish ``events`` events and fan them out here: their attempts, leased and ready."""
    ids = publishing.publish_many((event, {"n": n}, 0) for n in range(events))
    return attempts.prepare(fanout.fan_out_many(ids))


def test_publishes_share_one_dispatch_job_that_fans_them_all_out(ctx, receiver, jobs):
    subscriptions.create("example.event", receiver.route("/a"), "t")
    subscriptions.create("example.event", receiver.route("/b"), "t")
    for n in range(5):
        publishing.publish("example.event", {"n": n})
    assert outbox.flush(ctx)  # the relay thread pushes the ids to Redis
    assert Queue(queues.TRIGGER_QUEUE, connection=get_redis()).count == 1
    assert queues.pending_publications() == 5
    jobs()
    assert len(receiver.wait_for(10)) == 10
    assert count(DeliveryLog) == 10 and count(SearchDocument) == 10
    states = db.session.scalars(select(Publication.state)).all()
    assert states == ["dispatched"] * 5 and queues.pending_publications() == 0


def test_publish_many_is_all_or_nothing(ctx, receiver, jobs):
    subscriptions.create("example.event", receiver.route("/a"), "t")
    with pytest.raises(publishing.PublishError, match="unknown event"):
        publishing.publish_many([("example.event", {}, 0), ("no.such.event", {}, 0)])
    assert count(Publication) == 0
    ids = publishing.publish_many([("example.event", {"n": n}, 0) for n in range(3)])
    assert ids == sorted(ids) and len(set(ids)) == 3
    jobs()
    assert sorted(r.json()["data"]["n"] for r in receiver.wait_for(3)) == [0, 1, 2]


def test_fan_out_counts_chains_and_compiles_no_statement_per_batch_size(ctx, receiver):
    """A statement whose shape follows the batch size would add a cache entry per size,
    held for the life of the worker: its memory would creep with every new size seen."""
    subscriptions.create("example.event", receiver.route("/a"), "t")
    subscriptions.create("example.event", receiver.route("/b"), "t")
    cache = db.engine._compiled_cache  # SQLAlchemy's per-engine LRU of compiled statements
    leased("example.event", 1)  # one event takes the one-row paths,
    leased("example.event", 2)  # more take the batch paths: now every shape is cached
    before = len(cache)
    assert before + 10 < cache.capacity  # a full cache would hide new entries
    for size in (3, 5, 8, 13):
        leased("example.event", size)
    assert len(cache) == before
    assert db.session.scalars(select(Publication.chain_count)).all() == [2] * 32


def test_a_database_without_id_allocation_numbers_the_rows_itself(ctx, monkeypatch):
    monkeypatch.setattr(bulk, "allocate_ids", lambda *args: None)
    rows = [{"event_name": "example.event", "arguments": "{}", "store_id": 0} for _ in range(3)]
    ids = bulk.insert_with_ids(db.session, Publication.__table__, rows)
    db.session.commit()
    assert ids == sorted(ids) and len(set(ids)) == 3
    assert [row["id"] for row in rows] == ids
    assert {p.id for p in db.session.scalars(select(Publication))} == set(ids)


@pytest.mark.parametrize("count", [1, 2, 63, 64, 65, 130])
def test_bulk_inserts_store_every_row_in_few_statements(ctx, count):
    """Row values keep their types (datetimes through SQLite's text format); on SQLite
    a batch goes in as a few multi-row INSERTs, not a statement per row."""
    created = datetime(2026, 1, 2, 3, 4, 5, 678901)
    rows = [
        {
            "event_name": "example.event",
            "arguments": json.dumps({"n": n}),
            "store_id": n % 3,
            "state": "pending",
            "chain_count": 0,
            "created": created + timedelta(seconds=n),
        }
        for n in range(count)
    ]
    steps: list[int] = []

    def counted(conn, cursor, statement, parameters, context, executemany):
        if statement.startswith("INSERT"):
            steps.append(len(parameters) if executemany else 1)

    engine = db.engine
    event.listen(engine, "before_cursor_execute", counted)
    try:
        ids = bulk.insert_with_ids(db.session, Publication.__table__, rows)
        db.session.commit()
    finally:
        event.remove(engine, "before_cursor_execute", counted)
    stored = db.session.scalars(select(Publication).order_by(Publication.id)).all()
    assert [p.id for p in stored] == ids
    got = [(json.loads(p.arguments)["n"], p.store_id, p.created) for p in stored]
    assert got == [(n, n % 3, created + timedelta(seconds=n)) for n in range(count)]
    if engine.dialect.name == "sqlite":
        assert sum(steps) <= count.bit_length() + 1


def test_allocated_ids_are_fresh_and_in_order(ctx):
    table = Publication.__table__
    first = bulk.allocate_ids(db.session, table, 3)
    db.session.commit()
    second = bulk.insert_with_ids(
        db.session,
        table,
        [{"event_name": "example.event", "arguments": "{}", "store_id": 0} for _ in range(2)],
    )
    db.session.commit()
    assert len(first) == 3 and first == sorted(first)
    assert second == [second[0], second[0] + 1] and second[0] > first[-1] - 3
    assert count(Publication) == 2


def test_a_stalled_endpoint_holds_only_its_own_slots(ctx, receiver):
    slow = subscriptions.create("example.event", receiver.route("/slow", Reply(delay=2)), "t")
    for i in range(4):
        subscriptions.create("example.event", receiver.route(f"/fast{i}"), "t")
    dispatcher = Dispatcher(ctx, concurrency=4, per_endpoint=1, lease=60, max_unrecorded=1000)
    started = time.monotonic()
    dispatcher.submit(leased("example.event", 10))  # 10 to the slow one, 40 to the others
    receiver.wait_for(40 + 1, timeout=5)
    assert time.monotonic() - started < 1.5  # 10 slow sends in series would take 20 s
    assert len(receiver.received("/slow")) == 1  # one slot for the slow endpoint, the rest wait
    wait_until(lambda: count(DeliveryLog) == 40, timeout=5)
    dispatcher.close(timeout=1)  # the 9 still waiting go back to the database
    waiting = db.session.scalars(
        select(Delivery).where(Delivery.subscription_id == slow.subscription_id)
    ).all()
    given_back = [c for c in waiting if c.attempts == 0 and c.locked_until is None]
    assert len(given_back) >= 8 and all(c.state == ChainState.PENDING for c in given_back)


def test_a_burst_for_a_fast_endpoint_waits_for_it_instead_of_going_back(ctx, receiver, monkeypatch):
    """Its queue counts toward the capacity, so submit waits: none of it is handed back
    past MAX_WAITING to wait for the sweep, as a slow endpoint's overflow is."""
    monkeypatch.setattr("app.delivery.dispatcher.MAX_WAITING", 3)
    subscriptions.create("example.event", receiver.route("/fast"), "t")
    dispatcher = Dispatcher(ctx, concurrency=2, per_endpoint=1, lease=60, max_unrecorded=1000)
    try:
        dispatcher.submit(leased("example.event", 30))
        assert len(receiver.wait_for(30, timeout=10)) == 30
        assert dispatcher.wait_idle(timeout=5)
    finally:
        dispatcher.close()
    rows = db.session.scalars(select(Delivery)).all()
    assert [c.state for c in rows] == [ChainState.DELIVERED] * 30


def test_attempts_that_wait_past_half_their_lease_go_back(ctx, receiver):
    subscriptions.create("example.event", receiver.route("/slow", Reply(delay=1.5)), "t")
    dispatcher = Dispatcher(ctx, concurrency=2, per_endpoint=1, lease=0.4, max_unrecorded=1000)
    dispatcher.submit(leased("example.event", 3))
    assert dispatcher.wait_idle(timeout=5)
    assert len(receiver.received("/slow")) == 1  # the others never went out
    rows = db.session.scalars(select(Delivery).order_by(Delivery.id)).all()
    assert [(c.attempts, c.locked_until is None) for c in rows] == [(1, True), (0, True), (0, True)]
    assert count(DeliveryLog) == 1
    dispatcher.close()


def test_recorded_attempts_are_indexed_as_their_stored_log_rows_read(ctx, receiver, jobs):
    """The recorder builds search documents from the attempts, not from the rows it
    wrote; what it indexes must be exactly what the stored rows index as."""
    from app.search.documents import documents_for
    from app.search.sql.leaves import flatten
    from app.search.sql.values import leaves_json

    subscriptions.create("example.event", receiver.route("/ok"), "t")
    subscriptions.create("example.event", receiver.route("/bad", *[Reply(500)] * 3), "t")
    publishing.publish_many(("example.event", {"n": n, "text": "héllo"}, 0) for n in range(3))
    jobs()
    receiver.wait_for(6)
    logs = db.session.scalars(select(DeliveryLog).order_by(DeliveryLog.log_id)).all()
    stored = dict(db.session.execute(select(SearchDocument.log_id, SearchDocument.leaves)).all())
    assert len(logs) == 6 and {log.success for log in logs} == {True, False}
    for doc in documents_for(logs):
        leaves = stored[doc.log_id]  # JSON text on SQLite, JSONB (decoded) on PostgreSQL
        assert _json(leaves) == json.loads(leaves_json(*flatten(doc))), doc


def _json(value):
    return json.loads(value) if isinstance(value, str) else value
