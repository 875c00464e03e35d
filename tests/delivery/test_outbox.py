"""The outbox: group commit on its own connection, failures, reconnects, the open transaction."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import OperationalError

from app.delivery import outbox, publication_rows, publishing, queues
from app.extensions import db
from app.models import Publication, Subscription
from app.models.types import utcnow
from app.usecases import subscriptions
from tests.support import wait_until


def stored() -> list[int]:
    try:
        return list(db.session.scalars(select(Publication.id).order_by(Publication.id)))
    finally:
        db.session.commit()


def test_publishers_queued_behind_a_writer_share_the_next_commit(ctx, monkeypatch):
    box = outbox.get(ctx, db.engine)
    groups: list[int] = []
    first_in, release = threading.Event(), threading.Event()
    insert = publication_rows.insert

    def slow_first_insert(conn, rows):
        groups.append(len(rows))
        if len(groups) == 1:
            first_in.set()
            release.wait(10)
        return insert(conn, rows)

    monkeypatch.setattr(publication_rows, "insert", slow_first_insert)

    def publish(n: int) -> int:
        with ctx.app_context():
            return publishing.publish("example.event", {"n": n})

    with ThreadPoolExecutor(5) as pool:
        first = pool.submit(publish, 0)
        assert first_in.wait(10)
        rest = [pool.submit(publish, n) for n in range(1, 5)]
        wait_until(lambda: box.waiting() == 4)
        release.set()
        ids = [first.result(10), *(f.result(10) for f in rest)]
    assert groups == [1, 4]
    assert sorted(ids) == stored() and len(set(ids)) == 5
    assert outbox.flush(ctx) and queues.pending_publications() == 5


def test_a_failed_commit_fails_its_publishers_and_the_next_one_succeeds(ctx, monkeypatch):
    insert = publication_rows.insert
    calls = []

    def failing_once(conn, rows):
        calls.append(rows)
        if len(calls) == 1:
            insert(conn, rows)  # the row is written, then the transaction fails
            raise OperationalError("INSERT", {}, Exception("disk I/O error"))
        return insert(conn, rows)

    monkeypatch.setattr(publication_rows, "insert", failing_once)
    with pytest.raises(OperationalError, match="disk I/O error"):
        publishing.publish("example.event", {"n": 1})
    assert stored() == []  # rolled back, and on SQLite the write lock is free again
    second = publishing.publish("example.event", {"n": 2})
    assert stored() == [second]


def test_publish_many_rows_share_one_transaction(ctx, monkeypatch):
    groups: list[int] = []
    insert = publication_rows.insert
    monkeypatch.setattr(
        publication_rows,
        "insert",
        lambda conn, rows: groups.append(len(rows)) or insert(conn, rows),
    )
    ids = publishing.publish_many(("example.event", {"n": n}, 0) for n in range(7))
    assert groups == [7] and stored() == ids


def test_a_caller_transaction_is_committed_with_the_publication(ctx):
    sub = subscriptions.create("example.event", "https://example.com/hook", "t")
    db.session.execute(update(Subscription).values(status=False))  # open, uncommitted
    pub_id = publishing.publish("example.event", {})  # SQLite: the session holds the lock
    db.session.rollback()  # nothing left to roll back
    assert db.session.get(Subscription, sub.subscription_id).status is False
    assert stored() == [pub_id]


def test_a_killed_connection_is_replaced_before_the_insert(ctx, backend):
    if backend != "postgresql":
        pytest.skip("a SQLite connection cannot be killed from outside")
    first = publishing.publish("example.event", {"n": 1})
    # Every other connection to the test database, the outbox's among them: it is held,
    # so it cannot be the one this session runs on.
    killed = db.session.scalars(
        text(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    ).all()
    db.session.commit()
    assert killed and all(killed)
    second = publishing.publish("example.event", {"n": 2})
    assert stored() == [first, second]
    assert db.session.scalar(select(func.count()).select_from(Publication)) == 2


def test_a_row_written_on_the_driver_reads_back_through_the_orm(ctx):
    before = utcnow()
    pub_id = publishing.publish("example.event", {"first_name": "Zoë"}, store_id=3)
    row = db.session.get(Publication, pub_id)
    assert (row.event_name, row.store_id, row.state) == ("example.event", 3, "pending")
    assert json.loads(row.arguments) == {"first_name": "Zoë"}
    assert before <= row.created <= utcnow()  # SQLite keeps datetimes as text: same format
    older = db.session.scalars(select(Publication.id).where(Publication.created < before)).all()
    assert older == []
