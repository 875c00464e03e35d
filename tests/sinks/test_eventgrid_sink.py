"""The eventgrid sink against local fakes of Event Grid and Entra ID, checked with the SDK."""

from __future__ import annotations

import json
import logging
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from urllib.parse import quote

import pytest
import urllib3
from cloudevents.core.formats.json import JSONFormat
from sqlalchemy import select

from app.delivery import publishing
from app.extensions import db
from app.models import Delivery, DeliveryLog, Subscription
from app.sinks import DeliveryRequest, Envelope, recipient_address, validate_recipient
from app.sinks.eventgrid.sink import CONTENT_TYPE, EventGridSink, build
from app.usecases import subscriptions
from app.usecases.subscriptions import SubscriptionError
from jobs.delivery import attempt_delivery
from tests import tls as test_tls
from tests.sinks import hostile
from tests.sinks.eventgrid_fake import FakeEntra, FakeTopic
from tests.sinks.tcp_proxy import TcpProxy

APP, SECRET = "3f2504e0-4f89-41d3-9a0c-0305e82c3301", "s3cr3t~Value/+=&x"
LOOPBACK = {"DELIVERY_ALLOWED_NETWORKS": ["127.0.0.0/8"], "DELIVERY_TOTAL_TIMEOUT": 5.0}


@pytest.fixture
def entra() -> Iterator[FakeEntra]:
    with FakeEntra({APP: SECRET}) as server:
        yield server


@pytest.fixture
def topic(entra: FakeEntra) -> Iterator[FakeTopic]:
    with FakeTopic(entra=entra, senders=(APP,)) as server:
        yield server


def make_sink(entra: FakeEntra | None = None, **settings: object) -> EventGridSink:
    authority = {"EVENTGRID_AUTHORITY": entra.url} if entra else {}
    return build({**LOOPBACK, **authority, **settings})


def key_url(topic: FakeTopic, key: str | None = None, host: str | None = None) -> str:
    return f"http://:{quote(key or topic.keys[0], safe='')}@{host or topic.host}/api/events"


def entra_url(topic: FakeTopic, secret: str = SECRET, tenant: str | None = None) -> str:
    tenant = tenant or topic.entra.tenant
    return f"http://{APP}:{quote(secret, safe='')}@{topic.host}/api/events?tenant={tenant}"


def request(recipient: str, data: object = None) -> DeliveryRequest:
    event = Envelope(str(uuid.uuid4()), "1", "example.event", data or {"first_name": "Rey"})
    return DeliveryRequest(recipient, ("ignored",), event)


def read_back(topic: FakeTopic, sent: DeliveryRequest) -> None:
    """The topic got exactly ``sent``'s CloudEvent, which the CloudEvents SDK reads as such."""
    (event,) = topic.events  # one element of the batch: a structured-mode CloudEvent
    parsed = JSONFormat().read(None, json.dumps(event))
    assert (parsed.get_id(), parsed.get_specversion()) == (sent.event.id, "1.0")
    assert (parsed.get_source(), parsed.get_type()) == ("1", "example.event")
    assert parsed.get_data() == sent.event.data
    assert event == sent.event.to_dict()
    assert topic.refusals == []


