"""The nats sink against the real NATS with JetStream: acks, duplicates, refusals, outages."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple

import nats
import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Subscription
from app.sinks import DeliveryRequest, Envelope, recipient_address, validate_recipient
from app.sinks.nats.sink import NatsSink, build
from app.usecases import subscriptions
from jobs.delivery import attempt_delivery
from tests import tls as test_tls
from tests.sinks.nats_broker import (
    DISCARD_NEW,
    NATS,
    NATS_URL,
    Stream,
    free_port,
    make_stream,
    own_server,
    require_broker,
    run_apart,
)
from tests.sinks.tcp_proxy import TcpProxy

LOOPBACK = ["127.0.0.0/8"]


@pytest.fixture
def broker() -> None:
    require_broker()


@pytest.fixture
def new_stream(broker: None) -> Iterator[Callable[..., Stream]]:
    """Make uniquely named streams on the shared broker; each is deleted after the test."""
    made: list[Stream] = []

    def make(**limits) -> Stream:
        made.append(make_stream(**limits))
        return made[-1]

    yield make
    for stream in made:
        stream.delete()


@pytest.fixture
def make_sink() -> Iterator[Callable[..., NatsSink]]:
    """Build nats sinks as the app does; their pooled connections are closed after."""
    built: list[NatsSink] = []

    def make(total: float = 5.0, allowed: list[str] = LOOPBACK, **config) -> NatsSink:
        config.update(DELIVERY_TOTAL_TIMEOUT=total, DELIVERY_ALLOWED_NETWORKS=allowed)
        built.append(build(config))
        return built[-1]

    yield make
    for sink in built:
        sink.close()


def request(recipient: str, data: object = None) -> DeliveryRequest:
    event = Envelope(str(uuid.uuid4()), "1", "example.event", data or {"first_name": "Rey"})
    return DeliveryRequest(recipient, ("ignored",), event)


def recipient(stream: Stream, address: str = "127.0.0.1:4222", auth: str = "") -> str:
    return f"nats://{auth}{address}/{stream.subject}"


def read_event(msg):
    """What a consumer with the CloudEvents SDK makes of a message: no custom code.

    The NATS binding's headers are the HTTP binding's (``ce-`` attributes in binary
    mode, ``Content-Type: application/cloudevents...`` in structured mode), so the
    SDK's HTTP reader, which tells the modes apart the same way, reads a NATS message.
    """
    return from_http_event(HTTPMessage(dict(msg.headers), msg.data))


def test_delivers_a_structured_cloudevent_the_sdk_reads(new_stream, make_sink):
    stream = new_stream()
    sent = request(recipient(stream), {"emoji": "é🎉", "n": 1})
    outcome = make_sink().deliver(sent)
    assert (outcome.success, outcome.status_code) == (True, None) and outcome.duration_ms >= 0
    assert json.loads(outcome.response) == {"stream": stream.name, "seq": 1}
    (msg,) = stream.messages()
    assert json.loads(msg.data) == sent.event.to_dict()  # exactly what the log stores
    assert msg.headers["Nats-Msg-Id"] == sent.event.id
    assert msg.headers["Content-Type"].startswith("application/cloudevents+json")
    event = read_event(msg)
    assert (event.get_id(), event.get_type(), event.get_source()) == (
        sent.event.id,
        "example.event",
        "1",
    )
    assert event.get_data() == {"emoji": "é🎉", "n": 1}


def test_a_resend_is_acked_as_a_duplicate_and_stored_once(new_stream, make_sink):
    stream = new_stream()
    sink, sent = make_sink(), request(recipient(stream))
    first, again = sink.deliver(sent), sink.deliver(sent)
    assert first.success and again.success
    assert json.loads(again.response) == {"stream": stream.name, "seq": 1, "duplicate": True}
    assert [read_event(m).get_id() for m in stream.messages()] == [sent.event.id]


def test_threads_share_one_sink_each_on_its_own_pooled_connection(new_stream, make_sink):
    stream = new_stream()
    sink, sent = make_sink(), [request(recipient(stream)) for _ in range(400)]
    with ThreadPoolExecutor(16) as pool:
        outcomes = list(pool.map(sink.deliver, sent))
    assert all(outcome.success for outcome in outcomes)
    assert sorted(json.loads(o.response)["seq"] for o in outcomes) == list(range(1, 401))
    (idle,) = sink.pool._idle.values()
    assert 1 <= len(idle) <= 16  # reused, never more than one per thread
    stored = {read_event(m).get_id() for m in stream.messages()}
    assert stored == {r.event.id for r in sent}


def test_a_subject_no_stream_captures_is_permanent(broker, make_sink):
    subject = f"nowhere.{uuid.uuid4().hex}"
    outcome = make_sink().deliver(request(f"nats://127.0.0.1:4222/{subject}"))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 503)
    assert outcome.response == f"no JetStream stream captures subject {subject} (503 no responders)"


def test_a_full_stream_is_retryable(new_stream, make_sink):
    stream = new_stream(max_msgs=1, discard=DISCARD_NEW)
    sink = make_sink()
    assert sink.deliver(request(recipient(stream))).success
    outcome = sink.deliver(request(recipient(stream)))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, 503)
    assert "maximum messages exceeded" in json.loads(outcome.response)["error"]["description"]
    assert len(stream.messages()) == 1


def test_an_event_over_the_streams_size_limit_is_permanent(new_stream, make_sink):
    stream = new_stream(max_msg_size=200)
    outcome = make_sink().deliver(request(recipient(stream), {"text": "x" * 300}))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 400)
    assert "message size exceeds maximum allowed" in outcome.response


@pytest.mark.parametrize(
    ("options", "admin", "good", "bad"),
    [
        (("--user", "shop", "--pass", "s3cret"), "shop:s3cret@", "shop:s3cret@", "shop:nope@"),
        (("--auth", "t0ken-xyz"), "t0ken-xyz@", ":t0ken-xyz@", ":wrong-token@"),  # nats-py: no :
    ],
)
def test_credentials_are_sent_and_a_refused_one_is_permanent(
    tmp_path, make_sink, options, admin, good, bad
):
    with own_server(tmp_path, *options) as port:
        stream = make_stream(f"nats://{admin}127.0.0.1:{port}", max_msgs=10)
        sink = make_sink()
        assert sink.deliver(request(recipient(stream, f"127.0.0.1:{port}", good))).success
        for auth in (bad, ""):
            outcome = sink.deliver(request(recipient(stream, f"127.0.0.1:{port}", auth)))
            assert (outcome.success, outcome.retryable) == (False, False)
            assert outcome.response == "the NATS server refused: Authorization Violation"
        assert len(stream.messages()) == 1


def test_credentials_never_appear_in_a_failure(make_sink):
    port = free_port()
    outcome = make_sink().deliver(request(f"nats://shop:s3cret@127.0.0.1:{port}/a.b"))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert "cannot connect to 127.0.0.1" in outcome.response and "s3cret" not in outcome.response


def test_a_forbidden_address_is_never_dialled(broker, make_sink):
    outcome = make_sink(allowed=[]).deliver(request("nats://127.0.0.1:4222/a.b"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == "refused to deliver to 127.0.0.1: a loopback address"


def test_a_dropped_pooled_connection_is_replaced(new_stream, make_sink):
    stream = new_stream()
    with TcpProxy(NATS) as proxy:
        sink = make_sink()
        assert sink.deliver(request(recipient(stream, proxy.address))).success
        proxy.cut()  # the pooled connection is dead; the next delivery must not fail for it
        assert sink.deliver(request(recipient(stream, proxy.address))).success
    assert len(stream.messages()) == 2


@pytest.mark.parametrize("pooled", [False, True])
def test_a_connection_cut_mid_delivery_is_retryable_and_nothing_is_lost(
    new_stream, make_sink, pooled
):
    stream = new_stream()
    with TcpProxy(NATS) as proxy:
        sink = make_sink()
        if pooled:
            assert sink.deliver(request(recipient(stream, proxy.address))).success
        sent = request(recipient(stream, proxy.address))
        proxy.freeze()
        with ThreadPoolExecutor(1) as pool:
            attempt = pool.submit(sink.deliver, sent)
            time.sleep(0.5)
            proxy.refuse()  # the broker is gone, and stays gone for the reconnect
            outcome = attempt.result()
        assert (outcome.success, outcome.retryable) == (False, True)
        # reset while talking, or (the reconnect, pooled case) while connecting: not a timeout
        assert outcome.response.startswith(("connection lost", "cannot connect to"))
        assert outcome.duration_ms < 2000
        proxy.restore()
        assert sink.deliver(sent).success
    assert [read_event(m).get_id() for m in stream.messages()][-1] == sent.event.id


@pytest.mark.parametrize("pooled", [False, True])
def test_a_frozen_broker_ends_the_attempt_at_the_deadline(new_stream, make_sink, pooled):
    stream = new_stream()
    with TcpProxy(NATS) as proxy:
        sink = make_sink(total=2.0)
        if pooled:
            assert sink.deliver(request(recipient(stream, proxy.address))).success
        proxy.freeze()
        started = time.monotonic()
        outcome = sink.deliver(request(recipient(stream, proxy.address)))
        assert 1.9 <= time.monotonic() - started < 2.5
        assert (outcome.success, outcome.retryable) == (False, True)
        assert outcome.response == "timed out after 2.0 s"


def only_chain() -> Delivery:
    (chain,) = db.session.scalars(select(Delivery)).all()
    return chain


def test_publish_outlives_a_broker_outage_and_lands_once(ctx, jobs, new_stream):
    stream = new_stream()
    with TcpProxy(NATS) as proxy:
        subscriptions.create("example.event", recipient(stream, proxy.address), "t", sink="nats")
        proxy.refuse()
        publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
        jobs()
        chain = only_chain()
        (failed,) = db.session.scalars(select(DeliveryLog))
        assert (failed.success, failed.retryable) == (False, True)
        assert chain.state == ChainState.PENDING
        proxy.restore()
        assert attempt_delivery(chain.id, 1)
    db.session.expire_all()
    rows = db.session.scalars(select(DeliveryLog).order_by(DeliveryLog.log_id)).all()
    assert [r.success for r in rows] == [False, True]
    assert only_chain().state == ChainState.DELIVERED
    (msg,) = stream.messages()
    assert json.loads(msg.data) == {
        "specversion": "1.0",
        "id": chain.uuid,
        "source": "0",
        "type": "example.event",
        "datacontenttype": "application/json",
        "data": {"first_name": "Rey"},
    }
    assert read_event(msg).get_id() == chain.uuid
    assert json.loads(rows[1].response_data) == {"stream": stream.name, "seq": 1}


def test_a_recipient_password_is_kept_apart_and_used(ctx, jobs, tmp_path):
    with own_server(tmp_path, "--user", "shop", "--pass", "s3cret") as port:
        stream = make_stream(f"nats://shop:s3cret@127.0.0.1:{port}")
        url = recipient(stream, f"127.0.0.1:{port}", "shop:s3cret@")
        subscriptions.create("example.event", url, "t", sink="nats")
        publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
        jobs()
        (msg,) = stream.messages()
    (sub,) = db.session.scalars(select(Subscription))
    assert "s3cret" not in sub.recipient_url and sub.recipient_secret == "s3cret"
    (row,) = db.session.scalars(select(DeliveryLog))
    assert row.success and read_event(msg).get_id() == row.uuid


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("nats://127.0.0.1:4222/orders", True),
        ("nats://broker.example/orders.created", True),
        ("nats://shop:s3cret@broker.example:4223/shop.orders.v1", True),
        ("nats://:t0ken@broker.example/orders", True),
        ("nats://[::1]:4222/orders", True),
        ("nats://t0ken@broker.example/orders", False),  # a bare token would be stored in clear
        ("nats://broker.example/", False),
        ("nats://broker.example", False),
        ("nats://broker.example/orders.*", False),
        ("nats://broker.example/orders.>", False),
        ("nats://broker.example/orders..created", False),
        ("nats://broker.example/orders.", False),
        ("nats://broker.example/orders created", False),
        ("nats://broker.example/orders%20x", False),
        ("nats://broker.example/orders?stream=x", False),
        ("nats://broker.example:notaport/orders", False),
        ("nats:///orders", False),
        ("tls://shop:pw@broker.example/orders", True),
        ("https://broker.example/orders", False),
        ("nats+tls://broker.example/orders", False),
    ],
)
def test_validate_recipient(url, ok):
    error = validate_recipient("nats", url)
    assert (error is None) is ok, error
    assert ok or "expected nats://[user:password@ | :token@]host[:port]/SUBJECT (tls://" in error


def test_the_address_checked_at_subscription_is_the_one_dialled():
    assert recipient_address("nats", "nats://shop:pw@broker.example/a") == ("broker.example", 4222)
    assert recipient_address("nats", "nats://10.0.0.7:4333/a") == ("10.0.0.7", 4333)


def test_the_sink_is_registered_without_connecting(app):
    sink = app.extensions["sinks"]["nats"]
    assert isinstance(sink, NatsSink) and sink.pool._idle == {}


def test_an_event_over_the_servers_max_payload_is_refused_unsent(tmp_path, make_sink):
    config = tmp_path / "small.conf"
    config.write_text("max_payload: 512\n")
    with own_server(tmp_path, "-c", str(config)) as port:
        stream = make_stream(f"nats://127.0.0.1:{port}")
        url = recipient(stream, f"127.0.0.1:{port}")
        outcome = make_sink().deliver(request(url, {"text": "x" * 600}))
        assert (outcome.success, outcome.retryable) == (False, False)
        assert outcome.response.endswith("bytes; the server takes at most 512")
        assert make_sink().deliver(request(url)).success  # the limit is the server's, read live
        assert len(stream.messages()) == 1


def test_a_core_subscriber_answering_is_not_an_ack(broker, make_sink):
    subject = f"service.{uuid.uuid4().hex}"

    async def answer(msg) -> None:
        await msg.respond(b"hello")

    async def main():
        conn = await nats.connect(NATS_URL)
        await conn.subscribe(subject, cb=answer)
        await conn.flush()
        url = f"nats://127.0.0.1:4222/{subject}"
        try:
            return await asyncio.to_thread(make_sink().deliver, request(url))
        finally:
            await conn.close()

    outcome = run_apart(main())
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == (
        f"subject {subject} was answered by a NATS subscriber, not by a JetStream stream"
    )


def test_a_pooled_connection_the_server_found_stale_is_replaced(tmp_path, make_sink):
    """Idle in the pool, a connection answers no PINGs; the server ends it as stale."""
    config = tmp_path / "pings.conf"
    config.write_text('ping_interval: "200ms"\nping_max: 1\n')
    with own_server(tmp_path, "-c", str(config)) as port:
        stream = make_stream(f"nats://127.0.0.1:{port}")
        url, sink = recipient(stream, f"127.0.0.1:{port}"), make_sink()
        assert sink.deliver(request(url)).success
        time.sleep(1.0)  # the server sends "-ERR 'Stale Connection'" and hangs up
        outcome = sink.deliver(request(url))
        assert outcome.success, outcome.response
        assert len(stream.messages()) == 2


def test_tls_is_started_when_asked_or_required_and_the_certificate_checked(tmp_path, make_sink):
    ca, cert, key = astuple(test_tls.issue(tmp_path))
    options = ("--tls", "--tlscert", str(cert), "--tlskey", str(key))
    with own_server(tmp_path, *options) as port:
        trust = ssl.create_default_context(cafile=str(ca))
        stream = make_stream(f"tls://127.0.0.1:{port}", trust)
        sink = make_sink(NATS_TLS_CA_FILE=str(ca))
        for scheme in ("tls", "nats"):  # the server requires TLS: nats:// gets it too
            url = f"{scheme}://127.0.0.1:{port}/{stream.subject}"
            assert sink.deliver(request(url)).success
        untrusting = make_sink().deliver(request(f"tls://127.0.0.1:{port}/{stream.subject}"))
        assert (untrusting.success, untrusting.retryable) == (False, True)
        assert untrusting.response.startswith("TLS error:")
        assert "CERTIFICATE_VERIFY_FAILED" in untrusting.response
        assert len(stream.messages()) == 2


def test_tls_asked_of_a_server_without_it_is_permanent(broker, make_sink):
    outcome = make_sink().deliver(request("tls://127.0.0.1:4222/a.b"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == "the recipient asks for TLS (tls://) but the server offers none"


def test_an_unreadable_ca_file_stops_the_build():
    with pytest.raises(ValueError, match="NATS_TLS_CA_FILE '/nonexistent\\.pem' is not a readable"):
        build({"NATS_TLS_CA_FILE": "/nonexistent.pem"})
