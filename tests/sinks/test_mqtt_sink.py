"""The mqtt sink against real Mosquitto brokers: binding, acks, outages, credentials, deadline."""

from __future__ import annotations

import json
import os
import queue
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.reasoncodes import ReasonCode
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import Delivery, DeliveryLog
from app.sinks import DeliveryRequest, Envelope, recipient_address, validate_recipient
from app.sinks.addresses import networks
from app.sinks.mqtt.client import retryable
from app.sinks.mqtt.sink import MqttSink
from app.usecases import subscriptions
from jobs.delivery import attempt_delivery
from tests.sinks.mqtt_brokers import (
    MOSQUITTO,
    SHARED,
    Consumer,
    PrivateMosquitto,
    cloudevent,
    reachable,
)
from tests.sinks.tcp_proxy import TcpProxy

LOOPBACK = networks(["127.0.0.0/8"])


@pytest.fixture(scope="module", autouse=True)
def mosquitto() -> None:
    """The shared Mosquitto must be up: CI fails without it, a laptop skips."""
    if not reachable(SHARED):
        if os.environ.get("CI"):
            pytest.fail(f"Mosquitto is not reachable at {SHARED} (CI needs it)")
        pytest.skip("Mosquitto not reachable")


@pytest.fixture
def consumer() -> Iterator[Consumer]:
    c = Consumer()
    yield c
    c.close()


@pytest.fixture
def sink() -> Iterator[MqttSink]:
    s = MqttSink(total_timeout=5.0, allowed_networks=LOOPBACK)
    yield s
    s.close()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy(SHARED) as p:
        yield p


def request(recipient: str, data: object = None) -> DeliveryRequest:
    event = Envelope(str(uuid.uuid4()), "1", "sales.order.created", data or {"first_name": "Rey"})
    return DeliveryRequest(recipient, ("ignored",), event)


@pytest.mark.parametrize("qos", [1, 2])
def test_the_consumer_reads_the_cloudevent_with_the_sdk(sink, consumer, qos):
    sent = request(f"mqtt://127.0.0.1:1883/{consumer.topic}?qos={qos}", {"emoji": "é🎉", "n": 1})
    outcome = sink.deliver(sent)
    assert outcome.success, outcome.response
    message = consumer.next()
    assert message.qos == qos
    assert message.properties.ContentType == "application/json"
    assert dict(message.properties.UserProperty) == {
        "specversion": "1.0",
        "id": sent.event.id,
        "source": "1",
        "type": "sales.order.created",
    }
    event = cloudevent(message)
    assert event.get_id() == sent.event.id and event.get_type() == "sales.order.created"
    assert event.get_data() == {"emoji": "é🎉", "n": 1}
    assert json.loads(outcome.response) == {
        "topic": consumer.topic,
        "qos": qos,
        "reason_code": 0,
        "reason": "Success",
    }


def test_no_subscriber_is_still_a_delivery(sink):
    outcome = sink.deliver(request(f"mqtt://127.0.0.1:1883/nobody/{uuid.uuid4().hex}"))
    assert outcome.success and json.loads(outcome.response)["reason_code"] == 0x10


def test_one_connection_serves_many_threads(sink, consumer, proxy):
    url = f"mqtt://{proxy.address}/{consumer.topic}"
    sent = [request(url) for _ in range(40)]
    threads = [threading.Thread(target=lambda r=r: outcomes.append(sink.deliver(r))) for r in sent]
    outcomes: list = []
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(o.success for o in outcomes) and len(outcomes) == 40
    got = {cloudevent(consumer.next()).get_id() for _ in sent}
    assert got == {r.event.id for r in sent}
    assert len(proxy._pairs) == 1  # one broker connection, pooled


def test_a_refused_connection_is_retryable(sink, proxy):
    proxy.refuse()
    outcome = sink.deliver(request(f"mqtt://{proxy.address}/t"))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert outcome.response.startswith(f"mqtt://{proxy.address}: ")


def test_a_cut_during_delivery_is_retryable_and_the_next_one_reconnects(sink, consumer, proxy):
    url = f"mqtt://{proxy.address}/{consumer.topic}"
    assert sink.deliver(request(url)).success
    consumer.next()
    proxy.freeze()
    threading.Timer(0.3, proxy.cut).start()
    threading.Timer(0.4, proxy.restore).start()
    lost = sink.deliver(request(url))
    assert (lost.success, lost.retryable) == (False, True)
    assert "connection was lost" in lost.response and lost.duration_ms < 2000
    again = request(url)
    assert sink.deliver(again).success
    assert cloudevent(consumer.next()).get_id() == again.event.id


@pytest.mark.parametrize("frozen_from_start", [False, True])
def test_a_frozen_broker_ends_the_attempt_at_the_deadline(consumer, proxy, frozen_from_start):
    sink = MqttSink(total_timeout=1.5, allowed_networks=LOOPBACK)
    url = f"mqtt://{proxy.address}/{consumer.topic}"
    if not frozen_from_start:
        assert sink.deliver(request(url)).success
    proxy.freeze()
    started = time.monotonic()
    outcome = sink.deliver(request(url))
    took = time.monotonic() - started
    assert (outcome.success, outcome.retryable) == (False, True)
    assert "timed out after 1.5 s" in outcome.response
    assert 1.4 < took < 2.5, took
    proxy.restore()
    assert sink.deliver(request(url)).success  # the hung link was dropped for a new one
    sink.close()