# --- The fake is faithful: the official SDK is accepted, and Azure's checks are there ---


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> test_tls.Certificates:
    return test_tls.issue(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_pair(tls, monkeypatch) -> Iterator[tuple[FakeEntra, FakeTopic]]:
    """Fake Entra ID and topic over https (azure-identity speaks only https), CA trusted."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(tls.ca))
    served = (str(tls.cert), str(tls.key))
    with (
        FakeEntra({APP: SECRET}, tls=served) as auth,
        FakeTopic(entra=auth, senders=(APP,), tls=served) as t,
    ):
        yield auth, t


def test_the_sdk_publishes_with_an_access_key_and_a_wrong_key_is_refused(tls_pair):
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import ClientAuthenticationError
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridPublisherClient

    _, topic = tls_pair
    endpoint = f"{topic.url}/api/events"
    EventGridPublisherClient(endpoint, AzureKeyCredential(topic.keys[1])).send(
        [CloudEvent(source="shop", type="example.event", data={"n": 1})]
    )
    assert [event["data"] for event in topic.events] == [{"n": 1}] and topic.refusals == []
    with pytest.raises(ClientAuthenticationError):
        EventGridPublisherClient(endpoint, AzureKeyCredential("nope")).send(
            [CloudEvent(source="shop", type="example.event", data={"n": 2})]
        )
    assert [status for status, *_ in topic.refusals] == [401] and len(topic.events) == 1


def test_the_sdk_publishes_with_entra_client_credentials(tls_pair):
    from azure.core.messaging import CloudEvent
    from azure.eventgrid import EventGridPublisherClient
    from azure.identity import ClientSecretCredential

    entra, topic = tls_pair
    credential = ClientSecretCredential(
        entra.tenant, APP, SECRET, authority=entra.url, disable_instance_discovery=True
    )
    client = EventGridPublisherClient(f"{topic.url}/api/events", credential)
    for n in range(3):
        client.send([CloudEvent(source="shop", type="example.event", data={"n": n})])
    assert len(topic.events) == 3 and topic.refusals == [] and entra.token_requests == 1
    assert all(s.headers["Authorization"].startswith("Bearer ") for s in topic.requests)


def test_the_sdk_gets_413_for_an_event_over_1_mb(tls_pair):
    from azure.core.credentials import AzureKeyCredential
    from azure.core.exceptions import HttpResponseError
    from azure.eventgrid import EventGridPublisherClient

    _, topic = tls_pair
    client = EventGridPublisherClient(f"{topic.url}/api/events", AzureKeyCredential(topic.keys[0]))
    with pytest.raises(HttpResponseError) as raised:
        client.send([request("x", "x" * 1024 * 1024).event.to_dict()])
    assert raised.value.status_code == 413 and topic.events == []


def test_the_sink_sends_what_the_sdk_sends(tls_pair):
    """Same event, same request as EventGridPublisherClient: path, query, type, body."""
    from azure.core.credentials import AzureKeyCredential
    from azure.eventgrid import EventGridPublisherClient

    _, sdk_topic = tls_pair
    sent = request("x", {"emoji": "é🎉", "n": 1})
    client = EventGridPublisherClient(f"{sdk_topic.url}/api/events", AzureKeyCredential("k"))
    sdk_topic.keys = ("k", "k2")
    client.send([sent.event.to_dict()])
    with FakeTopic() as topic:
        assert make_sink().deliver(replace_recipient(sent, key_url(topic))).success
        ours, theirs = topic.requests[0], sdk_topic.requests[0]
    assert (ours.method, ours.path, ours.query) == (theirs.method, theirs.path, theirs.query)
    assert ours.headers["Content-Type"] == theirs.headers["Content-Type"] == CONTENT_TYPE
    assert json.loads(ours.body) == json.loads(theirs.body) == [sent.event.to_dict()]
    assert ours.headers["Aeg-Sas-Key"] == topic.keys[0]


def replace_recipient(sent: DeliveryRequest, recipient: str) -> DeliveryRequest:
    return DeliveryRequest(recipient, sent.secrets, sent.event)


GOOD_EVENT = {"specversion": "1.0", "id": "1", "source": "s", "type": "t", "data": {}}


@pytest.mark.parametrize(
    ("path", "headers", "body", "status"),
    [
        ("/api/events?api-version=2018-01-01", {}, [GOOD_EVENT], 200),
        ("/api/event?api-version=2018-01-01", {}, [GOOD_EVENT], 404),
        ("/api/events", {}, [GOOD_EVENT], 400),
        ("/api/events?api-version=2024-06-01", {}, [GOOD_EVENT], 400),
        ("/api/events?api-version=2018-01-01", {"aeg-sas-key": "wrong"}, [GOOD_EVENT], 401),
        ("/api/events?api-version=2018-01-01", {"aeg-sas-key": None}, [GOOD_EVENT], 401),
        (
            "/api/events?api-version=2018-01-01",
            {"Content-Type": "application/json"},
            [GOOD_EVENT],
            400,
        ),
        ("/api/events?api-version=2018-01-01", {}, GOOD_EVENT, 400),
        ("/api/events?api-version=2018-01-01", {}, [], 400),
        ("/api/events?api-version=2018-01-01", {}, [{**GOOD_EVENT, "specversion": "0.3"}], 400),
        ("/api/events?api-version=2018-01-01", {}, [{**GOOD_EVENT, "source": ""}], 400),
        (
            "/api/events?api-version=2018-01-01",
            {},
            [{k: v for k, v in GOOD_EVENT.items() if k != "type"}],
            400,
        ),
        (
            "/api/events?api-version=2018-01-01",
            {},
            [{**GOOD_EVENT, "data": "x" * 1024 * 1024}],
            413,
        ),
        (
            "/api/events?api-version=2018-01-01",
            {},
            [{**GOOD_EVENT, "data": "x" * 600_000}] * 2,
            413,
        ),
    ],
)
def test_the_fake_checks_every_request_as_event_grid_does(topic, path, headers, body, status):
    sent = {"Content-Type": CONTENT_TYPE, "aeg-sas-key": topic.keys[0], **headers}
    sent = {name: value for name, value in sent.items() if value is not None}
    answer = urllib3.request("POST", f"{topic.url}{path}", body=json.dumps(body), headers=sent)
    assert answer.status == status
    if status != 200:
        assert set(answer.json()["error"]) == {"code", "message"} and topic.events == []


# --- Delivering ---


def test_delivers_with_an_access_key(topic, entra):
    sent = request(key_url(topic), {"emoji": "é🎉", "n": 1})
    outcome = make_sink(entra).deliver(sent)
    assert (outcome.success, outcome.status_code) == (True, 200) and outcome.duration_ms >= 0
    read_back(topic, sent)
    (seen,) = topic.requests
    assert seen.headers["Aeg-Sas-Key"] == topic.keys[0] and "Authorization" not in seen.headers
    assert entra.token_requests == 0


def test_deliveries_reuse_one_pooled_connection(topic, entra):
    sink = make_sink(entra)
    for recipient in [key_url(topic)] * 3 + [entra_url(topic)] * 3:
        assert sink.deliver(request(recipient)).success
    assert len({seen.peer for seen in topic.requests}) == 1 and len(topic.events) == 6
    sink.close()  # drops the pool: the next delivery connects anew
    assert sink.deliver(request(key_url(topic))).success
    assert len({seen.peer for seen in topic.requests}) == 2


def test_delivers_over_https_with_entra_credentials(tls, tls_pair, monkeypatch):
    """Both ends on TLS, as in Azure; the sink trusts the fake's certificate as its CA."""
    entra, topic = tls_pair
    monkeypatch.setenv("SSL_CERT_FILE", str(tls.ca))
    sent = request(entra_url(topic).replace("http://", "https://"))
    outcome = make_sink(entra).deliver(sent)
    assert outcome.success, outcome
    read_back(topic, sent)
    assert entra.url.startswith("https://") and entra.token_requests == 1


def test_a_key_with_reserved_characters_is_percent_encoded_in_the_url(entra):
    with FakeTopic(keys=("Vx/b+Gw==", "other")) as topic:
        sent = request(key_url(topic))
        assert make_sink(entra).deliver(sent).success
        read_back(topic, sent)


def test_delivers_with_entra_credentials_and_one_token(topic, entra):
    sink = make_sink(entra)
    sent = [request(entra_url(topic), {"n": n}) for n in range(5)]
    outcomes = [sink.deliver(one) for one in sent]
    assert all(o.success and o.status_code == 200 for o in outcomes), outcomes
    assert [e["id"] for e in topic.events] == [one.event.id for one in sent]
    assert entra.token_requests == 1 and topic.refusals == []
    assert all(s.headers["Authorization"].startswith("Bearer eyFake.") for s in topic.requests)


def test_concurrent_deliveries_share_one_token_request(topic, entra):
    sink = make_sink(entra)
    outcomes: list = []
    threads = [
        threading.Thread(target=lambda: outcomes.append(sink.deliver(request(entra_url(topic)))))
        for _ in range(16)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(outcomes) == 16 and all(o.success for o in outcomes)
    assert entra.token_requests == 1 and len(topic.events) == 16


def test_the_token_is_refetched_five_minutes_before_it_expires(topic, entra):
    now = [1000.0]
    sink = make_sink(entra)
    sink.tokens.clock = lambda: now[0]
    assert sink.deliver(request(entra_url(topic))).success
    now[0] += entra.lifetime - 301  # still more than 5 minutes left
    assert sink.deliver(request(entra_url(topic))).success
    assert entra.token_requests == 1
    now[0] += 2  # now less than 5 minutes left
    assert sink.deliver(request(entra_url(topic))).success
    assert entra.token_requests == 2 and len(topic.events) == 3


def test_a_short_lived_token_is_kept_for_half_its_life(topic, entra):
    now = [0.0]
    entra.lifetime = 120
    sink = make_sink(entra)
    sink.tokens.clock = lambda: now[0]
    for step in (0, 59, 2):
        now[0] += step
        assert sink.deliver(request(entra_url(topic))).success
    assert entra.token_requests == 2


def test_a_refused_token_is_replaced_once(topic, entra):
    sink = make_sink(entra)
    assert sink.deliver(request(entra_url(topic))).success
    topic.script.append((401, {}, b'{"error":{"code":"Unauthorized","message":"revoked"}}'))
    sent = request(entra_url(topic))
    outcome = sink.deliver(sent)
    assert outcome.success and entra.token_requests == 2
    assert topic.events[-1]["id"] == sent.event.id


def test_a_token_refused_twice_is_a_permanent_failure(topic, entra):
    refusal = (401, {}, b'{"error":{"code":"Unauthorized","message":"token refused"}}')
    topic.script.extend([refusal, refusal, refusal])
    outcome = make_sink(entra).deliver(request(entra_url(topic)))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 401)
    assert "token refused" in outcome.response
    assert entra.token_requests == 2 and len(topic.requests) == 2


def test_an_app_without_the_sender_role_is_refused_for_good(entra):
    with FakeTopic(entra=entra, senders=()) as topic:
        outcome = make_sink(entra).deliver(request(entra_url(topic)))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 403)
    assert "EventGrid Data Sender" in outcome.response and entra.token_requests == 1


