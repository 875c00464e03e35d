"""The nats sink: publish the CloudEvent to a JetStream subject and wait for the stream's ack.

The recipient is ``nats://[user:password@|:token@]host[:port]/SUBJECT`` (``tls://`` to
insist on TLS, which a server that requires it gets anyway). The message is
a structured-mode CloudEvent (the JSON the log stores) with ``Content-Type:
application/cloudevents+json``, the mode every version of the CloudEvents NATS binding
reads; its ``Nats-Msg-Id`` header is the chain UUID, so a stream drops a re-send within
its duplicate window and says so (``"duplicate": true``) in the PubAck we log. Only a
PubAck is a success: a subject no stream captures is a permanent failure, a stream at
its limits a retryable one. The protocol is ``app.sinks.nats.wire``, the connections
``app.sinks.nats.pool``.
"""

from __future__ import annotations

import json
import re
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from app.sinks.addresses import networks
from app.sinks.base import DeliveryRequest, Outcome, SinkType
from app.sinks.nats.pool import Dialler, Pool
from app.sinks.nats.wire import Late, NatsError, Refused, Reply, Server, ServerError

DEFAULT_PORT = 4222
CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# -ERR texts that the same request can never get past, whatever the wait.
_PERMANENT_ERRORS = (
    "authorization violation",
    "permissions violation",
    "maximum payload",
    "user authentication expired",
    "user authentication revoked",
    "account authentication expired",
)
_HEADER_VALUE = re.compile(r"[!-~]+")  # printable ASCII, no spaces: safe in a header line
_SUBJECT_TOKEN = re.compile(r"[!-~]+")
_NOT_IN_SUBJECT = frozenset("*>%")  # wildcards, and % which would read as URL escaping
_EXPECTED = (
    "nats://[user:password@ | :token@]host[:port]/SUBJECT (tls:// to insist on TLS; "
    "port 4222 by default; "
    "SUBJECT one a JetStream stream captures: dot-separated tokens, none empty, "
    "without spaces, wildcards (* >) or %)"
)


class NatsSink:
    """Publishes through a pool of plain-socket NATS connections, shared by every thread."""

    name = "nats"

    def __init__(self, pool: Pool, total_timeout: float = 15.0) -> None:
        if total_timeout <= 0:
            raise ValueError(f"total_timeout must be positive, got {total_timeout!r}")
        self.pool, self.total_timeout = pool, total_timeout

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Publish ``request.event`` to the recipient's subject; every failure is an Outcome."""
        started = time.monotonic()
        outcome = self._attempt(request, started + self.total_timeout)
        return replace(outcome, duration_ms=round((time.monotonic() - started) * 1000))

    def close(self) -> None:
        """Close the pooled connections."""
        self.pool.close()

    def _attempt(self, request: DeliveryRequest, deadline: float) -> Outcome:
        """Build the message, publish it, and judge what came back."""
        error = recipient_error(request.recipient)
        if error is not None:
            return Outcome(False, False, error)
        event = request.event
        if not _HEADER_VALUE.fullmatch(event.id):
            return Outcome(False, False, f"event id {event.id!r} cannot be a Nats-Msg-Id")
        server, subject = parse(request.recipient)
        headers = f"NATS/1.0\r\nNats-Msg-Id: {event.id}\r\nContent-Type: {CONTENT_TYPE}\r\n\r\n"
        body = json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False)
        try:
            reply = self.pool.request(
                server, subject, headers.encode(), body.encode("utf-8"), deadline
            )
        except NatsError as exc:
            return self._failure(exc)
        return judge(reply, subject)

    def _failure(self, exc: NatsError) -> Outcome:
        """A failed exchange: refused credentials and impossible setups are permanent."""
        if isinstance(exc, ServerError):
            permanent = exc.text.lower().startswith(_PERMANENT_ERRORS)
            return Outcome(False, not permanent, f"the NATS server refused: {exc.text}")
        if isinstance(exc, Refused):
            return Outcome(False, False, str(exc))
        if isinstance(exc, Late):
            return Outcome(False, True, f"timed out after {self.total_timeout} s")
        return Outcome(False, True, str(exc))  # unreachable, or the connection broke


