"""The http sink: POST a signed event to a webhook and judge the answer (seed-spec §4.3).

The wire itself (libcurl, redirects, the deadline, the byte cap, the SSRF guard) is
``app.sinks.transport``; this module validates the settings, signs, and classifies every
result as an Outcome.
"""

from __future__ import annotations

import functools
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from app.net.multi import waited
from app.sinks.addresses import Network, networks
from app.sinks.base import DeliveryRequest, Outcome, SinkType
from app.sinks.signing import body_bytes, sign_headers
from app.sinks.transport import (
    Answer,
    InvalidHeader,
    InvalidURL,
    TooManyRedirects,
    Transport,
    TransportError,
)

__all__ = ["HttpSink", "transport_failure"]

_RETRYABLE_STATUSES = frozenset({408, 429})


class HttpSink:
    """Delivers over HTTP through one shared transport; ``start`` sends without a thread."""

    name = "http"

    def __init__(
        self,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        max_redirects: int = 5,
        max_response_bytes: int = 65536,
        max_connections: int = 64,
        *,
        allowed: tuple[Network, ...] | None = None,
    ) -> None:
        """``allowed`` None: no SSRF guard (``build`` always sets one, from the settings)."""
        if connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be positive, got {connect_timeout!r}")
        if total_timeout <= 0:
            raise ValueError(f"total_timeout must be positive, got {total_timeout!r}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be >= 0, got {max_redirects!r}")
        if max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be >= 1, got {max_response_bytes!r}")
        if max_connections < 1:
            raise ValueError(f"max_connections must be >= 1, got {max_connections!r}")
        self.connect_timeout, self.total_timeout = connect_timeout, total_timeout
        self.max_response_bytes = max_response_bytes
        self._transport = Transport(
            max_redirects,
            connect_timeout,
            total_timeout,
            max_response_bytes,
            allowed=allowed,
            max_connections=max_connections,
        )

    def start(self, request: DeliveryRequest, done: Callable[[Outcome], None]) -> None:
        """POST the event to ``request.recipient``; ``done`` gets the Outcome later, on the
        transport's thread (never from inside this call). Every failure is an Outcome."""
        started = time.monotonic()

        def judged(result: Answer | TransportError) -> None:
            if isinstance(result, TransportError):
                outcome = transport_failure(result, self.max_response_bytes)
            else:
                outcome = judge(result)
            done(replace(outcome, duration_ms=round((time.monotonic() - started) * 1000)))

        try:
            body = body_bytes(request)
            headers = sign_headers(request, body)
        except (TypeError, ValueError) as exc:  # unserialisable payload, no or bad token
            refused = Outcome(False, False, f"cannot serialise or sign the event: {exc}")
            self._transport.later(lambda: done(refused))
            return
        deadline = started + self.total_timeout
        self._transport.start(request.recipient, body, headers, deadline, judged)

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """``start`` and wait for the Outcome."""
        return waited(functools.partial(self.start, request))

    def close(self) -> None:
        """Close the connections and the transport's thread."""
        self._transport.close()


def judge(answer: Answer) -> Outcome:
    """2xx is delivered; 5xx, 408 and 429 retry; a 301-303 would lose the body; else final."""
    # surrogateescape keeps undecodable bytes, which the log stores escaped (escaping.py)
    text = answer.body.decode("utf-8", errors="surrogateescape") or answer.reason
    status = answer.status
    retry_after = retry_after_seconds(answer.headers.get("retry-after"))
    if answer.drops_body:
        # Following a 301/302/303 would re-send the event as a bodiless GET: not a delivery.
        hops = ", ".join(str(s) for s in [*answer.history, status])
        text = f"redirect ({hops}) would re-send the event as a bodiless GET; use 307/308"
        return Outcome(False, False, text, status, retry_after)
    if 200 <= status < 300:
        return Outcome(True, False, text, status, retry_after)
    retryable = status >= 500 or status in _RETRYABLE_STATUSES
    return Outcome(False, retryable, text, status, retry_after, gone=status == 410)


def transport_failure(exc: TransportError, cap: int) -> Outcome:
    """An exchange without an answer: network trouble and timeouts retry; a bad URL, a
    redirect loop and the SSRF guard's refusal do not. The transport's text says which
    (``timed out after 15.0 s``, ``connection refused: ...``)."""
    named = isinstance(exc, (InvalidURL, InvalidHeader, TooManyRedirects))  # which rule
    text = f"{type(exc).__name__}: {exc}" if named else str(exc)
    return Outcome(False, exc.retryable, text[:cap])


def retry_after_seconds(value: str | None) -> int | None:
    """Return a numeric Retry-After in seconds; HTTP-dates are ignored, as Magento does."""
    if value is None or not re.fullmatch(r"\s*\d{1,9}\s*", value):
        return None
    return int(value)


def build(config: Mapping[str, Any]) -> HttpSink:
    """Build the webhook sink from the ``DELIVERY_*`` settings."""
    return HttpSink(
        connect_timeout=config.get("DELIVERY_CONNECT_TIMEOUT", 5.0),
        total_timeout=config.get("DELIVERY_TOTAL_TIMEOUT", 15.0),
        max_redirects=config.get("DELIVERY_MAX_REDIRECTS", 5),
        max_response_bytes=config.get("DELIVERY_MAX_RESPONSE_BYTES", 65536),
        # Idle keep-alive connections kept: one for each attempt a worker may have in
        # flight (the dispatcher's 4 x DELIVERY_CONCURRENCY), so none is closed and redialled.
        max_connections=max(64, 4 * config.get("DELIVERY_CONCURRENCY", 0)),
        allowed=networks(config.get("DELIVERY_ALLOWED_NETWORKS") or []),
    )


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not an http(s) URL with a host, or None if it is one."""
    try:
        parts = urlsplit(recipient)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if ok:
        return None
    return f"recipient_url {recipient!r} is not an http(s) URL, as the http sink needs"


def address(recipient: str) -> tuple[str, int]:
    """The host and port an http(s) recipient connects to first (redirects are checked as sent)."""
    parts = urlsplit(recipient)
    return parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80)


SINK_TYPE = SinkType("http", "HTTP", build, recipient_error, address)
