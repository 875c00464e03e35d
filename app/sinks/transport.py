"""Carries the http sink's POSTs: pooled adapter, shared session, redirect and time limits.

``Transport`` owns the wire and nothing else: it sends, bounds every hop and the body
read by one total deadline, and caps the bytes read. Judging the answer is the sink's job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from http.cookiejar import DefaultCookiePolicy
from typing import Any

import requests
import urllib3
from requests.adapters import HTTPAdapter

AdapterFactory = Callable[[int], HTTPAdapter]
_CHUNK = 16 * 1024


def pooled_adapter(pool_maxsize: int) -> HTTPAdapter:
    """Build the transport: keep-alive pools, no automatic retries (our jobs retry).

    SSRF hook: every connection, the first and each redirect hop alike, is opened
    through this adapter. A guard replaces it (``HttpSink(adapter_factory=...)``) with
    one whose pool manager checks the resolved peer address at connect time, before
    any byte is sent; checking the URL alone misses DNS rebinding and redirects.
    """
    return HTTPAdapter(pool_connections=pool_maxsize, pool_maxsize=pool_maxsize, max_retries=0)


class Transport:
    """One pooled, thread-safe session that POSTs under a total deadline and a byte cap."""

    def __init__(
        self,
        adapter: HTTPAdapter,
        max_redirects: int,
        connect_timeout: float,
        total_timeout: float,
        max_response_bytes: int,
    ) -> None:
        self.total_timeout = total_timeout
        self.max_response_bytes = max_response_bytes
        # urllib3 bounds each hop by ``total``; _hop_guard and _read_capped bound the whole.
        self._timeout = urllib3.Timeout(
            connect=connect_timeout, read=total_timeout, total=total_timeout
        )
        self._session = _session(adapter, max_redirects)

    def post(
        self, url: str, body: bytes, headers: dict[str, str], deadline: float
    ) -> tuple[requests.Response, bytes]:
        """Send, and read at most ``max_response_bytes`` before ``deadline``.

        Returns the (closed) final response, redirect history included, and the bytes
        read. Raises requests' and urllib3's exceptions as they come, ``ReadTimeout``
        once ``deadline`` passes on any hop or during the read.
        """
        hook = _hop_guard(deadline, self.total_timeout)
        with self._session.post(
            url,
            data=body,
            headers=headers,
            timeout=self._timeout,
            stream=True,
            hooks={"response": hook},
        ) as response:
            raw = self._read_capped(response.raw, deadline)
        return response, raw

    def close(self) -> None:
        """Close the pooled connections."""
        self._session.close()

    def _read_capped(self, raw: urllib3.BaseHTTPResponse, deadline: float) -> bytes:
        """Read the body until EOF, the byte cap, or the deadline (a slow drip must not pin us)."""
        chunks: list[bytes] = []
        size = 0
        while size < self.max_response_bytes:
            if time.monotonic() > deadline:
                raise requests.ReadTimeout("total timeout while reading the response")
            # read1 returns what one socket read brings, so the deadline is checked often.
            chunk = raw.read1(min(_CHUNK, self.max_response_bytes - size), decode_content=True)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        return b"".join(chunks)[: self.max_response_bytes]


def _session(adapter: HTTPAdapter, max_redirects: int) -> requests.Session:
    """Build the shared session: no cookies, no environment, our adapter for both schemes."""
    session = requests.Session()
    session.max_redirects = max_redirects
    # Cookies would leak from one subscriber to the next; ~/.netrc credentials would be
    # sent to subscriber URLs. Neither belongs in a webhook sender.
    session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    session.trust_env = False
    session.headers["User-Agent"] = "async-events"
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def _hop_guard(deadline: float, total: float) -> Callable[..., requests.Response]:
    """Return a response hook run on every hop, so redirects share one total timeout."""

    def check(response: requests.Response, *args: Any, **kwargs: Any) -> requests.Response:
        if response.is_redirect:
            # requests would read a redirect's whole body, however large; we never need it.
            response.close()
            response._content = b""
        if time.monotonic() > deadline:
            response.close()
            raise requests.ReadTimeout(f"timed out after {total} s")
        return response

    return check
