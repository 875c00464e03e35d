"""The rabbitmq sink against the real RabbitMQ: confirms, refusals, outages, deadlines, pooling."""

from __future__ import annotations

import json
import logging
import socket
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from pika import exceptions as amqp
from pika.adapters.blocking_connection import BlockingChannel
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Subscription
from app.net.deadline import Watchdog
from app.sinks import DeliveryRequest, Envelope, validate_recipient
from app.sinks.addresses import networks
from app.sinks.rabbitmq.pool import LinkPool
from app.sinks.rabbitmq.recipient import address, parse
from app.sinks.rabbitmq.sink import CONTENT_TYPE, RabbitMqSink, failure
from app.usecases import subscriptions
from jobs.delivery import attempt_delivery
from tests.sinks.rabbitmq_broker import BROKER, Route, admin_connection, connections_to
from tests.sinks.tcp_proxy import TcpProxy
from tests.support import wait_until

LOOPBACK = networks(["127.0.0.0/8"])


@pytest.fixture
def admin() -> Iterator[BlockingChannel]:
    connection = admin_connection()
    yield connection.channel()
    connection.close()


@pytest.fixture
def route(admin: BlockingChannel) -> Iterator[Route]:
    """This test's own exchange and queue, declared, and deleted afterwards."""
    declared = Route(admin).declare()
    yield declared
    declared.delete()


@pytest.fixture
def sink() -> Iterator[RabbitMqSink]:
    built = RabbitMqSink(5.0, LOOPBACK)
    yield built
    built.close()


@pytest.fixture
def proxy() -> Iterator[TcpProxy]:
    with TcpProxy(BROKER) as tcp:
        yield tcp


def request(recipient: str, data: object = None) -> DeliveryRequest:
    payload = {"order": 1, "name": "Rey é🎉"} if data is None else data
    event = Envelope(str(uuid.uuid4()), "1", "sales.order.created", payload)
    return DeliveryRequest(recipient, ("ignored",), event)


def test_publishes_a_persistent_structured_cloudevent_once_confirmed(sink, route):
    sent = request(route.url())
    outcome = sink.deliver(sent)
    assert (outcome.success, outcome.status_code) == (True, None)
    assert route.exchange in outcome.response and outcome.duration_ms >= 0
    ((properties, body),) = route.received()
    assert properties.delivery_mode == 2 and properties.content_type == CONTENT_TYPE
    assert properties.message_id == sent.event.id
    assert json.loads(body) == sent.event.to_dict()  # exactly what the log stores
    assert b" " not in body.replace(b"Rey ", b"") and "é🎉".encode() in body  # compact UTF-8


def test_a_cloudevents_sdk_reads_the_message_with_no_custom_code(sink, route):
    sent = request(route.url(), {"sku": "24-MB01", "qty": 2})
    assert sink.deliver(sent).success
    (event,) = route.events()
    attributes = (event.get_id(), event.get_source(), event.get_type(), event.get_specversion())
    assert attributes == (sent.event.id, "1", "sales.order.created", "1.0")
    assert event.get_data() == {"sku": "24-MB01", "qty": 2}


@pytest.mark.parametrize("vhost", ["/%2F", "/", ""])
def test_the_default_vhost_may_be_written_encoded_or_left_out(sink, route, vhost):
    url = f"amqp://guest:guest@127.0.0.1{vhost}?exchange={route.exchange}&routing_key=order.placed"
    assert sink.deliver(request(url)).success
    assert len(route.received()) == 1


def test_unroutable_is_permanent_and_the_link_is_kept(sink, route):
    assert sink.deliver(request(route.url())).success
    outcome = sink.deliver(request(route.url(routing_key="nobody.listens")))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == (
        f"unroutable (312 NO_ROUTE): no queue is bound to exchange {route.exchange!r}"
        " for routing key 'nobody.listens'"
    )
    assert len(route.received()) == 1
    assert sink.deliver(request(route.url())).success and sink.pool.opened == 1


def test_a_missing_exchange_is_permanent(sink, route):
    missing = f"ae-test-missing-{uuid.uuid4().hex}"
    outcome = sink.deliver(request(route.url(exchange=missing)))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == (
        f"the broker closed the channel: 404 NOT_FOUND - no exchange '{missing}' in vhost '/'"
    )
    assert sink.deliver(request(route.url())).success  # the broken channel was not pooled


def test_a_refused_password_is_permanent_and_never_shown(sink, route, caplog):
    caplog.set_level(logging.DEBUG)
    password = f"Wr0ng-{uuid.uuid4().hex}"
    outcome = sink.deliver(request(route.url(password=password)))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response.startswith("the broker refused user 'guest' on vhost '/': 403 ACCESS")
    assert password not in outcome.response and password not in caplog.text
    assert caplog.text  # pika did log, at DEBUG: the check above looked at something