def test_many_deliveries_on_a_frozen_link_all_end_at_the_deadline(consumer, proxy):
    url = f"mqtt://{proxy.address}/{consumer.topic}"
    with MqttSink(total_timeout=1.0, allowed_networks=LOOPBACK) as sink:
        assert sink.deliver(request(url)).success
        proxy.freeze()
        with ThreadPoolExecutor(16) as pool:
            outcomes = list(pool.map(sink.deliver, [request(url) for _ in range(16)]))
        assert all((o.success, o.retryable) == (False, True) for o in outcomes)
        assert all(900 < o.duration_ms < 2000 for o in outcomes), [o.duration_ms for o in outcomes]
        proxy.restore()
        assert sink.deliver(request(url)).success


def test_a_connect_that_hangs_ends_at_the_deadline():
    with socket.create_server(("127.0.0.1", 0), backlog=0) as server:
        port = server.getsockname()[1]
        with socket.create_connection(("127.0.0.1", port)):  # fills the backlog: SYNs drop
            sink = MqttSink(connect_timeout=5.0, total_timeout=1.0, allowed_networks=LOOPBACK)
            outcome = sink.deliver(request(f"mqtt://127.0.0.1:{port}/t"))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert "connect timed out" in outcome.response and 900 < outcome.duration_ms < 1500


