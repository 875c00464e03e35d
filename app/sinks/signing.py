"""Webhook bodies and their signature headers: Magento's HMAC and Standard Webhooks.

Every delivery carries both schemes, computed over the exact bytes sent:

- ``x-magento-signature``: lowercase hex HMAC-SHA256 of the body, keyed with the
  current token's utf-8 bytes, as mageos-async-events does. Only the current
  (first) token signs it, because the header holds a single value.
- ``webhook-id``/``webhook-timestamp``/``webhook-signature`` (standardwebhooks.com):
  ``v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``, one per token,
  space-separated, so a receiver holding either the new or the old token during a
  rotation verifies. A token that starts with ``whsec_`` is keyed, per that
  convention, by the base64 bytes after the prefix; any other token by its utf-8
  bytes. A receiver therefore verifies with ``standardwebhooks.Webhook(token)``
  for a ``whsec_`` token (pass the string) and ``Webhook(token.encode())`` for a
  plain one (pass bytes, or the library would base64-decode it).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Sequence

import orjson

from app.sinks.base import DeliveryRequest

WHSEC_PREFIX = "whsec_"
CLOUDEVENTS_JSON = "application/cloudevents+json"


def body_bytes(request: DeliveryRequest) -> bytes:
    """Serialise the body once, compactly; these bytes are both signed and sent.

    orjson writes the same bytes as ``json.dumps(separators=(",", ":"),
    ensure_ascii=False)`` in a twentieth of the time (bench: 0.5 against 8.4 µs for an
    order), except that NaN and infinities become null (valid JSON, where ``json`` wrote
    ``NaN``). What it refuses (integers past 64 bits) goes through ``json``; a lone
    surrogate is refused by both (tests/sinks/test_signing.py).
    """
    payload = {"data": request.event.data} if request.legacy_body else request.event.to_dict()
    try:
        return orjson.dumps(payload)
    except orjson.JSONEncodeError:
        return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def magento_signature(secret: str, body: bytes) -> str:
    """Return the ``x-magento-signature`` value: hex HMAC-SHA256 of ``body``."""
    return hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


def standard_webhooks_headers(
    msg_id: str, timestamp: int, body: bytes, secrets: Sequence[str]
) -> dict[str, str]:
    """Return the Standard Webhooks headers, with one ``v1`` signature per secret."""
    signed = f"{msg_id}.{timestamp}.".encode() + body
    signatures = [
        "v1," + base64.b64encode(hmac.new(_key(s), signed, hashlib.sha256).digest()).decode()
        for s in secrets
    ]
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": " ".join(signatures),
    }


def sign_headers(request: DeliveryRequest, body: bytes, now: int | None = None) -> dict[str, str]:
    """Return every header a webhook needs: its content type and both signature schemes.

    Raises ValueError when the request has no secret: an unsigned webhook could be
    forged by anyone who learns the URL, so we refuse to send one.
    """
    if not request.secrets:
        raise ValueError("the subscription has no verification token to sign with")
    timestamp = int(time.time()) if now is None else now
    return {
        "Content-Type": "application/json" if request.legacy_body else CLOUDEVENTS_JSON,
        "x-magento-signature": magento_signature(request.secrets[0], body),
        **standard_webhooks_headers(request.event.id, timestamp, body, request.secrets),
    }


def _key(secret: str) -> bytes:
    """Return the HMAC key for a token, following the ``whsec_`` convention."""
    if secret.startswith(WHSEC_PREFIX):
        # Same tolerance as the reference library: unpadded base64 is accepted.
        return base64.b64decode(secret[len(WHSEC_PREFIX) :] + "==")
    return secret.encode("utf-8")