def test_a_wrong_password_never_borrows_a_link_the_right_one_opened(sink, route):
    assert sink.deliver(request(route.url())).success  # a link logged in as guest is pooled
    outcome = sink.deliver(request(route.url(password="not-guest")))
    assert (outcome.success, outcome.retryable) == (False, False) and "403" in outcome.response
    assert len(route.received()) == 1


def test_an_unknown_vhost_is_permanent(sink, route):
    url = f"amqp://guest:guest@127.0.0.1/ae-no-such-vhost?exchange={route.exchange}"
    outcome = sink.deliver(request(url))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "530 NOT_ALLOWED - vhost ae-no-such-vhost not found" in outcome.response


def test_a_full_queue_that_rejects_publishes_is_a_retryable_nack(sink, admin):
    full = Route(admin).declare({"x-max-length": 1, "x-overflow": "reject-publish"})
    try:
        first, second = request(full.url()), request(full.url())
        assert sink.deliver(first).success
        outcome = sink.deliver(second)
        assert (outcome.success, outcome.retryable) == (False, True)
        assert "basic.nack" in outcome.response and "x-overflow=reject-publish" in outcome.response
        assert [event.get_id() for event in full.events()] == [first.event.id]
        assert sink.deliver(second).success  # room again: the retry gets in
    finally:
        full.delete()


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        (f"127.0.0.1:{closed_port()}", "connection refused by 127.0.0.1:"),
        ("ae-no-such-host.invalid", "DNS lookup failed for ae-no-such-host.invalid"),
    ],
)
def test_an_unreachable_broker_is_retryable(sink, host, expected):
    outcome = sink.deliver(request(f"amqp://guest:guest@{host}/?exchange=x"))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert outcome.response.startswith(expected)


def test_amqps_speaks_tls_so_a_plain_port_is_a_tls_error(sink):
    outcome = sink.deliver(request("amqps://guest:guest@127.0.0.1:5672/?exchange=x"))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert outcome.response.startswith("TLS error with 127.0.0.1:5672")


def test_a_forbidden_address_is_refused_without_retrying(route):
    guarded = RabbitMqSink(5.0, allowed=())
    outcome = guarded.deliver(request(route.url()))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == "refused to deliver to 127.0.0.1: a loopback address"
    assert guarded.pool.opened == 0 and route.received() == []


def test_a_link_cut_while_waiting_for_the_confirm_fails_retryably(sink, route, proxy):
    url = route.url(proxy.address)
    assert sink.deliver(request(url)).success
    route.received()
    proxy.freeze()
    with ThreadPoolExecutor(1) as pool:
        pending = pool.submit(sink.deliver, request(url))
        time.sleep(0.3)
        proxy.cut()
        outcome = pending.result(5)
    proxy.restore()
    assert (outcome.success, outcome.retryable) == (False, True)
    assert outcome.response.startswith(f"connection to {proxy.address} lost")
    again = request(url)
    assert sink.deliver(again).success
    assert [event.get_id() for event in route.events()] == [again.event.id]


def test_a_link_dropped_while_idle_is_replaced_before_publishing(sink, route, proxy):
    url = route.url(proxy.address)
    sent = [request(url), request(url)]
    assert sink.deliver(sent[0]).success
    proxy.cut()  # the broker restarted between two deliveries
    time.sleep(0.1)
    assert sink.deliver(sent[1]).success and sink.pool.opened == 2
    assert [event.get_id() for event in route.events()] == [r.event.id for r in sent]


@pytest.mark.parametrize("stage", ["handshake", "channel", "confirm"])
def test_a_frozen_broker_ends_the_attempt_at_the_deadline(route, proxy, monkeypatch, stage):
    """Frozen during the AMQP handshake, while opening the channel, or awaiting the confirm."""
    quick = RabbitMqSink(1.5, LOOPBACK)
    url = route.url(proxy.address)
    if stage == "confirm":
        assert quick.deliver(request(url)).success
    if stage == "channel":  # the moment the connection is up, before its channel opens
        connect = quick.pool._connect
        monkeypatch.setattr(quick.pool, "_connect", lambda *a: (connect(*a), proxy.freeze())[0])
    else:
        proxy.freeze()
    started = time.monotonic()
    outcome = quick.deliver(request(url))
    assert 1.4 <= time.monotonic() - started < 2.5
    assert (outcome.success, outcome.retryable) == (False, True)
    assert outcome.response == "timed out after 1.5 s"
    proxy.restore()
    monkeypatch.undo()
    assert quick.deliver(request(url)).success  # on a new link: the late one was not pooled
    assert quick.pool.opened == (1 if stage == "handshake" else 2)
    quick.close()