@pytest.mark.parametrize(
    ("secret", "tenant", "needle"),
    [
        ("wrong-secret", None, "invalid_client: AADSTS7000215"),
        (SECRET, "other.onmicrosoft.com", "AADSTS90002"),
    ],
)
def test_a_bad_client_secret_or_tenant_is_permanent(topic, entra, secret, tenant, needle):
    outcome = make_sink(entra).deliver(request(entra_url(topic, secret, tenant)))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert needle in outcome.response and "Entra ID token request failed" in outcome.response
    assert "Trace ID" not in outcome.response and topic.requests == []


def test_a_wrong_secret_never_rides_on_the_right_ones_token(topic, entra):
    sink = make_sink(entra)
    assert sink.deliver(request(entra_url(topic))).success
    outcome = sink.deliver(request(entra_url(topic, "wrong-secret")))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "invalid_client" in outcome.response and len(topic.events) == 1


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_token_endpoint_is_retryable(topic, entra, status):
    entra.script.append((status, {"error": "temporarily_unavailable"}))
    outcome = make_sink(entra).deliver(request(entra_url(topic)))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert f"({status}): temporarily_unavailable" in outcome.response


@pytest.mark.parametrize(
    ("status", "headers", "retryable", "retry_after"),
    [
        (429, {"Retry-After": "17"}, True, 17),
        (503, {"Retry-After": "5"}, True, 5),
        (500, {}, True, None),
        (400, {}, False, None),
        (404, {}, False, None),
        (413, {}, False, None),
    ],
)
def test_event_grid_answers_are_classified(topic, status, headers, retryable, retry_after):
    body = json.dumps({"error": {"code": f"Code{status}", "message": f"why {status}"}})
    topic.script.append((status, headers, body.encode()))
    outcome = make_sink().deliver(request(key_url(topic)))
    assert (outcome.success, outcome.retryable) == (False, retryable)
    assert (outcome.status_code, outcome.retry_after) == (status, retry_after)
    assert f"why {status}" in outcome.response


