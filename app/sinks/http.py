"""The http sink: POST a signed event to a webhook and judge the answer (seed-spec §4.3).

The wire itself (pooled session, redirects, timeouts, byte cap) is ``app.sinks.transport``;
this module validates the settings, signs, and classifies every result as an Outcome.
"""

from __future__ import annotations

import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

import urllib3
from urllib3.exceptions import ConnectTimeoutError, LocationValueError, URLSchemeUnknown

from app.sinks.addresses import ForbiddenAddress, guarded_manager, networks
from app.sinks.base import DeliveryRequest, Outcome, SinkType
from app.sinks.signing import body_bytes, sign_headers
from app.sinks.transport import PoolFactory, TooManyRedirects, Transport, pooled_manager

__all__ = ["HttpSink", "PoolFactory", "pooled_manager"]

_BAD_URL = (LocationValueError, URLSchemeUnknown, TooManyRedirects)
_NETWORK_ERRORS = (
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (socket.gaierror, "DNS lookup failed"),
    (ssl.SSLError, "TLS error"),  # certificate failures included
)
_RETRYABLE_STATUSES = frozenset({408, 429})
_NETWORK = (
    urllib3.exceptions.NewConnectionError,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.SSLError,
)


class HttpSink:
    """Delivers over HTTP with one pooled, thread-safe client shared by every caller."""

    name = "http"

    def __init__(
        self,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        max_redirects: int = 5,
        max_response_bytes: int = 65536,
        pool_maxsize: int = 64,
        *,
        pool_factory: PoolFactory = pooled_manager,
    ) -> None:
        if connect_timeout <= 0:
            raise ValueError(f"connect_timeout must be positive, got {connect_timeout!r}")
        if total_timeout <= 0:
            raise ValueError(f"total_timeout must be positive, got {total_timeout!r}")
        if max_redirects < 0:
            raise ValueError(f"max_redirects must be >= 0, got {max_redirects!r}")
        if max_response_bytes < 1:
            raise ValueError(f"max_response_bytes must be >= 1, got {max_response_bytes!r}")
        if pool_maxsize < 1:
            raise ValueError(f"pool_maxsize must be >= 1, got {pool_maxsize!r}")
        self.connect_timeout, self.total_timeout = connect_timeout, total_timeout
        self.max_response_bytes = max_response_bytes
        self._transport = Transport(
            pool_factory(pool_maxsize),
            max_redirects,
            connect_timeout,
            total_timeout,
            max_response_bytes,
        )

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """POST the event to ``request.recipient``; every failure becomes an Outcome."""
        started = time.monotonic()
        try:
            body = body_bytes(request)
            headers = sign_headers(request, body)
        except (TypeError, ValueError) as exc:  # unserialisable payload, no or bad token
            return Outcome(False, False, f"cannot serialise or sign the event: {exc}")
        try:
            outcome = self._post(request.recipient, body, headers, started + self.total_timeout)
        except urllib3.exceptions.HTTPError as exc:
            outcome = self._failure(exc)
        return replace(outcome, duration_ms=round((time.monotonic() - started) * 1000))

    def close(self) -> None:
        """Close the pooled connections."""
        self._transport.close()

    def _post(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> Outcome:
        """Send through the transport and judge the final response."""
        answer = self._transport.post(url, body, headers, deadline)
        # surrogateescape keeps undecodable bytes, which the log stores escaped (escaping.py)
        text = answer.body.decode("utf-8", errors="surrogateescape") or answer.reason
        status = answer.status
        retry_after = retry_after_seconds(answer.headers.get("Retry-After"))
        if answer.drops_body:
            # Following a 301/302/303 would re-send the event as a bodiless GET: not a delivery.
            hops = ", ".join(str(s) for s in [*answer.history, status])
            text = f"redirect ({hops}) would re-send the event as a bodiless GET; use 307/308"
            return Outcome(False, False, text, status, retry_after)
        if 200 <= status < 300:
            return Outcome(True, False, text, status, retry_after)
        retryable = status >= 500 or status in _RETRYABLE_STATUSES
        return Outcome(False, retryable, text, status, retry_after, gone=status == 410)

    def _failure(self, exc: Exception) -> Outcome:
        """Turn a transport error into an Outcome: network trouble retries, bad URLs don't."""
        # urllib3 makes NewConnectionError a ConnectTimeoutError, for old callers' sake.
        timeout = not isinstance(exc, urllib3.exceptions.NewConnectionError)
        if timeout and isinstance(exc, ConnectTimeoutError):
            return Outcome(False, True, f"connect timed out after {self.connect_timeout} s")
        if timeout and isinstance(exc, urllib3.exceptions.TimeoutError):
            return Outcome(False, True, f"timed out after {self.total_timeout} s")
        text = f"{type(exc).__name__}: {exc}"[: self.max_response_bytes]
        if isinstance(exc, _BAD_URL):
            return Outcome(False, False, text)
        refused = forbidden_cause(exc)
        if refused is not None:  # the SSRF guard: retrying cannot help
            return Outcome(False, False, str(refused).split(": ", 1)[-1])
        if isinstance(exc, _NETWORK):
            text = describe_network_error(exc)[: self.max_response_bytes]
        return Outcome(False, True, text)


def retry_after_seconds(value: str | None) -> int | None:
    """Return a numeric Retry-After in seconds; HTTP-dates are ignored, as Magento does."""
    if value is None or not re.fullmatch(r"\s*\d{1,9}\s*", value):
        return None
    return int(value)


def forbidden_cause(exc: BaseException) -> ForbiddenAddress | None:
    """The SSRF guard's refusal inside a transport error, if that is what it was."""
    seen: BaseException | None = exc
    for _ in range(10):
        if seen is None or isinstance(seen, ForbiddenAddress):
            return seen
        nested = getattr(seen, "reason", None) or seen.__cause__ or seen.__context__
        nested = nested or _wrapped(seen)
        seen = nested if isinstance(nested, BaseException) else None
    return None


def _wrapped(exc: BaseException) -> BaseException | None:
    """The exception ``exc`` carries among its args, as ProtocolError("...", cause) does."""
    return next((arg for arg in exc.args if isinstance(arg, BaseException)), None)


def describe_network_error(exc: BaseException) -> str:
    """Name what went wrong (refused, DNS, TLS...) from the innermost cause."""
    root = exc
    for _ in range(10):  # NewConnectionError -> OSError, SSLError -> ssl.SSLError, ...
        nested = getattr(root, "reason", None) or root.__cause__ or _wrapped(root)
        if not isinstance(nested, BaseException):
            break
        root = nested
    label = next((text for kind, text in _NETWORK_ERRORS if isinstance(root, kind)), "")
    return f"{label or 'connection failed'}: {root}"


def build(config: Mapping[str, Any]) -> HttpSink:
    """Build the webhook sink from the ``DELIVERY_*`` settings."""
    return HttpSink(
        connect_timeout=config.get("DELIVERY_CONNECT_TIMEOUT", 5.0),
        total_timeout=config.get("DELIVERY_TOTAL_TIMEOUT", 15.0),
        max_redirects=config.get("DELIVERY_MAX_REDIRECTS", 5),
        max_response_bytes=config.get("DELIVERY_MAX_RESPONSE_BYTES", 65536),
        # One pooled connection per fan-out thread, so none is opened and thrown away.
        pool_maxsize=max(64, config.get("DELIVERY_CONCURRENCY", 0)),
        pool_factory=guarded_manager(networks(config.get("DELIVERY_ALLOWED_NETWORKS") or [])),
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
