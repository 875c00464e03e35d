"""The pubsub sink against a local server speaking Pub/Sub's gRPC API, and its recipients.

Messages are read back with Google's own SubscriberClient (pointed at the fake through
PUBSUB_EMULATOR_HOST, the official emulator setting) and rebuilt with the CloudEvents SDK.
"""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from cloudevents.core.base import BaseCloudEvent
from cloudevents.core.bindings.http import HTTPMessage, from_http_event
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from google.api_core.exceptions import InvalidArgument
from google.pubsub_v1 import PublisherClient, PublishRequest, PublishResponse, SubscriberClient
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog
from app.sinks import DeliveryRequest, Envelope, validate_recipient
from app.sinks.pubsub.client import PubSubClient
from app.sinks.pubsub.sink import EXPECTED, PubSubSink
from app.usecases import subscriptions
from jobs.delivery import attempt_delivery
from tests.sinks.pubsub_fake import FakePubSub
from tests.sinks.tcp_proxy import TcpProxy

PROJECT = "shop-project-1"


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module", autouse=True)
def no_google_environment() -> Iterator[None]:
    """No credentials or gcloud login from this machine; the metadata server is a closed port,
    so Application Default Credentials never reach beyond loopback."""
    with pytest.MonkeyPatch.context() as env:
        for name in ("GOOGLE_APPLICATION_CREDENTIALS", "PUBSUB_EMULATOR_HOST"):
            env.delenv(name, raising=False)
        env.setenv("GCE_METADATA_HOST", f"127.0.0.1:{closed_port()}")
        env.setenv("GCE_METADATA_IP", f"127.0.0.1:{closed_port()}")
        env.setenv("CLOUDSDK_CONFIG", "/nonexistent-gcloud-config")
        yield


@pytest.fixture(scope="module")
def fake() -> Iterator[FakePubSub]:
    server = FakePubSub()
    yield server
    server.close()


