"""The eventgrid sink: publish the CloudEvent to an Azure Event Grid topic (seed-spec §4.4).

It sends what azure-eventgrid's EventGridPublisherClient sends for a CloudEvent: a POST
of the JSON array ``[event]`` (structured mode, batch of one) to the topic endpoint with
``api-version=2018-01-01`` and ``Content-Type: application/cloudevents-batch+json;
charset=utf-8``, authenticated by an access key (``aeg-sas-key``) or an Entra ID bearer
token (``app.sinks.eventgrid.token``). The wire is the http sink's ``Transport``: kept-alive,
SSRF-guarded connections and one total deadline over the whole attempt, token included.
Redirects are not followed, so a credential never travels to another host.
Recipients and credentials: ``app.sinks.eventgrid.recipient``; docs/sink-eventgrid.md.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from app.sinks.addresses import networks
from app.sinks.base import DeliveryRequest, Envelope, Outcome, SinkType
from app.sinks.eventgrid.recipient import (
    AccessKey,
    Credential,
    address,
    configured_credential,
    parse,
    recipient_error,
)
from app.sinks.eventgrid.token import TokenCache, TokenError
from app.sinks.http import retry_after_seconds, transport_failure
from app.sinks.transport import Answer, TooManyRedirects, Transport, TransportError

CONTENT_TYPE = "application/cloudevents-batch+json; charset=utf-8"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
_RETRYABLE_STATUSES = frozenset({408, 429})


class EventGridSink:
    """Publishes to Event Grid topics over one pooled, thread-safe ``Transport``."""

    name = "eventgrid"

    def __init__(
        self,
        transport: Transport,
        tokens: TokenCache,
        configured: Credential | None = None,
        total_timeout: float = 15.0,
    ) -> None:
        if total_timeout <= 0:
            raise ValueError(f"total_timeout must be positive, got {total_timeout!r}")
        self.transport, self.tokens = transport, tokens
        self.configured, self.total_timeout = configured, total_timeout

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Publish ``request.event`` to the topic ``request.recipient``; failures are Outcomes."""
        started = time.monotonic()
        secrets: tuple[str, ...] = ()
        try:
            topic = parse(request.recipient)
            credential = topic.credential or self.configured
            secrets = _secrets(credential)
            outcome = self._publish(topic.url, _body(request.event), credential, started)
        except (TypeError, ValueError) as exc:  # a bad recipient, an unserialisable payload
            outcome = Outcome(False, False, f"cannot publish to Event Grid: {exc}")
        return replace(
            outcome,
            response=_redact(outcome.response, secrets),
            duration_ms=round((time.monotonic() - started) * 1000),
        )

    def close(self) -> None:
        """Close the pooled connections."""
        self.transport.close()

    def _publish(
        self, url: str, body: bytes, credential: Credential | None, started: float
    ) -> Outcome:
        """POST under one deadline; with Entra ID, a 401 gets one fresh token and one retry."""
        deadline = started + self.total_timeout
        try:
            if credential is None:
                return Outcome(False, False, "Event Grid credentials are not configured")
            if isinstance(credential, AccessKey):
                return _judge(self._post(url, body, {"aeg-sas-key": credential.key}, deadline))
            token = self.tokens.get(credential, deadline)
            answer = self._post(url, body, _bearer(token), deadline)
            if answer.status == 401:  # revoked or expired early: one new token, once
                self.tokens.invalidate(credential, token)
                token = self.tokens.get(credential, deadline)
                answer = self._post(url, body, _bearer(token), deadline)
            return _judge(answer)
        except TokenError as exc:
            return Outcome(False, exc.retryable, str(exc), retry_after=exc.retry_after)
        except TooManyRedirects:
            return Outcome(False, False, "Event Grid answered with a redirect; none is followed")
        except TransportError as exc:
            return transport_failure(exc, self.transport.max_response_bytes)

    def _post(self, url: str, body: bytes, auth: dict[str, str], deadline: float) -> Answer:
        return self.transport.post(url, body, {"Content-Type": CONTENT_TYPE, **auth}, deadline)


def _judge(answer: Answer) -> Outcome:
    """2xx is delivered; 429, 408 and 5xx retry (after Retry-After); any other answer is final."""
    text = answer.body.decode("utf-8", errors="surrogateescape") or answer.reason
    retry_after = retry_after_seconds(answer.headers.get("retry-after"))
    if 200 <= answer.status < 300:
        return Outcome(True, False, text, answer.status, retry_after)
    retryable = answer.status >= 500 or answer.status in _RETRYABLE_STATUSES
    return Outcome(False, retryable, text, answer.status, retry_after)


def _body(event: Envelope) -> bytes:
    """The batch of one structured-mode CloudEvent, as the SDK serialises it (ASCII JSON)."""
    return json.dumps([event.to_dict()], separators=(",", ":")).encode("ascii")


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _secrets(credential: Credential | None) -> tuple[str, ...]:
    """What must never appear in an outcome's text."""
    if isinstance(credential, AccessKey):
        return (credential.key,)
    return (credential.secret,) if credential is not None else ()


def _redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret masked, in case an answer ever echoes one."""
    for secret in filter(None, secrets):
        text = text.replace(secret, "***")
    return text


def build(config: Mapping[str, Any]) -> EventGridSink:
    """Build the sink from the ``DELIVERY_*`` and ``EVENTGRID_*`` settings; nothing connects."""
    allowed = networks(config.get("DELIVERY_ALLOWED_NETWORKS") or [])
    total_timeout = config.get("DELIVERY_TOTAL_TIMEOUT", 15.0)
    transport = Transport(
        0,  # redirects: a credential must not follow one to another host
        config.get("DELIVERY_CONNECT_TIMEOUT", 5.0),
        total_timeout,
        config.get("DELIVERY_MAX_RESPONSE_BYTES", 65536),
        allowed=allowed,
        max_connections=max(10, config.get("DELIVERY_CONCURRENCY", 0)),
    )
    authority = config.get("EVENTGRID_AUTHORITY") or DEFAULT_AUTHORITY
    tokens = TokenCache(transport, authority)
    return EventGridSink(transport, tokens, configured_credential(config), total_timeout)


SINK_TYPE = SinkType("eventgrid", "Azure Event Grid", build, recipient_error, address)