def test_a_link_whose_attempt_ran_late_is_closed_not_pooled(route):
    pool = LinkPool(LOOPBACK, Watchdog("test-rabbitmq-deadline"))
    target = parse(route.url())
    with pool.watchdog.watch(time.monotonic() + 0.3) as exchange:
        link = pool.borrow(target, exchange)
        wait_until(lambda: exchange.expired)
        pool.give_back(target, link, exchange)
    assert not link.connection.is_open
    pool.close()


def test_connections_are_pooled_per_account_and_reused(sink, route, proxy):
    url = route.url(proxy.address)
    serial = [request(url, {"n": n}) for n in range(20)]
    assert all(sink.deliver(r).success for r in serial)
    assert connections_to(proxy.port) == 1
    concurrent = [request(url, {"n": n}) for n in range(80)]
    with ThreadPoolExecutor(8) as pool:
        assert all(outcome.success for outcome in pool.map(sink.deliver, concurrent))
    assert 1 <= connections_to(proxy.port) <= 8 and sink.pool.opened <= 8
    ids = sorted(event.get_id() for event in route.events())
    assert ids == sorted(r.event.id for r in serial + concurrent)
    sink.close()
    wait_until(lambda: connections_to(proxy.port) == 0)


def test_a_link_idle_too_long_is_closed_rather_than_reused(sink, route, proxy):
    sink.pool.max_idle = 0.2
    url = route.url(proxy.address)
    assert sink.deliver(request(url)).success
    time.sleep(0.3)
    assert sink.deliver(request(url)).success and sink.pool.opened == 2
    wait_until(lambda: connections_to(proxy.port) == 1)


@pytest.mark.parametrize(
    ("exc", "retryable", "text"),
    [
        (amqp.ConnectionClosedByBroker(320, "CONNECTION_FORCED - shutdown"), True, "320"),
        (amqp.ConnectionClosedByBroker(541, "INTERNAL_ERROR"), True, "541"),
        (amqp.ChannelClosedByBroker(406, "PRECONDITION_FAILED - too big"), False, "406"),
        (amqp.ChannelClosedByBroker(403, "ACCESS_REFUSED - no write"), False, "403"),
        (amqp.ProbableAuthenticationError("StreamLostError: ('reset',)"), True, "while logging"),
        (amqp.StreamLostError("Stream connection lost"), True, "lost"),
    ],
)
def test_broker_reply_codes_decide_retrying(exc, retryable, text):
    outcome = failure(exc, parse("amqp://mq.example.com/?exchange=x"))
    assert (outcome.success, outcome.retryable) == (False, retryable)
    assert text in outcome.response


@pytest.mark.parametrize(
    ("recipient", "problem"),
    [
        ("amqp://u:p@mq.example.com/shop?exchange=orders&routing_key=order.placed", None),
        ("amqps://u:p@mq.example.com:5999/%2F?exchange=orders", None),
        ("amqp://mq.example.com?exchange=orders", None),
        ("amqp://mq.example.com/a%2Fb?exchange=a.b:c&routing_key=", None),
        ("http://mq.example.com/?exchange=orders", "the scheme must be amqp or amqps"),
        ("amqp:///vhost?exchange=orders", "the host is missing"),
        ("amqp://mq.example.com/", "exchange is required"),
        ("amqp://mq.example.com/?exchange=", "exchange is required"),
        ("amqp://mq.example.com/a/b?exchange=x", "one path segment; write a / in it as %2F"),
        ("amqp://mq.example.com/?exchange=x&routingkey=k", "unknown parameter 'routingkey'"),
        ("amqp://mq.example.com/?exchange=x&exchange=y", "exchange is given more than once"),
        ("amqp://mq.example.com/?exchange=" + "x" * 256, "exchange is longer than 255 bytes"),
        ("amqp://mq.example.com/?exchange=x#frag", "a #fragment is not allowed"),
        ("amqp://mq.example.com:99999/?exchange=x", "out of range"),
        ("amqp://[::1/?exchange=x", "Invalid IPv6 URL"),
    ],
)
def test_recipients_are_checked_and_the_expected_form_is_spelled_out(recipient, problem):
    error = validate_recipient("rabbitmq", recipient)
    if problem is None:
        assert error is None
        return
    assert error is not None and problem in error.split("as the rabbitmq sink needs: ")[1]
    assert "amqp[s]://user:password@host[:port]/vhost?exchange=NAME[&routing_key=KEY]" in error


def test_the_recipient_error_hides_the_password():
    error = validate_recipient("rabbitmq", "amqp://shop:s3cr3t-pw@mq.example.com/")
    assert error is not None and "s3cr3t-pw" not in error and "shop@mq.example.com" in error