@pytest.fixture(scope="module")
def google(fake: FakePubSub) -> tuple[PublisherClient, SubscriberClient]:
    """Google's own clients, pointed at the fake as at the emulator: by PUBSUB_EMULATOR_HOST."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PUBSUB_EMULATOR_HOST", fake.host)
        return PublisherClient(), SubscriberClient()


@pytest.fixture
def topic(fake: FakePubSub, google) -> Iterator[str]:
    """A new topic with one subscription named like it (``topic_sub(topic)``)."""
    fake.restore()
    publisher, subscriber = google
    name = f"projects/{PROJECT}/topics/t-{uuid.uuid4().hex}"
    publisher.create_topic(name=name)
    subscriber.create_subscription(name=topic_sub(name), topic=name)
    yield name
    subscriber.delete_subscription(subscription=topic_sub(name))
    publisher.delete_topic(topic=name)


def topic_sub(topic: str) -> str:
    return topic.replace("/topics/", "/subscriptions/")


def read(google, topic: str) -> list[tuple[Any, BaseCloudEvent]]:
    """Pull and acknowledge every message, each with the CloudEvent the SDK reads from it."""
    _, subscriber = google
    got = subscriber.pull(subscription=topic_sub(topic), max_messages=100, timeout=5)
    ack_ids = [received.ack_id for received in got.received_messages]
    if ack_ids:
        subscriber.acknowledge(subscription=topic_sub(topic), ack_ids=ack_ids)
    messages = [received.message for received in got.received_messages]
    return [(m, cloudevent(m)) for m in messages]


def cloudevent(message: Any) -> BaseCloudEvent:
    """What the CloudEvents SDK reads from a message: the attributes are the binary-mode headers."""
    return from_http_event(HTTPMessage(headers=dict(message.attributes), body=message.data))


def sink(host: str, total: float = 5.0, **client: Any) -> PubSubSink:
    config = {"PUBSUB_EMULATOR_HOST": host, "DELIVERY_TOTAL_TIMEOUT": total}
    return PubSubSink(PubSubClient(config, **client), total)


def request(recipient: str, data: object = None) -> DeliveryRequest:
    event = Envelope(str(uuid.uuid4()), "1", "example.event", data or {"first_name": "Rey"})
    return DeliveryRequest(recipient, ("ignored",), event)


def test_publish_sends_the_cloudevent_in_binary_mode(fake, google, topic):
    sent = request(topic, {"emoji": "é🎉", "n": [1, None]})
    outcome = sink(fake.host).deliver(sent)
    assert outcome.success and outcome.status_code == 200 and outcome.duration_ms >= 0
    ((message, event),) = read(google, topic)
    assert json.loads(outcome.response) == {"messageId": message.message_id}
    assert dict(message.attributes) == {
        "ce-specversion": "1.0",
        "ce-id": sent.event.id,
        "ce-source": "1",
        "ce-type": "example.event",
        "content-type": "application/json",
    }
    assert event.get_id() == sent.event.id
    assert event.get_data() == {"emoji": "é🎉", "n": [1, None]}
    read_back = {**event.get_attributes(), "data": event.get_data()}
    del read_back["time"]  # the SDK adds one; the event has none
    assert read_back == sent.event.to_dict()  # what the log row stores: the same event
    assert message.ordering_key == ""


def test_every_publish_carries_the_total_deadline(fake, topic):
    assert sink(fake.host, total=3.0).deliver(request(topic)).success
    # The grpc-timeout header is rounded up to its unit and the server starts
    # its clock on arrival, so the deadline it sees may exceed 3 s by a few ms;
    # without the deadline it would be None, with the SDK's default 60 s.
    assert 2.5 < fake.seen[-1].time_remaining <= 3.05


@pytest.mark.parametrize(
    ("query", "key"),
    [
        ("", ""),
        ("?ordering_key=cart-42", "cart-42"),
        ("?ordering_key=a%2Fb%20c%C3%A9", "a/b cé"),
        ("?ordered=1", "1/example.event"),
    ],
)
def test_ordering_key_when_the_subscription_asks(fake, google, topic, query, key):
    sent = request(topic + query)
    assert sink(fake.host).deliver(sent).success
    ((message, event),) = read(google, topic)
    assert message.ordering_key == key and event.get_id() == sent.event.id


def test_unknown_topic_is_permanent(fake):
    outcome = sink(fake.host).deliver(request(f"projects/{PROJECT}/topics/never-made"))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 404)
    assert json.loads(outcome.response) == {
        "code": "NOT_FOUND",
        "reason": "the topic, or its project, does not exist",
        "message": "Resource not found (resource=never-made).",
    }


@pytest.mark.parametrize(
    ("code", "status", "retryable"),
    [
        (grpc.StatusCode.UNAVAILABLE, 503, True),
        (grpc.StatusCode.DEADLINE_EXCEEDED, 504, True),
        (grpc.StatusCode.RESOURCE_EXHAUSTED, 429, True),
        (grpc.StatusCode.INTERNAL, 500, True),
        (grpc.StatusCode.ABORTED, 409, True),
        (grpc.StatusCode.UNKNOWN, None, True),
        (grpc.StatusCode.PERMISSION_DENIED, 403, False),
        (grpc.StatusCode.UNAUTHENTICATED, 401, False),
        (grpc.StatusCode.INVALID_ARGUMENT, 400, False),
        (grpc.StatusCode.FAILED_PRECONDITION, 400, False),
        (grpc.StatusCode.UNIMPLEMENTED, 501, False),
    ],
)
def test_status_codes_retry_only_when_pubsub_is_busy(fake, google, topic, code, status, retryable):
    fake.fail(code)
    outcome = sink(fake.host).deliver(request(topic))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, retryable, status)
    answer = json.loads(outcome.response)
    assert answer["code"] == code.name and "as it was told" in answer["message"]
    assert read(google, topic) == []


def test_an_event_over_10_mib_is_refused_without_sending(fake, google, topic):
    seen = len(fake.seen)
    outcome = sink(fake.host).deliver(request(topic, "x" * (10 * 1024 * 1024)))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, None)
    assert "Pub/Sub takes at most 10485760" in json.loads(outcome.response)["message"]
    assert len(fake.seen) == seen and read(google, topic) == []


def test_the_service_refuses_a_publish_over_10_mib_as_permanent(fake, topic):
    """Were our own size check wrong, the service's answer is still a permanent failure."""
    big = sink(fake.host, max_request_bytes=64 * 1024 * 1024)
    outcome = big.deliver(request(topic, "x" * (10 * 1024 * 1024)))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 400)
    answer = json.loads(outcome.response)
    assert answer["code"] == "INVALID_ARGUMENT"
    assert answer["message"] == "Request payload size exceeds the limit: 10485760 bytes."


@pytest.mark.parametrize(
    ("message", "needle"),
    [
        ({}, "Some messages are empty"),
        ({"data": b"x", "attributes": {"googclient_x": "1"}}, "attribute key"),
        ({"data": b"x", "attributes": {"k" * 257: "1"}}, "attribute key"),
        ({"data": b"x", "attributes": {"k": "v" * 1025}}, "over 1024 bytes"),
        ({"data": b"x", "attributes": {f"k{n}": "v" for n in range(101)}}, "100 attributes"),
        ({"data": b"x", "ordering_key": "k" * 1025}, "ordering key"),
    ],
)
def test_the_fake_refuses_what_pubsub_refuses(google, topic, message, needle):
    """The stand-in is only worth its checks: Google's own client gets them too."""
    publisher, _ = google
    with pytest.raises(InvalidArgument, match=needle):
        publisher.publish(topic=topic, messages=[message], timeout=5, retry=None)


