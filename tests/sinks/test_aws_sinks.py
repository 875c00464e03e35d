"""The eventbridge and sqs sinks against moto's server mode, and recipient validation."""

from __future__ import annotations

import json
import socket
import time
import uuid
from collections.abc import Iterator

import boto3
import botocore.session
import pytest
from botocore.credentials import CredentialResolver
from botocore.exceptions import ClientError
from moto.server import ThreadedMotoServer
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import DeliveryLog
from app.sinks import DeliveryRequest, Envelope, validate_recipient
from app.sinks.aws import AwsClient, failure
from app.sinks.eventbridge import EventBridgeSink, entry_outcome
from app.sinks.sqs import RETRYABLE_CODES, SqsSink
from app.usecases import subscriptions
from tests.sinks import hostile

REGION = "ap-southeast-2"


@pytest.fixture(scope="module", autouse=True)
def aws_credentials() -> Iterator[None]:
    """Fake credentials in the standard AWS chain (env vars), and nothing else from it."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("AWS_ACCESS_KEY_ID", "testing")
        env.setenv("AWS_SECRET_ACCESS_KEY", "testing")
        for name in ("AWS_SESSION_TOKEN", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
            env.delenv(name, raising=False)
        yield


@pytest.fixture(scope="module")
def moto_url(aws_credentials: None) -> Iterator[str]:
    """One moto server for the module, on a free loopback port."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(scope="module")
def aws(moto_url: str):
    """Make a client of moto for setting up and inspecting, e.g. ``aws("sqs")``."""
    return lambda service: boto3.client(service, region_name=REGION, endpoint_url=moto_url)


def client(service: str, endpoint: str, session: boto3.session.Session | None = None):
    settings = {"AWS_REGION": REGION, "AWS_ENDPOINT_URL": endpoint}
    return AwsClient(service, {**settings, "DELIVERY_TOTAL_TIMEOUT": 5.0}, session)


def request(recipient: str, data: object = None) -> DeliveryRequest:
    event = Envelope(str(uuid.uuid4()), "1", "example.event", data or {"first_name": "Rey"})
    return DeliveryRequest(recipient, ("ignored",), event)