def test_a_wrong_key_is_permanent_with_event_grids_reason(topic):
    outcome = make_sink().deliver(request(key_url(topic, "not-the-key")))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 401)
    assert "not authorized" in outcome.response and "not-the-key" not in outcome.response


def test_an_event_over_1_mb_is_permanent(topic):
    outcome = make_sink().deliver(request(key_url(topic), "x" * 1024 * 1024))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 413)
    assert "RequestEntityTooLarge" in outcome.response and topic.events == []


def test_a_redirect_is_not_followed_with_the_key(topic):
    with FakeTopic(keys=topic.keys) as elsewhere:
        location = f"{elsewhere.url}/api/events?api-version=2018-01-01"
        topic.script.append((307, {"Location": location}, b""))
        outcome = make_sink().deliver(request(key_url(topic)))
        assert (outcome.success, outcome.retryable) == (False, False)
        assert "redirect" in outcome.response and elsewhere.requests == []


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_an_unreachable_topic_is_retryable():
    outcome = make_sink().deliver(request(f"http://:k@127.0.0.1:{closed_port()}/api/events"))
    assert (outcome.success, outcome.retryable) == (False, True)
    assert "connection refused" in outcome.response


def test_an_unreachable_token_endpoint_is_retryable(topic):
    sink = build({**LOOPBACK, "EVENTGRID_AUTHORITY": f"http://127.0.0.1:{closed_port()}"})
    outcome = sink.deliver(request(entra_url(topic)))
    assert (outcome.success, outcome.retryable) == (False, True) and topic.requests == []