def judge(reply: Reply, subject: str) -> Outcome:
    """Turn what came back on the reply inbox into an Outcome; only a PubAck succeeds."""
    if reply.status == 503:
        text = f"no JetStream stream captures subject {subject} (503 no responders)"
        return Outcome(False, False, text, 503)
    if reply.status is not None:
        return Outcome(False, True, f"the server answered status {reply.status}", reply.status)
    try:
        ack = json.loads(reply.payload)
    except ValueError:
        ack = None
    if not isinstance(ack, dict) or not ("stream" in ack or "error" in ack):
        text = f"subject {subject} was answered by a NATS subscriber, not by a JetStream stream"
        return Outcome(False, False, text)
    error = ack.get("error")
    if isinstance(error, dict):
        code = error.get("code") if isinstance(error.get("code"), int) else None
        retryable = code is None or code >= 500 or code == 429  # 503: a stream at its limits
        text = json.dumps({"stream": ack.get("stream"), "error": error})
        return Outcome(False, retryable, text, code)
    return Outcome(True, False, json.dumps(ack))


def parse(recipient: str) -> tuple[Server, str]:
    """The server (with credentials) and the subject of a valid recipient."""
    parts = urlsplit(recipient)
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    host, port, tls = parts.hostname or "", parts.port or DEFAULT_PORT, parts.scheme == "tls"
    if password is not None and not user:
        server = Server(host, port, token=password, tls=tls)
    else:
        server = Server(host, port, user=user or None, password=password, tls=tls)
    return server, parts.path[1:]


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not a NATS subject URL (listing what is expected), or None."""
    why = _problem(recipient)
    if why is None:
        return None
    return (
        f"recipient_url {recipient!r} is not one the nats sink takes ({why}): expected {_EXPECTED}"
    )


def _problem(recipient: str) -> str | None:
    """What is wrong with ``recipient``, in a few words, or None."""
    try:
        parts = urlsplit(recipient)
        parts.port  # noqa: B018  # raises ValueError for a port that is not a number
    except ValueError:
        return "not a URL"
    if parts.scheme not in ("nats", "tls"):
        return "the scheme must be nats or tls"
    if not parts.hostname:
        return "no host"
    if parts.query or parts.fragment:
        return "no query or fragment is read"
    if parts.username and parts.password is None:
        return "a token goes after a colon, nats://:TOKEN@host, so it is stored encrypted"
    return _subject_problem(parts)


def _subject_problem(parts: SplitResult) -> str | None:
    """What is wrong with the subject in the path, or None."""
    subject = parts.path[1:]
    if not subject:
        return "no subject in the path"
    for token in subject.split("."):
        if not _SUBJECT_TOKEN.fullmatch(token) or set(token) & _NOT_IN_SUBJECT:
            return f"subject {subject!r} has an empty token, a space, a wildcard or a %"
    return None


def address(recipient: str) -> tuple[str, int]:
    """The host and port a valid recipient connects to (the SSRF check at subscription)."""
    parts = urlsplit(recipient)
    return parts.hostname or "", parts.port or DEFAULT_PORT


def build(config: Mapping[str, Any]) -> NatsSink:
    """Build the sink from ``DELIVERY_*`` and ``NATS_TLS_CA_FILE``; nothing connects yet."""
    dialler = Dialler(
        networks(config.get("DELIVERY_ALLOWED_NETWORKS") or []),
        float(config.get("DELIVERY_CONNECT_TIMEOUT", 5.0)),
        tls_context(config.get("NATS_TLS_CA_FILE")),
    )
    pool = Pool(dialler, max(64, int(config.get("DELIVERY_CONCURRENCY", 0))))
    return NatsSink(pool, float(config.get("DELIVERY_TOTAL_TIMEOUT", 15.0)))


def tls_context(ca_file: str | None) -> ssl.SSLContext:
    """Verify servers against the system's CAs, or only those in ``ca_file`` when given."""
    try:
        return ssl.create_default_context(cafile=ca_file or None)
    except (OSError, ssl.SSLError) as exc:
        raise ValueError(
            f"NATS_TLS_CA_FILE {ca_file!r} is not a readable PEM file: {exc}"
        ) from None


SINK_TYPE = SinkType("nats", "NATS JetStream", build, recipient_error, address)