def test_a_recipient_gives_its_address_and_credentials():
    assert address("amqp://mq.example.com/?exchange=x") == ("mq.example.com", 5672)
    assert address("amqps://mq.example.com/?exchange=x") == ("mq.example.com", 5671)
    assert address("amqp://[::1]:5673/?exchange=x") == ("::1", 5673)
    target = parse("amqp://sh%40p:p%3Aw@mq.example.com/shop?exchange=orders&routing_key=a.b")
    assert (target.user, target.password, target.vhost) == ("sh@p", "p:w", "shop")
    assert (target.exchange, target.routing_key) == ("orders", "a.b")
    assert "p:w" not in repr(target)
    assert parse("amqp://mq.example.com/?exchange=x").user == "guest"


# End to end: subscriptions, publishing and the job that delivers and records.


@pytest.fixture
def config(config: dict) -> dict:
    """The shared test app with a short total deadline, so the frozen broker test is quick."""
    return {**config, "DELIVERY_TOTAL_TIMEOUT": 2.0}


def logs() -> list[DeliveryLog]:
    return list(db.session.scalars(select(DeliveryLog).order_by(DeliveryLog.log_id)))


def chains() -> list[Delivery]:
    return list(db.session.scalars(select(Delivery).order_by(Delivery.id)))


def test_the_sink_is_registered_without_connecting(app):
    assert app.extensions["sinks"]["rabbitmq"].pool.opened == 0


def test_publish_reaches_a_rabbitmq_subscriber_and_the_log_holds_what_was_sent(ctx, jobs, route):
    subscriptions.create("example.event", route.url(), "token", sink="rabbitmq")
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    ((properties, body),) = route.received()
    (row,) = logs()
    assert row.success and row.status_code is None and properties.message_id == row.uuid
    assert json.loads(body) == json.loads(row.serialized_data)
    assert json.loads(body)["id"] == row.uuid and json.loads(body)["data"] == {"first_name": "Rey"}


def test_an_outage_fails_retryably_and_the_retries_lose_nothing(ctx, jobs, route, proxy):
    subscriptions.create("example.event", route.url(proxy.address), "token", sink="rabbitmq")
    proxy.refuse()  # the broker is down
    for n in range(3):
        publishing.publish("example.event", {"n": n}, store_id=0)
    jobs()
    assert [(row.success, row.retryable) for row in logs()] == [(False, True)] * 3
    assert all(proxy.address in row.response_data for row in logs())
    assert {chain.state for chain in chains()} == {ChainState.PENDING}
    proxy.restore()  # and up again: the scheduled retries run
    for chain in chains():
        assert attempt_delivery(chain.id, chain.attempts)
    db.session.expire_all()
    assert {chain.state for chain in chains()} == {ChainState.DELIVERED}
    events = route.events()
    assert sorted(event.get_id() for event in events) == sorted(chain.uuid for chain in chains())
    assert sorted(event.get_data()["n"] for event in events) == [0, 1, 2]


def test_a_frozen_broker_is_cut_at_delivery_total_timeout(ctx, jobs, route, proxy):
    subscriptions.create("example.event", route.url(proxy.address), "token", sink="rabbitmq")
    publishing.publish("example.event", {"n": 1}, store_id=0)
    jobs()  # delivered, and the connection pooled
    proxy.freeze()
    publishing.publish("example.event", {"n": 2}, store_id=0)
    jobs()
    late = logs()[-1]
    assert (late.success, late.retryable) == (False, True)
    assert late.response_data == "timed out after 2.0 s" and 1900 <= late.duration_ms < 3000
    proxy.restore()
    (chain,) = [chain for chain in chains() if chain.state == ChainState.PENDING]
    assert attempt_delivery(chain.id, chain.attempts)
    # At least once: the late publish may have reached the broker after all (the proxy held
    # it), so the retry can make a second copy, with the same id for consumers to drop.
    events = route.events()
    assert {event.get_id() for event in events} == {chain.uuid for chain in chains()}
    assert sorted({event.get_data()["n"] for event in events}) == [1, 2] and len(events) <= 3


def test_a_refused_password_is_logged_without_it(ctx, jobs, route, caplog):
    caplog.set_level(logging.DEBUG)
    password = f"Wr0ng-{uuid.uuid4().hex}"
    subscriptions.create("example.event", route.url(password=password), "token", sink="rabbitmq")
    publishing.publish("example.event", {}, store_id=0)
    jobs()
    (row,) = logs()
    assert (row.success, row.retryable) == (
        False,
        False,
    ) and "403 ACCESS_REFUSED" in row.response_data
    (sub,) = db.session.scalars(select(Subscription))
    assert password not in row.response_data and password not in sub.recipient_url
    assert password not in caplog.text


def test_subscribing_to_a_forbidden_broker_address_is_refused(ctx):
    ctx.config["DELIVERY_ALLOWED_NETWORKS"] = []
    with pytest.raises(subscriptions.SubscriptionError, match="DELIVERY_ALLOWED_NETWORKS"):
        subscriptions.create("example.event", "amqp://127.0.0.1/?exchange=x", "t", sink="rabbitmq")