def test_loopback_is_refused_unless_allowed(topic):
    outcome = build({}).deliver(request(key_url(topic)))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "loopback" in outcome.response and topic.requests == []


def test_configured_credentials_serve_recipients_without_any(topic, entra):
    plain = f"http://{topic.host}/api/events"
    assert make_sink(EVENTGRID_ACCESS_KEY=topic.keys[1]).deliver(request(plain)).success
    entra_settings = {
        "EVENTGRID_TENANT_ID": entra.tenant,
        "EVENTGRID_CLIENT_ID": APP,
        "EVENTGRID_CLIENT_SECRET": SECRET,
    }
    assert make_sink(entra, **entra_settings).deliver(request(plain)).success
    assert len(topic.events) == 2 and entra.token_requests == 1
    outcome = make_sink(entra).deliver(request(plain))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == "Event Grid credentials are not configured"


# --- The total deadline ---


@pytest.mark.parametrize("stalled", ["topic", "token endpoint"])
def test_a_frozen_topic_or_token_endpoint_ends_at_the_total_timeout(topic, entra, stalled):
    target = topic if stalled == "topic" else entra
    with TcpProxy(("127.0.0.1", target.port)) as proxy:
        authority = f"http://{proxy.address}" if stalled != "topic" else entra.url
        host = proxy.address if stalled == "topic" else topic.host
        recipient = entra_url(topic).replace(topic.host, host)
        sink = build({**LOOPBACK, "DELIVERY_TOTAL_TIMEOUT": 2.0, "EVENTGRID_AUTHORITY": authority})
        proxy.freeze()
        started = time.monotonic()
        outcome = sink.deliver(request(recipient))
        assert 1.9 <= time.monotonic() - started < 3.0
        assert (outcome.success, outcome.retryable) == (False, True)
        assert outcome.response == "timed out after 2.0 s"
        proxy.restore()
        assert sink.deliver(request(recipient)).success  # and it recovers


@pytest.mark.parametrize("behaviour", ["never_answer", "trickle_headers", "trickle_body"])
def test_a_topic_that_stalls_or_trickles_is_cut_at_the_total_timeout(behaviour):
    with hostile.serve(behaviour, interval=0.5) as server:
        sink = make_sink(DELIVERY_TOTAL_TIMEOUT=2.0)
        started = time.monotonic()
        outcome = sink.deliver(request(f"http://:k@127.0.0.1:{server.port}/api/events"))
        assert 1.9 <= time.monotonic() - started < 3.0
        assert (outcome.success, outcome.retryable) == (False, True)
        server.wait_hung_up()


# --- Credentials never leak ---


def test_no_key_secret_or_token_reaches_an_outcome_or_a_log(topic, entra, caplog):
    caplog.set_level(logging.DEBUG)
    sink = make_sink(entra)
    topic.script.append((500, {}, f"echo {topic.keys[0]}".encode()))
    recipients = [
        key_url(topic),
        key_url(topic),
        key_url(topic, "WrongKey123"),
        entra_url(topic),
        entra_url(topic, "WrongSecret456"),
        f"http://:{topic.keys[0]}@127.0.0.1:{closed_port()}/api/events",
        f"http://:{topic.keys[0]}@{topic.host}/api/wrong",
    ]
    outcomes = [sink.deliver(request(recipient)) for recipient in recipients]
    assert [o.success for o in outcomes] == [False, True, False, True, False, False, False]
    tokens = list(entra.issued)
    text = caplog.text + "".join(o.response for o in outcomes)
    text += validate_recipient("eventgrid", f"http://:{topic.keys[0]}@h/wrong") or ""
    for secret in [topic.keys[0], "WrongKey123", SECRET, "WrongSecret456", *tokens]:
        assert secret not in text and quote(secret, safe="") not in text
    assert tokens and "***" in outcomes[0].response


# --- In the app ---


@pytest.fixture
def config(config: dict, entra: FakeEntra) -> dict:
    """The shared test app, with the eventgrid sink's tokens from the fake Entra ID."""
    return {**config, "EVENTGRID_AUTHORITY": entra.url}


def test_the_sink_is_registered_without_connecting(app):
    sink = app.extensions["sinks"]["eventgrid"]
    assert isinstance(sink, EventGridSink)
    assert not sink.transport.running  # nothing sent, so no thread and no connection


