"""The delivery pipeline in-process: publish, fan-out, outcomes, retries, dead letters."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from app import settings
from app.delivery import publishing
from app.extensions import db
from app.models import ChainState, DeadLetter, Delivery, DeliveryLog, Publication, Subscription
from app.usecases import subscriptions
from jobs.delivery import attempt_delivery, trigger_publication
from tests.receiver import Reply


def subscribe(url: str, event: str = "example.event", token: str = "supersecret", **kw) -> int:
    return subscriptions.create(event, url, token, **kw).subscription_id


def logs(uuid: str | None = None) -> list[DeliveryLog]:
    query = select(DeliveryLog).order_by(DeliveryLog.log_id)
    if uuid:
        query = query.where(DeliveryLog.uuid == uuid)
    return list(db.session.scalars(query))


def only_chain() -> Delivery:
    (chain,) = db.session.scalars(select(Delivery)).all()
    return chain


def test_publish_delivers_a_signed_cloudevent(ctx, receiver, jobs):
    url = receiver.route("/hook")
    subscribe(url, token="supersecret")
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    (got,) = receiver.wait_for(1, "/hook")
    body = got.json()
    (row,) = logs()
    assert body == {
        "specversion": "1.0",
        "id": row.uuid,
        "source": "0",
        "type": "example.event",
        "datacontenttype": "application/json",
        "data": {"first_name": "Rey"},
    }
    assert got.headers["content-type"].startswith("application/cloudevents+json")
    expected = hmac.new(b"supersecret", got.body, hashlib.sha256).hexdigest()
    assert got.headers["x-magento-signature"] == expected
    Webhook(b"supersecret").verify(got.body, got.headers)
    assert got.headers["webhook-id"] == row.uuid
    assert row.success and row.attempt == 1 and row.status_code == 200
    assert json.loads(row.serialized_data) == body
    assert only_chain().state == ChainState.DELIVERED


def test_legacy_payload_setting_sends_the_3x_body(ctx, receiver, jobs):
    subscribe(receiver.route("/legacy"))
    settings.set("legacy_payload", "true")
    publishing.publish("example.event", {"id": 7})
    jobs()
    (got,) = receiver.wait_for(1, "/legacy")
    assert got.json() == {"data": {"id": 7}}
    assert got.headers["content-type"].startswith("application/json")


@pytest.mark.parametrize(
    ("published_store", "expected_paths"),
    [(0, {"/s0", "/s1", "/s2"}), (1, {"/s1"}), (2, {"/s2"}), (3, set())],
)
def test_store_rule_of_the_original(ctx, receiver, jobs, published_store, expected_paths):
    for store in (0, 1, 2):
        subscribe(receiver.route(f"/s{store}"), store_id=store)
    publishing.publish("example.event", {"n": 1}, store_id=published_store)
    jobs()
    if expected_paths:
        receiver.wait_for(len(expected_paths))
    assert {r.path for r in receiver.received()} == expected_paths
    assert all(r.json()["source"] == str(published_store) for r in receiver.received())


def test_each_subscription_gets_its_own_chain_uuid_and_disabled_ones_none(ctx, receiver, jobs):
    a, b = subscribe(receiver.route("/a")), subscribe(receiver.route("/b"))
    subscriptions.set_status(subscribe(receiver.route("/off")), False)
    publishing.publish("example.event", {})
    jobs()
    got = receiver.wait_for(2)
    assert len({r.headers["webhook-id"] for r in got}) == 2
    assert {r.path for r in got} == {"/a", "/b"}
    assert {row.subscription_id for row in logs()} == {a, b}


def test_a_broken_sink_does_not_stop_the_others(ctx, receiver, jobs):
    bad = subscribe(receiver.route("/x"))
    db.session.get(Subscription, bad).sink = "carrier-pigeon"  # stored before validation existed
    db.session.commit()
    subscribe(receiver.route("/good"))
    publishing.publish("example.event", {})
    jobs()
    receiver.wait_for(1, "/good")
    failed = [row for row in logs() if not row.success]
    assert len(failed) == 1 and "unknown sink 'carrier-pigeon'" in failed[0].response_data
    assert not failed[0].retryable


def test_retryable_failure_schedules_retry_after_one_second(ctx, receiver, jobs):
    subscribe(receiver.route("/flaky", Reply(503, "busy"), Reply(200, "fine")))
    publishing.publish("example.event", {})
    jobs()
    chain = only_chain()
    first = logs()[0]
    assert not first.success and first.retryable and first.status_code == 503
    assert chain.state == ChainState.PENDING and chain.attempts == 1
    assert chain.next_attempt_at - first.created == timedelta(seconds=1)
    assert attempt_delivery(chain.id, 1)
    db.session.expire_all()
    assert [r.success for r in logs()] == [False, True]
    assert {r.uuid for r in logs()} == {chain.uuid}
    assert only_chain().state == ChainState.DELIVERED


def test_quadratic_backoff_and_dead_letter_after_max_deaths(ctx, receiver, jobs):
    subscribe(receiver.route("/down", Reply(503)))
    settings.set("max_deaths", 3)
    publishing.publish("example.event", {"x": 1})
    jobs()
    chain = only_chain()
    gaps = []
    for done in (1, 2, 3):
        db.session.refresh(chain)
        gaps.append((chain.next_attempt_at - logs()[-1].created).total_seconds())
        assert attempt_delivery(chain.id, done)
        db.session.expire_all()
    assert gaps == [1, 4, 9]
    rows = logs(chain.uuid)
    assert len(rows) == 4 and [r.attempt for r in rows] == [1, 2, 3, 4]
    assert only_chain().state == ChainState.DEAD
    (dead,) = db.session.scalars(select(DeadLetter)).all()
    assert (dead.uuid, dead.reason, dead.death_count) == (chain.uuid, "exhausted", 3)


def test_max_backoff_caps_the_wait(ctx, receiver, jobs):
    subscribe(receiver.route("/down", Reply(500)))
    settings.set("max_backoff", 3)
    publishing.publish("example.event", {})
    jobs()
    chain = only_chain()
    attempt_delivery(chain.id, 1)
    db.session.refresh(chain)
    assert (chain.next_attempt_at - logs()[-1].created).total_seconds() == 3


@pytest.mark.parametrize(("header", "wait"), [("7", 7), ("99999", 3600), ("soon", 1)])
def test_retry_after_replaces_the_wait_clamped(ctx, receiver, jobs, header, wait):
    subscribe(receiver.route("/slowdown", Reply(429, headers={"Retry-After": header})))
    publishing.publish("example.event", {})
    jobs()
    chain = only_chain()
    assert (chain.next_attempt_at - logs()[0].created).total_seconds() == wait


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent(ctx, receiver, jobs, status):
    subscribe(receiver.route("/nope", Reply(status)))
    publishing.publish("example.event", {})
    jobs()
    (row,) = logs()
    assert not row.success and not row.retryable and row.status_code == status
    assert only_chain().state == ChainState.DEAD
    assert db.session.scalars(select(DeadLetter.reason)).one() == "permanent"


def test_gone_disables_the_subscription_and_says_why(ctx, receiver, jobs):
    sub_id = subscribe(receiver.route("/gone", Reply(410, "bye")))
    publishing.publish("example.event", {})
    jobs()
    sub = db.session.get(Subscription, sub_id)
    assert sub.status is False and "410 Gone" in sub.disabled_reason
    assert only_chain().state == ChainState.DEAD


def test_refused_connection_and_timeout_are_logged_and_retried(ctx, receiver, jobs):
    subscribe("http://127.0.0.1:9/refused")  # the discard port: nothing listens
    subscribe(receiver.route("/sleepy", Reply(200, delay=8)))  # over the 5 s test timeout
    # Run only the fan-out: the timed-out chain's retry is already due when it is recorded.
    trigger_publication(publishing.publish("example.event", {}))
    rows = logs()
    assert len(rows) == 2 and all(not r.success and r.retryable for r in rows)
    assert all(r.status_code is None for r in rows)
    chains = db.session.scalars(select(Delivery)).all()
    assert all(c.state == ChainState.PENDING and c.attempts == 1 for c in chains)


def test_disabled_subscription_ends_the_chain_quietly(ctx, receiver, jobs):
    sub_id = subscribe(receiver.route("/flaky", Reply(503)))
    publishing.publish("example.event", {})
    jobs()
    subscriptions.set_status(sub_id, False)
    chain = only_chain()
    assert attempt_delivery(chain.id, 1)
    db.session.expire_all()
    assert len(logs()) == 1
    assert only_chain().state == ChainState.CANCELLED


def test_attempt_jobs_are_idempotent(ctx, receiver, jobs):
    subscribe(receiver.route("/flaky", Reply(503), Reply(200)))
    publishing.publish("example.event", {})
    jobs()
    chain = only_chain()
    assert attempt_delivery(chain.id, 1) is True
    assert attempt_delivery(chain.id, 1) is False  # a duplicate job: the count moved on
    db.session.expire_all()
    assert len(logs()) == 2 and len(receiver.received("/flaky")) == 2


def test_trigger_job_runs_once_per_publication(ctx, receiver, jobs):
    subscribe(receiver.route("/once"))
    pub_id = publishing.publish("example.event", {})
    jobs()
    assert trigger_publication(pub_id) == 0
    assert len(logs()) == 1 and len(receiver.received("/once")) == 1


def test_resolver_failure_is_recorded_on_the_publication(ctx, receiver, jobs):
    subscribe(receiver.route("/tz"), event="timezone.lookup")
    good = publishing.publish("timezone.lookup", {"name": "Australia/Melbourne"})
    bad = publishing.publish("timezone.lookup", {"name": "Mars/Olympus_Mons"})
    jobs()
    assert db.session.get(Publication, good).state == "dispatched"
    failed = db.session.get(Publication, bad)
    assert failed.state == "failed" and "Mars/Olympus_Mons" in failed.error
    (got,) = receiver.wait_for(1, "/tz")
    assert got.json()["data"]["name"] == "Australia/Melbourne"


def test_publish_rejects_unknown_events_and_bad_arguments(ctx):
    with pytest.raises(publishing.PublishError, match=r"known events: .*example\.event"):
        publishing.publish("no.such.event", {})
    with pytest.raises(publishing.PublishError, match="JSON object"):
        publishing.publish("example.event", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(publishing.PublishError, match="store_id"):
        publishing.publish("example.event", {}, store_id=-1)
    assert db.session.scalars(select(Publication)).all() == []