def test_the_fake_wants_a_real_topic_name_and_a_deadline(fake, google, topic):
    publisher, _ = google
    with pytest.raises(InvalidArgument, match="Invalid \\[topics\\] name"):
        publisher.publish(topic="projects/p/topics/x", messages=[{"data": b"x"}], timeout=5)
    publish = grpc.insecure_channel(fake.host).unary_unary(
        "/google.pubsub.v1.Publisher/Publish",
        request_serializer=PublishRequest.serialize,
        response_deserializer=PublishResponse.deserialize,
    )
    routing = [("x-goog-request-params", f"topic={topic}")]
    request = PublishRequest(topic=topic, messages=[{"data": b"x"}])
    with pytest.raises(grpc.RpcError) as refused:
        publish(request, metadata=routing)  # no timeout: no deadline
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert publish(request, metadata=routing, timeout=5).message_ids


def test_a_stalled_pubsub_ends_at_the_deadline_and_the_client_recovers(fake, google, topic):
    publisher = sink(fake.host, total=2.0)
    assert publisher.deliver(request(topic)).success
    fake.stall()
    started = time.monotonic()
    outcome = publisher.deliver(request(topic))
    assert 1.9 <= time.monotonic() - started < 3.0
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, 504)
    assert json.loads(outcome.response)["reason"] == "no answer within the total timeout (2.0 s)"
    time.sleep(0.2)  # the server's copy of the deadline ends a moment after the client's
    fake.restore()
    assert publisher.deliver(request(topic)).success
    assert len(read(google, topic)) == 2


def test_a_frozen_link_ends_at_the_deadline(fake, google, topic):
    with TcpProxy(("127.0.0.1", fake.port)) as proxy:
        publisher = sink(proxy.address, total=2.0)
        assert publisher.deliver(request(topic)).success
        proxy.freeze()
        started = time.monotonic()
        outcome = publisher.deliver(request(topic))
        assert 1.9 <= time.monotonic() - started < 3.0
        assert (outcome.success, outcome.retryable) == (False, True)
        assert json.loads(outcome.response)["code"] == "DEADLINE_EXCEEDED"
        proxy.restore()
        assert publisher.deliver(request(topic)).success


def test_unreachable_pubsub_is_retryable(topic):
    outcome = sink(f"127.0.0.1:{closed_port()}").deliver(request(topic))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, 503)
    assert json.loads(outcome.response)["code"] == "UNAVAILABLE"


def test_publishing_resumes_within_seconds_of_an_outage_ending(fake, google, topic):
    """gRPC waits longer and longer between reconnects (up to 120 s), failing every call
    meanwhile: after a 19 s outage that wait is about 10 s. Capped at 2 s, it is short."""
    with TcpProxy(("127.0.0.1", fake.port)) as proxy:
        publisher = sink(proxy.address, total=2.0)
        assert publisher.deliver(request(topic)).success
        proxy.refuse()
        down = time.monotonic()
        while time.monotonic() - down < 19:
            assert publisher.deliver(request(topic)).retryable
            time.sleep(0.5)
        proxy.restore()
        up = time.monotonic()
        while not publisher.deliver(request(topic)).success:
            assert time.monotonic() - up < 3.5, "still failing 3.5 s after the outage ended"
            time.sleep(0.1)


