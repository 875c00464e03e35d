"""Recording that one bad row cannot stop: hostile replies, rows the database refuses, outages."""

from __future__ import annotations

import json
import time
from dataclasses import replace

import pytest
from sqlalchemy import event, func, select

from app.db import escaping
from app.delivery import attempts, fanout, outcomes, publishing
from app.extensions import db
from app.models import ChainState, DeadLetter, Delivery, DeliveryLog
from app.usecases import search, subscriptions
from tests.receiver import Reply
from tests.support import wait_until

# NUL, bytes that are not UTF-8 (one an encoded surrogate), UTF-8, and a backslash.
HOSTILE_BODY = b"ok\x00\xff\xfe \xed\xa0\x80 caf\xc3\xa9 \\ end"
# The receiver writes header values as latin-1. (A NUL in a header is a malformed answer
# whose body is not read: tests/sinks/test_http_deadlines.py.)
HOSTILE_HEADERS = {"x-bad": "a\xffb\xfe"}


def subscribe(url: str) -> int:
    return subscriptions.create("example.event", url, "t").subscription_id


def logs_of(subscription_id: int) -> list[DeliveryLog]:
    query = select(DeliveryLog).where(DeliveryLog.subscription_id == subscription_id)
    return list(db.session.scalars(query.order_by(DeliveryLog.log_id)))


def sent_attempts(publication_id: int) -> list[attempts.Attempt]:
    """The attempts of a publication, fanned out and sent to the real receiver, not recorded."""
    return [attempts.send(a) for a in attempts.prepare(fanout.fan_out(publication_id))]


def test_nul_and_invalid_utf8_replies_are_logged_once_beside_a_healthy_endpoint(
    ctx, receiver, jobs
):
    hostile = subscribe(receiver.route("/hostile", Reply(200, HOSTILE_BODY, HOSTILE_HEADERS)))
    refused = subscribe(receiver.route("/refused", Reply(400, HOSTILE_BODY, HOSTILE_HEADERS)))
    healthy = subscribe(receiver.route("/healthy"))
    for n in range(3):
        publishing.publish("example.event", {"n": n})
    jobs()
    for path in ("/hostile", "/refused", "/healthy"):
        assert len(receiver.received(path)) == 3
    assert [row.response_data for row in logs_of(healthy)] == ["ok"] * 3
    for sub in (hostile, refused):
        rows = logs_of(sub)
        assert len(rows) == 3
        for row in rows:  # shown escaped, and exactly the bytes the receiver sent
            assert row.response_data.startswith(escaping.MARKER)
            assert escaping.raw_bytes(row.response_data) == HOSTILE_BODY
    letters = db.session.scalars(select(DeadLetter)).all()  # 400 is permanent
    assert [escaping.raw_bytes(letter.last_response) for letter in letters] == [HOSTILE_BODY] * 3
    chains = db.session.scalars(select(Delivery)).all()
    assert len(chains) == 9 and all(c.attempts == 1 and c.locked_until is None for c in chains)
    assert {c.state for c in chains if c.subscription_id != refused} == {ChainState.DELIVERED}


@pytest.mark.slow
def test_a_worker_logs_hostile_replies_once_and_sends_nothing_again(ctx, receiver, worker):
    hostile = subscribe(receiver.route("/hostile", Reply(200, HOSTILE_BODY, HOSTILE_HEADERS)))
    subscribe(receiver.route("/healthy"))
    worker.start()
    for n in range(5):
        publishing.publish("example.event", {"n": n})
    wait_until(lambda: committed_count(DeliveryLog) == 10, timeout=30)
    config = ctx.config  # past every lease, and the sweeps that would re-send them
    time.sleep(config["DELIVERY_LEASE_SECONDS"] + config["DELIVERY_SWEEP_GRACE"] + 3)
    assert len(receiver.received("/hostile")) == len(receiver.received("/healthy")) == 5
    assert committed_count(DeliveryLog) == 10
    states = db.session.scalars(select(Delivery.state)).all()
    bodies = [escaping.raw_bytes(row.response_data) for row in logs_of(hostile)]
    db.session.commit()
    assert states == [ChainState.DELIVERED] * 10
    assert bodies == [HOSTILE_BODY] * 5