@pytest.mark.parametrize("auth", ["key", "entra"])
def test_publish_reaches_an_event_grid_topic(ctx, jobs, topic, entra, auth):
    recipient = key_url(topic) if auth == "key" else entra_url(topic)
    subscriptions.create("example.event", recipient, "token", sink="eventgrid")
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    (row,) = db.session.scalars(select(DeliveryLog))
    (event,) = topic.events
    assert event == {
        "specversion": "1.0",
        "id": row.uuid,
        "source": "0",
        "type": "example.event",
        "datacontenttype": "application/json",
        "data": {"first_name": "Rey"},
    }
    assert row.success and row.status_code == 200 and topic.refusals == []
    (sub,) = db.session.scalars(select(Subscription))
    assert topic.keys[0] not in sub.recipient_url and SECRET not in sub.recipient_url


def test_a_busy_topic_is_retried_after_its_retry_after(ctx, jobs, topic):
    topic.script.append((429, {"Retry-After": "7"}, b'{"error":{"code":"TooManyRequests"}}'))
    subscriptions.create("example.event", key_url(topic), "token", sink="eventgrid")
    publishing.publish("example.event", {"first_name": "Rey"}, store_id=0)
    jobs()
    (chain,) = db.session.scalars(select(Delivery))
    (row,) = db.session.scalars(select(DeliveryLog))
    assert (row.success, row.retryable, row.status_code) == (False, True, 429)
    assert (chain.next_attempt_at - row.created).total_seconds() == 7
    attempt_delivery(chain.id, 1)
    assert [e["id"] for e in topic.events] == [row.uuid]


def test_subscribing_to_a_topic_the_ssrf_policy_forbids_is_refused(ctx, topic):
    ctx.config["DELIVERY_ALLOWED_NETWORKS"] = []
    with pytest.raises(SubscriptionError, match="loopback address"):
        subscriptions.create("example.event", key_url(topic), "token", sink="eventgrid")


@pytest.mark.parametrize(
    ("recipient", "ok"),
    [
        ("https://:KEY@orders.westus2-1.eventgrid.azure.net/api/events", True),
        ("https://:a%2Fb%2Bc%3D@orders.westus2-1.eventgrid.azure.net/api/events", True),
        ("https://orders.westus2-1.eventgrid.azure.net/api/events", True),
        (
            f"https://{APP}:s@orders.westus2-1.eventgrid.azure.net/api/events?tenant=contoso.com",
            True,
        ),
        ("http://:KEY@localhost:8080/api/events", True),
        ("https://:KEY@orders.westus2-1.eventgrid.azure.net/api/events/", False),
        ("https://:KEY@orders.westus2-1.eventgrid.azure.net/", False),
        ("https://:KEY@orders.westus2-1.eventgrid.azure.net/api/events?api-version=1", False),
        ("https://:KEY@orders.westus2-1.eventgrid.azure.net/api/events#x", False),
        ("https://:KEY@orders.westus2-1.eventgrid.azure.net/api/events?tenant=t", False),
        (f"https://{APP}:s@orders.westus2-1.eventgrid.azure.net/api/events", False),
        (f"https://{APP}@orders.westus2-1.eventgrid.azure.net/api/events?tenant=t", False),
        (f"https://{APP}:s@h/api/events?tenant=t&tenant=u", False),
        (f"https://{APP}:s@h/api/events?tenant=a/b", False),
        ("https://orders.westus2-1.eventgrid.azure.net/api/events?tenant=t", False),
        ("https://:a/b@orders.westus2-1.eventgrid.azure.net/api/events", False),
        ("sb://orders.servicebus.windows.net/api/events", False),
        ("https://[::1/api/events", False),
        ("orders", False),
    ],
)
def test_validate_recipient(recipient, ok):
    error = validate_recipient("eventgrid", recipient)
    assert (error is None) is ok, error
    assert ok or ("eventgrid" in error and "KEY" not in error)


@pytest.mark.parametrize(
    ("recipient", "target"),
    [
        (
            "https://:K@orders.westus2-1.eventgrid.azure.net/api/events",
            ("orders.westus2-1.eventgrid.azure.net", 443),
        ),
        ("http://:K@127.0.0.1:8080/api/events", ("127.0.0.1", 8080)),
        ("http://h/api/events", ("h", 80)),
    ],
)
def test_the_address_checked_at_subscription_is_the_topics(recipient, target):
    assert recipient_address("eventgrid", recipient) == target
