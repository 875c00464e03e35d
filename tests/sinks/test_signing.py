"""Receivers can verify what we send: Standard Webhooks, x-magento-signature, body shapes."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from collections.abc import Iterator

import pytest
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from app.sinks import DeliveryRequest, Envelope, HttpSink
from app.sinks.signing import body_bytes, magento_signature, sign_headers
from tests.receiver import Receiver

EVENT = Envelope(
    id="6f1c2d1e-0000-4000-8000-000000000001",
    source="0",
    type="sales.order.created",
    data={"order_id": 42, "note": "crème brûlée / 東京"},
)
WHSEC = "whsec_" + base64.b64encode(os.urandom(24)).decode()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def request(*secrets: str, legacy: bool = False) -> DeliveryRequest:
    return DeliveryRequest("http://unused.invalid/", secrets, EVENT, legacy_body=legacy)


def deliver(receiver: Receiver, req: DeliveryRequest) -> tuple[bytes, dict[str, str]]:
    """Send through the real sink and return exactly what the receiver got."""
    url = receiver.route("/hook")
    sink = HttpSink()
    try:
        assert sink.deliver(DeliveryRequest(url, req.secrets, req.event, req.legacy_body)).success
    finally:
        sink.close()
    got = receiver.wait_for(1, "/hook")[0]
    return got.body, got.headers


@pytest.mark.parametrize(
    ("secret", "verifier_key"),
    [("s3cr3t-plain-token", b"s3cr3t-plain-token"), (WHSEC, WHSEC)],
    ids=["plain-token", "whsec"],
)
def test_standard_webhooks_library_verifies_what_we_sent(receiver, secret, verifier_key):
    body, headers = deliver(receiver, request(secret))
    assert Webhook(verifier_key).verify(body, headers) == EVENT.to_dict()


def test_during_rotation_either_token_alone_verifies(receiver):
    new, old = "new-token", WHSEC
    body, headers = deliver(receiver, request(new, old))
    assert len(headers["webhook-signature"].split(" ")) == 2
    Webhook(new.encode()).verify(body, headers)
    Webhook(old).verify(body, headers)
    with pytest.raises(WebhookVerificationError):
        Webhook(b"some-other-token").verify(body, headers)


def test_magento_signature_is_hmac_of_received_bytes_with_current_token(receiver):
    body, headers = deliver(receiver, request("current", "previous"))
    expected = hmac.new(b"current", body, hashlib.sha256).hexdigest()
    assert headers["x-magento-signature"] == expected


def test_tampered_body_fails_verification(receiver):
    body, headers = deliver(receiver, request("tok"))
    with pytest.raises(WebhookVerificationError):
        Webhook(b"tok").verify(body.replace(b"42", b"43"), headers)
    assert magento_signature("tok", body.replace(b"42", b"43")) != headers["x-magento-signature"]


def test_cloudevent_body_is_compact_utf8_in_attribute_order(receiver):
    body, headers = deliver(receiver, request("tok"))
    assert headers["content-type"] == "application/cloudevents+json"
    assert headers["webhook-id"] == EVENT.id
    assert list(json.loads(body)) == [
        "specversion",
        "id",
        "source",
        "type",
        "datacontenttype",
        "data",
    ]
    assert b'"specversion":"1.0","id":"' in body
    assert "crème brûlée / 東京".encode() in body  # raw utf-8, not \\u escapes
    assert Envelope.from_dict(json.loads(body)) == EVENT


def test_legacy_body_is_the_3x_data_wrapper(receiver):
    body, headers = deliver(receiver, request("tok", legacy=True))
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == {"data": EVENT.data}
    assert headers["x-magento-signature"] == magento_signature("tok", body)
    Webhook(b"tok").verify(body, headers)


def test_timestamp_is_now_unless_given():
    req = request("tok")
    body = body_bytes(req)
    assert abs(int(sign_headers(req, body)["webhook-timestamp"]) - time.time()) < 5
    assert sign_headers(req, body, now=1_700_000_000)["webhook-timestamp"] == "1700000000"


def test_a_request_without_a_token_is_refused():
    with pytest.raises(ValueError, match="verification token"):
        sign_headers(request(), body_bytes(request()))


@pytest.mark.parametrize(
    "bad",
    [{"data": 1}, {"specversion": "0.3", "id": "x", "source": "0", "type": "t", "data": 1}],
    ids=["legacy-shape", "wrong-specversion"],
)
def test_from_dict_rejects_what_is_not_a_cloudevent(bad):
    with pytest.raises(ValueError, match="CloudEvent"):
        Envelope.from_dict(bad)


@pytest.mark.parametrize(
    ("data", "sent"),
    [
        ({"n": 2**64 + 1}, b'"data":{"n":18446744073709551617}}'),  # past orjson: json writes it
        ({"n": -(2**63)}, b'"data":{"n":-9223372036854775808}}'),
        ({"x": float("nan"), "y": float("inf")}, b'"data":{"x":null,"y":null}}'),  # valid JSON
        ({"f": 0.1, "e": 1e16}, b'"data":{"f":0.1,"e":1e+16}}'),
        ({"deep": [[[[["é"]]]]]}, '"data":{"deep":[[[[["é"]]]]]}}'.encode()),
        ({"d": json.loads("[" * 300 + "]" * 300)}, b"]" * 300 + b"}}"),  # past orjson's 255
    ],
    ids=["past-64-bits", "min-int64", "nan-and-infinity", "floats", "nested-utf8", "300-deep"],
)
def test_every_payload_json_can_hold_is_sent_as_json(data, sent):
    event = Envelope(EVENT.id, "0", "t", data)
    body = body_bytes(DeliveryRequest("http://unused.invalid/", ("tok",), event))
    assert body.endswith(sent)
    json.loads(body)  # parses back


def test_a_lone_surrogate_is_refused_not_sent_mangled():
    event = Envelope(EVENT.id, "0", "t", {"s": "a\ud800b"})
    with pytest.raises(ValueError):
        body_bytes(DeliveryRequest("http://unused.invalid/", ("tok",), event))