def service_account_key(path, secret_marker: str = "") -> str:
    """Write a service-account key file as Google issues it; return its client email."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    email = f"publisher@{PROJECT}.iam.gserviceaccount.com"
    info = {
        "type": "service_account",
        "project_id": PROJECT,
        "private_key_id": "0123456789abcdef",
        "private_key": secret_marker or pem,
        "client_email": email,
        "client_id": "1234567890",
        "token_uri": "https://oauth2.googleapis.com/token",
    }
    path.write_text(json.dumps(info))
    return email


def transport_credentials(publisher: PubSubSink) -> Any:
    return publisher.client.get()._transport._credentials


def test_a_service_account_key_file_is_used_without_connecting(tmp_path):
    email = service_account_key(tmp_path / "key.json")
    client = PubSubClient({"PUBSUB_CREDENTIALS_FILE": str(tmp_path / "key.json")})
    credentials = client.get()._transport._credentials
    assert credentials.service_account_email == email
    assert client.get()._transport._host == "pubsub.googleapis.com:443"


def test_application_default_credentials_come_from_google_application_credentials(
    tmp_path, monkeypatch
):
    email = service_account_key(tmp_path / "adc.json")
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(tmp_path / "adc.json"))
    credentials = PubSubClient({}).get()._transport._credentials
    assert credentials.service_account_email == email


@pytest.mark.parametrize("key_file", ["bad.json", "missing.json"])
def test_unusable_credentials_are_permanent_and_never_shown(tmp_path, topic, key_file):
    service_account_key(tmp_path / "bad.json", secret_marker="-----BEGIN s3cr3t-k3y")
    publisher = PubSubSink(PubSubClient({"PUBSUB_CREDENTIALS_FILE": str(tmp_path / key_file)}))
    outcome = publisher.deliver(request(topic))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, None)
    answer = json.loads(outcome.response)
    assert answer["code"] == "UNAUTHENTICATED"
    assert answer["message"].startswith("PUBSUB_CREDENTIALS_FILE is not a service-account key: ")
    assert "s3cr3t" not in outcome.response


def test_no_credentials_at_all_is_permanent_and_not_looked_for_on_every_delivery(topic):
    publisher = PubSubSink(PubSubClient({}))
    first = publisher.deliver(request(topic))
    assert (first.success, first.retryable) == (False, False)
    assert "default credentials were not found" in json.loads(first.response)["message"]
    started = time.monotonic()
    assert publisher.deliver(request(topic)).response == first.response
    assert time.monotonic() - started < 0.05


def test_a_recipient_saved_before_its_rules_changed_fails_permanently(fake):
    outcome = sink(fake.host).deliver(request("projects/x/topics/t"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "is not a project id" in outcome.response


@pytest.mark.parametrize(
    ("recipient", "ok"),
    [
        ("projects/my-project/topics/orders", True),
        ("projects/my-project-123/topics/Orders.v1_x~y+z%20", True),
        ("projects/example.com:my-project/topics/orders", True),
        ("projects/my-project/topics/orders?ordering_key=cart-42", True),
        ("projects/my-project/topics/orders?ordered=1", True),
        ("projects/my-project/topics/" + "t" * 255, True),
        ("projects/my-project/topics/" + "t" * 256, False),
        ("pubsub://projects/my-project/topics/orders", False),
        ("//pubsub.googleapis.com/projects/my-project/topics/orders", False),
        ("projects/my-project/topics/orders/", False),
        ("projects/my-project/subscriptions/orders", False),
        ("projects/short/topics/orders", False),
        ("projects/My-Project/topics/orders", False),
        ("projects/1project/topics/orders", False),
        ("projects/my-project-/topics/orders", False),
        ("projects/" + "p" * 31 + "/topics/orders", False),
        ("projects/my-project/topics/goog-orders", False),
        ("projects/my-project/topics/1orders", False),
        ("projects/my-project/topics/ab", False),
        ("projects/my-project/topics/my topic", False),
        ("projects/my-project/topics/orders?ordered=yes", False),
        ("projects/my-project/topics/orders?ordering_key=", False),
        ("projects/my-project/topics/orders?ordering_key=" + "k" * 1025, False),
        ("projects/my-project/topics/orders?ordering_key=a&ordered=1", False),
        ("projects/my-project/topics/orders?region=eu", False),
        ("https://pubsub.googleapis.com/v1/projects/my-project/topics/orders:publish", False),
    ],
)
def test_validate_recipient(recipient, ok):
    error = validate_recipient("pubsub", recipient)
    assert (error is None) is ok, error
    assert ok or (error.startswith(f"recipient_url {recipient!r}") and EXPECTED in error)


@pytest.fixture
def config(config: dict, fake: FakePubSub) -> dict:
    """The shared test app, with its pubsub sink pointed at the fake."""
    return {**config, "PUBSUB_EMULATOR_HOST": fake.host}


def test_the_sink_is_registered_without_connecting(app):
    assert app.extensions["sinks"]["pubsub"].client._client is None


def test_publish_survives_an_unavailable_spell_and_loses_nothing(ctx, jobs, fake, google, topic):
    subscriptions.create("example.event", f"{topic}?ordered=1", "token", sink="pubsub")
    fake.fail(grpc.StatusCode.UNAVAILABLE, times=3)
    payloads = [{"n": n} for n in range(3)]
    for payload in payloads:
        publishing.publish("example.event", payload, store_id=0)
    jobs()
    first = list(db.session.scalars(select(DeliveryLog)))
    assert len(first) == 3 and all(not r.success and r.retryable for r in first)
    assert {r.status_code for r in first} == {503} and read(google, topic) == []
    for chain in db.session.scalars(select(Delivery)).all():
        assert chain.state == ChainState.PENDING
        assert attempt_delivery(chain.id, 1)
    db.session.expire_all()
    rows = list(db.session.scalars(select(DeliveryLog).where(DeliveryLog.success)))
    got = read(google, topic)
    assert sorted(event.get_id() for _, event in got) == sorted(r.uuid for r in rows)
    assert sorted(event.get_data()["n"] for _, event in got) == [0, 1, 2]
    assert {message.ordering_key for message, _ in got} == {"0/example.event"}
    assert all(c.state == ChainState.DELIVERED for c in db.session.scalars(select(Delivery)))