def test_loopback_is_refused_unless_allowed(consumer):
    outcome = MqttSink().deliver(request(f"mqtt://127.0.0.1:1883/{consumer.topic}"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "a loopback address" in outcome.response


@pytest.fixture(scope="module")
def private(tmp_path_factory) -> Iterator[PrivateMosquitto]:
    """Our own Mosquitto (passwords, ACL, 4 KiB packets, TLS); CI fails without the binary."""
    if not MOSQUITTO:
        if os.environ.get("CI"):
            pytest.fail("the mosquitto binary is missing (CI needs it)")
        pytest.skip("the mosquitto binary is missing")
    broker = PrivateMosquitto(tmp_path_factory.mktemp("mosquitto"), "shop", "pa:ss w0rd", 4096)
    yield broker
    broker.stop()


@pytest.mark.parametrize("userinfo", ["shop:wrong@", "", "nobody:x@"])
def test_a_refused_login_is_permanent_with_the_brokers_reason(private, userinfo):
    reason = "Not authorized (0x87)"  # Mosquitto 2.0 says so for a bad password too
    with MqttSink(allowed_networks=LOOPBACK) as sink:
        outcome = sink.deliver(request(f"mqtt://{userinfo}127.0.0.1:{private.port}/allowed/x"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == (
        f"mqtt://127.0.0.1:{private.port}: the broker refused the connection: {reason}"
    )
    assert "wrong" not in outcome.response


@pytest.mark.parametrize(
    ("packet", "code", "retries"),
    [
        (PacketTypes.CONNACK, 0x86, False),  # bad user name or password
        (PacketTypes.CONNACK, 0x87, False),  # not authorized
        (PacketTypes.CONNACK, 0x88, True),  # server unavailable
        (PacketTypes.CONNACK, 0x89, True),  # server busy
        (PacketTypes.PUBACK, 0x80, True),  # unspecified error
        (PacketTypes.PUBACK, 0x87, False),  # not authorized
        (PacketTypes.PUBACK, 0x90, False),  # topic name invalid
        (PacketTypes.PUBACK, 0x97, True),  # quota exceeded
        (PacketTypes.PUBACK, 0x99, False),  # payload format invalid
    ],
)
def test_reason_codes_retry_only_when_a_later_attempt_may_pass(packet, code, retries):
    assert retryable(ReasonCode(packet, identifier=code)) is retries


@pytest.mark.parametrize("qos", [1, 2])
def test_a_topic_the_acl_denies_is_refused_permanently(private, qos):
    with MqttSink(allowed_networks=LOOPBACK) as sink:
        base = f"mqtt://shop:pa%3Ass%20w0rd@127.0.0.1:{private.port}"
        assert sink.deliver(request(f"{base}/allowed/x?qos={qos}")).success
        outcome = sink.deliver(request(f"{base}/forbidden/x?qos={qos}"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == (
        f"mqtt://127.0.0.1:{private.port}: "
        "the broker refused the message to 'forbidden/x': Not authorized (0x87)"
    )
    assert "w0rd" not in outcome.response


def test_mqtts_verifies_the_broker_against_the_trusted_cas(private, monkeypatch):
    url = f"mqtts://shop:pa%3Ass%20w0rd@127.0.0.1:{private.tls_port}/allowed/x"
    with MqttSink(allowed_networks=LOOPBACK) as sink:
        untrusted = sink.deliver(request(url))
    assert (untrusted.success, untrusted.retryable) == (False, True)
    assert "CERTIFICATE_VERIFY_FAILED" in untrusted.response and "w0rd" not in untrusted.response
    monkeypatch.setenv("SSL_CERT_FILE", str(private.ca_file))
    with MqttSink(allowed_networks=LOOPBACK) as sink:
        assert sink.deliver(request(url)).success


def test_an_event_over_the_brokers_packet_limit_is_permanent(private):
    with MqttSink(allowed_networks=LOOPBACK) as sink:
        url = f"mqtt://shop:pa%3Ass%20w0rd@127.0.0.1:{private.port}/allowed/x"
        outcome = sink.deliver(request(url, {"blob": "x" * 5000}))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "the broker takes at most 4096" in outcome.response


def test_a_broker_outage_is_retried_and_nothing_is_lost(ctx, jobs, consumer, proxy):
    subscriptions.create(
        "example.event", f"mqtt://{proxy.address}/{consumer.topic}", "t", sink="mqtt"
    )
    proxy.refuse()
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    (failed,) = db.session.scalars(select(DeliveryLog))
    assert not failed.success and failed.retryable and "connection" in failed.response_data
    proxy.restore()
    (chain,) = db.session.scalars(select(Delivery))
    assert attempt_delivery(chain.id, 1)
    db.session.expire_all()
    rows = list(db.session.scalars(select(DeliveryLog).order_by(DeliveryLog.log_id)))
    assert [r.success for r in rows] == [False, True]
    event = cloudevent(consumer.next())
    assert event.get_id() == chain.uuid == rows[1].uuid
    assert event.get_source() == "0" and event.get_data() == {"first_name": "Rey"}
    assert json.loads(rows[1].serialized_data) == {
        "specversion": "1.0",
        "id": chain.uuid,
        "source": "0",
        "type": "example.event",
        "datacontenttype": "application/json",
        "data": {"first_name": "Rey"},
    }
    with pytest.raises(queue.Empty):  # exactly one message: nothing re-sent twice
        consumer.next(timeout=0.5)


def test_a_recipient_with_a_password_delivers_and_keeps_it_out_of_sight(ctx, jobs, private):
    consumer = Consumer(("127.0.0.1", private.port), ("shop", "pa:ss w0rd"), prefix="allowed")
    url = f"mqtt://shop:pa%3Ass%20w0rd@127.0.0.1:{private.port}/{consumer.topic}?qos=2"
    created = subscriptions.create("example.event", url, "t", sink="mqtt")
    assert "w0rd" not in created.recipient_url
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    (row,) = db.session.scalars(select(DeliveryLog))
    assert row.success, row.response_data
    assert cloudevent(consumer.next()).get_id() == row.uuid
    consumer.close()


@pytest.mark.parametrize(
    ("recipient", "ok"),
    [
        ("mqtt://broker.example.com/shop/orders", True),
        ("mqtts://user:secret@broker.example.com:8884/a/b/c?qos=2", True),
        ("mqtt://broker.example.com//leading/slash?qos=1", True),
        ("mqtt://broker.example.com/", False),
        ("mqtt://broker.example.com", False),
        ("mqtt://broker.example.com/a/+/c", False),
        ("mqtt://broker.example.com/a/#", False),
        ("mqtt://broker.example.com/$SYS/x", False),
        ("mqtt://broker.example.com/t?qos=0", False),
        ("mqtt://broker.example.com/t?qos=3", False),
        ("mqtt://broker.example.com/t?retain=1", False),
        ("mqtt://broker.example.com/t#frag", False),
        ("mqtt:///no-host/t", False),
        ("mqtt://broker.example.com:99999/t", False),
        ("mqtt://broker.example.com:0/t", False),
        ("http://broker.example.com/t", False),
        ("shop/orders", False),
    ],
)
def test_validate_recipient(recipient, ok):
    error = validate_recipient("mqtt", recipient)
    assert (error is None) is ok, error
    assert ok or "mqtt[s]://[user[:password]@]host[:port]/topic/levels[?qos=1|2]" in error


@settings(max_examples=300, deadline=None)
@given(st.text() | st.from_regex(r"mqtts?://[^/]*/.*", fullmatch=True))
def test_any_recipient_is_judged_without_raising(recipient):
    if validate_recipient("mqtt", recipient) is None:
        host, port = recipient_address("mqtt", recipient)
        assert host and 0 < port < 65536


def test_a_refused_recipient_does_not_show_its_password():
    error = validate_recipient("mqtt", "mqtt://shop:s3cret@broker.example.com/a/#")
    assert "s3cret" not in error and "wildcards" in error


@pytest.mark.parametrize(
    ("recipient", "address"),
    [
        ("mqtt://broker.example.com/t", ("broker.example.com", 1883)),
        ("mqtts://broker.example.com/t", ("broker.example.com", 8883)),
        ("mqtts://u:p@[::1]:9000/t", ("::1", 9000)),
    ],
)
def test_address_is_the_broker(recipient, address):
    assert recipient_address("mqtt", recipient) == address