def committed_count(model: type) -> int:
    """Count rows and end the read at once, so a SQLite writer is never kept waiting."""
    try:
        return db.session.scalar(select(func.count()).select_from(model))
    finally:
        db.session.commit()


def test_a_row_the_database_refuses_is_isolated_and_the_others_are_stored(ctx, receiver, caplog):
    subs = [subscribe(receiver.route(f"/r{i}")) for i in range(5)]
    sent = sent_attempts(publishing.publish("example.event", {"n": 1}))
    poison = sent[2]
    # A status beyond 64 bits: sqlite3 cannot bind it, PostgreSQL's INTEGER cannot hold it.
    poison.outcome = replace(poison.outcome, status_code=2**70, response="caf\xe9 \x00")
    quoted = sent[3]  # an error text quoting a lone surrogate: escaped before the insert
    quoted.outcome = replace(quoted.outcome, response="bad \ud800 text")
    legacy = sent[4]  # a payload stored before publications were checked
    legacy_data = {"k\ud800": "v\x00", "caf\xe9": 1}
    legacy.request = replace(legacy.request, event=replace(legacy.request.event, data=legacy_data))
    outcomes.record(sent)
    refusals = [r for r in caplog.records if r.getMessage().startswith("a row was refused")]
    assert len(refusals) == 1  # the status alone: the texts were escaped before the insert
    rows = {sub: logs_of(sub) for sub in subs}
    assert all(len(found) == 1 for found in rows.values())
    (stored,) = rows[poison.subscription_id]
    assert stored.success and stored.status_code is None  # the safe form: in range or none
    assert stored.response_data.isascii()
    assert escaping.unescape(stored.response_data) == "caf\xe9 \x00"
    (escaped,) = rows[quoted.subscription_id]
    assert escaping.unescape(escaped.response_data) == "bad \ud800 text"
    assert escaped.status_code == 200
    (kept,) = rows[legacy.subscription_id]
    assert json.loads(kept.serialized_data)["data"] == legacy_data and kept.status_code == 200
    states = db.session.scalars(select(Delivery.state)).all()
    assert states == [ChainState.DELIVERED] * 5
    assert search.count("success:true") == 5  # the safe row is indexed by its own fields
    assert search.count("data.data.n:1") == 3  # but not by its payload


def test_a_database_refusing_every_write_is_not_mistaken_for_a_bad_row(ctx, receiver, backend):
    for i in range(4):
        subscribe(receiver.route(f"/r{i}"))
    sent = sent_attempts(publishing.publish("example.event", {"n": 1}))
    transactions: list[object] = []
    refused = pytest.raises(Exception, match=r"read-only|readonly")
    with read_only_database(backend, transactions), refused:
        outcomes.record(sent)
    assert len(transactions) == 1  # one try: no split, no row stored in a "safe" form
    assert db.session.scalars(select(DeliveryLog)).all() == []
    leased = db.session.scalars(select(Delivery)).all()
    assert all(c.state == ChainState.PENDING and c.locked_until for c in leased)
    outcomes.record(sent)  # the database is back: the same attempts are stored, once each
    assert len(db.session.scalars(select(DeliveryLog)).all()) == 4


class read_only_database:
    """New connections refuse every write, as a database failed over to a replica does."""

    def __init__(self, backend: str, transactions: list[object]) -> None:
        self.engine = db.engine
        self.sql = (
            "PRAGMA query_only = ON"
            if backend == "sqlite"
            else "SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY"
        )
        self.transactions = transactions  # a connection checked out for each one

    def __enter__(self) -> None:
        db.session.commit()
        event.listen(self.engine, "connect", self._connect)
        event.listen(self.engine, "checkout", self._checkout)
        self.engine.dispose()

    def __exit__(self, *exc: object) -> None:
        db.session.rollback()
        event.remove(self.engine, "connect", self._connect)
        event.remove(self.engine, "checkout", self._checkout)
        self.engine.dispose()

    def _connect(self, driver, record) -> None:
        cursor = driver.cursor()
        cursor.execute(self.sql)
        cursor.close()
        driver.commit()

    def _checkout(self, driver, record, proxy) -> None:
        self.transactions.append(driver)
