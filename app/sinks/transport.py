"""Carries the http sink's POSTs over urllib3: pooled keep-alive, redirects, time and byte limits.

``Transport`` owns the wire and nothing else: it sends, follows 307/308 redirects, bounds
the whole exchange by one total deadline (``app.net.deadline``), and caps the bytes
read. Judging the answer is the sink's job. It talks to urllib3 directly, not through
requests: on the delivery path requests cost ~0.4 ms of CPU per POST (its session, hooks
and header merging) against ~0.15 ms for the same POST through urllib3.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin

import urllib3
from urllib3.exceptions import LocationValueError
from urllib3.util import parse_url

from app.net.deadline import WATCHED_POOLS, DeadlineExceeded, Watchdog

__all__ = ["Answer", "DeadlineExceeded", "InvalidURL", "TooManyRedirects", "Transport"]

PoolFactory = Callable[[int], urllib3.PoolManager]
_CHUNK = 16 * 1024
_FOLLOWED = frozenset({307, 308})  # they keep the method and the body
_DROPS_BODY = frozenset({301, 302, 303})  # a client would re-send these as a bodiless GET


class InvalidURL(LocationValueError):
    """The recipient is not an http(s) URL with a host; retrying cannot help."""


class TooManyRedirects(urllib3.exceptions.HTTPError):
    """More 307/308 hops than ``max_redirects``."""


@dataclass
class Answer:
    """The final response: status, headers, the bytes read, and the redirects before it."""

    status: int
    reason: str
    headers: urllib3.HTTPHeaderDict
    body: bytes
    history: list[int] = field(default_factory=list)  # statuses of the hops followed

    @property
    def drops_body(self) -> bool:
        """A 301/302/303: following it would have turned the POST into a bodiless GET."""
        return self.status in _DROPS_BODY and "location" in self.headers


def pooled_manager(pool_maxsize: int) -> urllib3.PoolManager:
    """Keep-alive pools, no automatic retries (our jobs retry) and no redirects (we do).

    The pools' connections are watched (``deadline.watched_pool``): without that, the
    total deadline could not cut a read in progress. SSRF hook: every connection, the
    first and each redirect hop alike, is opened through the manager's pools. A guard
    replaces this (``HttpSink(pool_factory=...)``) with watched pools whose connections
    also check the addresses they connect to; checking the URL alone misses DNS
    rebinding and redirects.
    """
    manager = urllib3.PoolManager(num_pools=pool_maxsize, maxsize=pool_maxsize, retries=False)
    manager.pool_classes_by_scheme = WATCHED_POOLS
    return manager


class Transport:
    """One pooled, thread-safe client that POSTs under a total deadline and a byte cap.

    The deadline covers the whole exchange: connect, TLS handshake, sending, status
    line, headers, body and every redirect hop. Bodies are read as they came over the
    wire, never decompressed (we ask for ``identity``; a gzip bomb stays a small blob),
    so at most ``max_response_bytes`` are read and kept.
    """

    def __init__(
        self,
        manager: urllib3.PoolManager,
        max_redirects: int,
        connect_timeout: float,
        total_timeout: float,
        max_response_bytes: int,
    ) -> None:
        self.manager = manager
        self.max_redirects = max_redirects
        self.connect_timeout, self.total_timeout = connect_timeout, total_timeout
        self.max_response_bytes = max_response_bytes
        self.watchdog = Watchdog("http-deadline")

    def post(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> Answer:
        """Send, follow 307/308, and read at most ``max_response_bytes``, all before ``deadline``.

        Raises urllib3's exceptions as they come, ``InvalidURL``, ``TooManyRedirects``,
        and ``DeadlineExceeded`` once ``deadline`` passed, whatever else went wrong then
        (a cut exchange looks like a peer that hung up, or even like a short answer).
        """
        headers = {"User-Agent": "async-events", **headers}
        with self.watchdog.watch(deadline) as exchange:
            try:
                answer = self._follow(url, body, headers, deadline)
            except Exception as exc:
                if exchange.expired or time.monotonic() >= deadline:
                    raise self._late() from exc
                raise
        if exchange.expired:
            raise self._late()
        return answer

    def close(self) -> None:
        """Close the pooled connections and stop the watchdog."""
        self.manager.clear()
        self.watchdog.close()

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"timed out after {self.total_timeout} s")

    def _follow(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> Answer:
        """Make the hops: at most ``max_redirects`` 307/308s, then the final answer."""
        history: list[int] = []
        while True:
            answer = self._hop(_checked(url), body, headers, deadline)
            location = answer.headers.get("location")
            if answer.status not in _FOLLOWED or location is None:
                answer.history = history
                return answer
            if len(history) >= self.max_redirects:
                raise TooManyRedirects(f"Exceeded {self.max_redirects} redirects.")
            history.append(answer.status)
            url = urljoin(url, location)

    def _hop(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> Answer:
        """One request; a redirect's body is never read (we never need it)."""
        left = deadline - time.monotonic()
        if left <= 0:
            raise self._late()
        timeout = urllib3.Timeout(connect=min(self.connect_timeout, left), read=left)
        response = self.manager.urlopen(
            "POST",
            url,
            body=body,
            headers=headers,
            timeout=timeout,
            redirect=False,
            preload_content=False,
            decode_content=False,
        )
        try:
            if response.status in _FOLLOWED or response.status in _DROPS_BODY:
                data, complete = b"", False
            else:
                data, complete = self._read_capped(response, deadline)
        except BaseException:
            response.close()
            raise
        if not complete:
            response.close()  # unread bytes: the connection cannot be reused
        response.release_conn()
        return Answer(response.status, response.reason or "", response.headers, data)

    def _read_capped(self, response: urllib3.BaseHTTPResponse, deadline: float) -> tuple:
        """Read raw bytes until EOF, the byte cap, or the deadline; return (bytes, at EOF?)."""
        chunks: list[bytes] = []
        size = 0
        while size < self.max_response_bytes:
            if time.monotonic() > deadline:
                raise self._late()
            # read1 returns what one socket read brings, so the deadline is checked often.
            chunk = response.read1(min(_CHUNK, self.max_response_bytes - size))
            if not chunk:
                return b"".join(chunks), True
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks), False


@functools.lru_cache(maxsize=4096)  # recipients repeat: parse each once
def _checked(url: str) -> str:
    """``url`` if it is an http(s) URL with a plausible host, else InvalidURL."""
    try:
        parts = parse_url(url)
    except LocationValueError as exc:
        raise InvalidURL(f"Invalid URL {url!r}: {exc}") from None
    host = parts.host or ""
    if parts.scheme not in ("http", "https") or not host or any(c.isspace() for c in host):
        raise InvalidURL(f"Invalid URL {url!r}: not an http(s) URL with a host")
    return url