def new_queue(aws) -> tuple[str, str]:
    url = aws("sqs").create_queue(QueueName=f"q-{uuid.uuid4().hex}")["QueueUrl"]
    attrs = aws("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return url, attrs["Attributes"]["QueueArn"]


def received(aws, queue_url: str) -> list[dict]:
    got = aws("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10)
    return got.get("Messages", [])


@pytest.mark.parametrize("by_arn", [False, True])
def test_eventbridge_puts_the_cloudevent_on_the_bus(aws, moto_url, by_arn):
    queue_url, queue_arn = new_queue(aws)
    bus = f"bus-{uuid.uuid4().hex}"
    bus_arn = aws("events").create_event_bus(Name=bus)["EventBusArn"]
    pattern = json.dumps({"source": ["shop.test"]})
    aws("events").put_rule(Name="all", EventBusName=bus, EventPattern=pattern)
    aws("events").put_targets(Rule="all", EventBusName=bus, Targets=[{"Id": "q", "Arn": queue_arn}])
    sent = request(bus_arn if by_arn else bus)
    outcome = EventBridgeSink(client("events", moto_url), "shop.test").deliver(sent)
    assert outcome.success and outcome.status_code == 200 and outcome.duration_ms >= 0
    (message,) = received(aws, queue_url)
    event = json.loads(message["Body"])
    assert event["detail"] == sent.event.to_dict()
    assert (event["detail-type"], event["source"]) == ("example.event", "shop.test")
    assert json.loads(outcome.response) == {"EventId": event["id"]}


def test_eventbridge_unknown_bus_is_permanent(moto_url):
    outcome = EventBridgeSink(client("events", moto_url)).deliver(request("no-such-bus"))
    assert not outcome.success and not outcome.retryable and outcome.status_code == 400
    assert json.loads(outcome.response)["code"] == "ResourceNotFoundException"


@pytest.mark.parametrize(
    ("code", "retryable"),
    [("ThrottlingException", True), ("InternalFailure", True), ("AccessDeniedException", False)],
)
def test_eventbridge_failed_entry_retries_only_when_aws_was_busy(code, retryable):
    response = {
        "FailedEntryCount": 1,
        "Entries": [{"ErrorCode": code, "ErrorMessage": "no"}],
        "ResponseMetadata": {"HTTPStatusCode": 200},
    }
    outcome = entry_outcome(response)
    assert not outcome.success and outcome.retryable is retryable
    assert json.loads(outcome.response) == {"code": code, "message": "no"}


def test_sqs_sends_the_cloudevent(aws, moto_url):
    queue_url, _ = new_queue(aws)
    sent = request(queue_url, {"emoji": "é🎉", "n": 1})
    outcome = SqsSink(client("sqs", moto_url)).deliver(sent)
    assert outcome.success and outcome.status_code == 200
    (message,) = received(aws, queue_url)
    assert json.loads(message["Body"]) == sent.event.to_dict()
    assert json.loads(outcome.response) == {"MessageId": message["MessageId"]}


def test_sqs_unknown_queue_is_permanent(moto_url):
    outcome = SqsSink(client("sqs", moto_url)).deliver(request(f"{moto_url}/123456789012/nope"))
    assert not outcome.success and not outcome.retryable and outcome.status_code == 400
    assert json.loads(outcome.response)["code"] == "AWS.SimpleQueueService.NonExistentQueue"


def test_sqs_oversize_event_is_refused_without_sending(aws, moto_url):
    queue_url, _ = new_queue(aws)
    outcome = SqsSink(client("sqs", moto_url)).deliver(request(queue_url, "x" * 256 * 1024))
    assert not outcome.success and not outcome.retryable and outcome.status_code is None
    assert "SQS takes at most 262144" in outcome.response
    assert received(aws, queue_url) == []


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


@pytest.mark.parametrize(("make", "service"), [(EventBridgeSink, "events"), (SqsSink, "sqs")])
def test_unreachable_endpoint_is_retryable(make, service):
    url = closed_port_url()
    outcome = make(client(service, url)).deliver(request(f"{url}/123456789012/q"))
    assert not outcome.success and outcome.retryable
    assert "EndpointConnectionError" in outcome.response


@pytest.mark.parametrize("behaviour", ["never_answer", "trickle_headers", "trickle_body"])
@pytest.mark.parametrize(("make", "service"), [(EventBridgeSink, "events"), (SqsSink, "sqs")])
def test_an_endpoint_that_stalls_or_trickles_is_cut_at_the_total_timeout(make, service, behaviour):
    """botocore's read timeout is per read: a byte a second would never trip it."""
    with hostile.serve(behaviour, interval=1.0) as server:
        settings = {"AWS_REGION": REGION, "AWS_ENDPOINT_URL": f"http://127.0.0.1:{server.port}"}
        aws_client = AwsClient(service, {**settings, "DELIVERY_TOTAL_TIMEOUT": 2.0})
        aws_client.get()  # building a client (once per process) is not part of a call
        started = time.monotonic()
        outcome = make(aws_client).deliver(request(f"{server.url}/123456789012/q"))
        assert 1.9 <= time.monotonic() - started < 3.5
        assert (outcome.success, outcome.retryable) == (False, True)
        assert outcome.response == "timed out after 2.0 s"
        server.wait_hung_up()
        assert server.client_sockets() == 0  # shut, and not pooled for the next call


@pytest.mark.parametrize(
    ("make", "service", "label"),
    [(EventBridgeSink, "events", "EventBridge"), (SqsSink, "sqs", "SQS")],
)
def test_missing_credentials_is_permanent(moto_url, make, service, label):
    bare = botocore.session.Session()
    bare.register_component("credential_provider", CredentialResolver(providers=[]))
    sink = make(client(service, moto_url, boto3.session.Session(botocore_session=bare)))
    outcome = sink.deliver(request(f"{moto_url}/123456789012/q"))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == f"{label} connection is not configured."


def test_invalid_region_is_a_permanent_failure_not_a_crash(moto_url):
    sink = SqsSink(AwsClient("sqs", {"AWS_REGION": "not a region"}))
    outcome = sink.deliver(request(f"{moto_url}/123456789012/q"))
    assert not outcome.success and not outcome.retryable and "region" in outcome.response


@pytest.mark.parametrize(
    ("code", "query_code", "status", "retryable"),
    [
        ("ThrottlingException", "", 400, True),
        ("InternalFailure", "", 500, True),
        ("ServiceUnavailable", "", 503, True),
        ("KMS.ThrottlingException", "KmsThrottled", 400, True),
        ("KMS.DisabledException", "KmsDisabled", 400, True),
        ("RequestThrottled", "", 403, True),
        ("AccessDeniedException", "", 403, False),
        ("ValidationException", "", 400, False),
    ],
)
def test_aws_errors_retry_only_when_aws_is_busy(code, query_code, status, retryable):
    error = {"Code": code, "Message": "m", "QueryErrorCode": query_code}
    exc = ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": status}}, "Call")
    outcome = failure(exc, "SQS", RETRYABLE_CODES)
    assert (outcome.retryable, outcome.status_code) == (retryable, status)


@pytest.fixture
def config(config: dict, moto_url: str) -> dict:
    """The shared test app, with its AWS sinks pointed at moto."""
    return {**config, "AWS_REGION": REGION, "AWS_ENDPOINT_URL": moto_url}


def test_aws_sinks_are_registered_without_connecting(app):
    sinks = app.extensions["sinks"]
    assert {"eventbridge", "sqs"} <= sinks.keys()
    assert sinks["sqs"].client._client is None and sinks["eventbridge"].client._client is None


def test_publish_reaches_an_sqs_subscriber(ctx, jobs, aws):
    queue_url, _ = new_queue(aws)
    subscriptions.create("example.event", queue_url, "token", sink="sqs")
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    (message,) = received(aws, queue_url)
    (row,) = db.session.scalars(select(DeliveryLog))
    body = json.loads(message["Body"])
    assert body == {
        "specversion": "1.0",
        "id": row.uuid,
        "source": "0",
        "type": "example.event",
        "datacontenttype": "application/json",
        "data": {"first_name": "Rey"},
    }
    assert row.success and row.status_code == 200
    assert json.loads(row.response_data) == {"MessageId": message["MessageId"]}


@pytest.mark.parametrize(
    ("sink", "recipient", "ok"),
    [
        ("http", "https://example.com/hook", True),
        ("http", "http://127.0.0.1:8080/x", True),
        ("http", "ftp://example.com/x", False),
        ("http", "https:///no-host", False),
        ("http", "http://[::1", False),
        ("eventbridge", "default", True),
        ("eventbridge", "orders_bus-1.prod/x", True),
        ("eventbridge", "arn:aws:events:ap-southeast-2:ACCOUNT_ID:rule/BUS_NAME", True),
        ("eventbridge", "arn:aws:events:us-east-1:123456789012:event-bus/orders", True),
        ("eventbridge", "arn:aws-cn:events:cn-north-1:123456789012:event-bus/b", True),
        ("eventbridge", "", False),
        ("eventbridge", "b" * 257, False),
        ("eventbridge", "my bus", False),
        ("eventbridge", "arn:aws:sqs:us-east-1:123456789012:orders", False),
        ("eventbridge", "arn:aws:events:us-east-1:123456789012:connection/c", False),
        ("eventbridge", "https://events.example.com/", False),
        ("sqs", "https://sqs.us-east-1.amazonaws.com/123456789012/orders", True),
        ("sqs", "https://sqs.eu-west-1.amazonaws.com/123456789012/orders.fifo", True),
        ("sqs", "http://localhost:4566/000000000000/q", True),
        ("sqs", "arn:aws:sqs:us-east-1:123456789012:orders", False),
        ("sqs", "orders", False),
        ("sqs", "https://sqs.us-east-1.amazonaws.com/orders", False),
        ("sqs", "https://sqs.us-east-1.amazonaws.com/123456789012/orders?x=1", False),
        ("no-such-sink", "anything at all", True),  # no rule for a sink means no objection
    ],
)
def test_validate_recipient(sink, recipient, ok):
    error = validate_recipient(sink, recipient)
    assert (error is None) is ok, error
    assert ok or sink in error
