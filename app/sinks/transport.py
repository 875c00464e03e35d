"""Carries the sinks' POSTs: libcurl's multi interface, redirects, time and byte limits, SSRF guard.

``Transport`` owns the wire and nothing else: it sends, follows 307/308 redirects, bounds
the whole exchange by one total deadline, caps the bytes read, and lets libcurl dial only
the addresses the SSRF policy allows. Judging the answer is the sink's job.

Every exchange runs on one thread per process (``app.net.multi``), so ``start`` returns at
once and calls back when the answer is in: a worker keeps thousands of deliveries in flight
without a thread each. ``post`` is the blocking form, for callers that have a thread anyway.
Why libcurl: bench/senders.py measured 13-15 µs of CPU per signed POST, against 286-295 µs
for urllib3 on threads (README, "Dependencies and why").

Guarantees, each tested in tests/sinks/test_http_deadlines.py:
- The deadline covers connect, TLS, sending, status line, headers, body and every hop
  (libcurl's ``TIMEOUT_MS`` is wall-clock over the transfer, set to what is left).
- Bodies are kept as they came over the wire, never decompressed (we ask for
  ``identity`` and do not let libcurl decode), and at most ``max_response_bytes`` are
  read: the transfer is stopped there and its connection closed.
- With a guard (``allowed``), every socket libcurl opens, first hop or redirect, is
  checked on the address it is about to dial, so neither DNS rebinding nor a redirect
  reaches a forbidden address; a refused one is never dialled.
- No proxy from the environment is used, and only http and https are spoken.
"""

from __future__ import annotations

import errno
import functools
import os
import re
import socket
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from http import HTTPStatus
from urllib.parse import quote, urljoin, urlsplit

import pycurl

from app.net.multi import CLOSED, Loop, waited
from app.sinks.addresses import Network, refusal

__all__ = [
    "Answer",
    "Forbidden",
    "InvalidHeader",
    "InvalidURL",
    "NetworkError",
    "TimedOut",
    "TooManyRedirects",
    "Transport",
    "TransportError",
]

_FOLLOWED = frozenset({307, 308})  # they keep the method and the body
_DROPS_BODY = frozenset({301, 302, 303})  # a client would re-send these as a bodiless GET
_TLS_ERRORS = frozenset({35, 51, 53, 54, 58, 59, 60, 64, 66, 77, 80, 82, 83, 90, 91, 98})
_RESET_ERRORS = frozenset({52, 55, 56})  # nothing came back, send or receive failed
_RESET_ERRNOS = frozenset({errno.ECONNRESET, errno.EPIPE})
_WEIRD_REPLY = 8
_ECONNREFUSED = errno.ECONNREFUSED
_NUL_NOTE = b"(the answer had a NUL byte in a header; its body was not read)"


class TransportError(Exception):
    """An exchange that brought no answer; ``retryable`` says whether trying later can help."""

    retryable = True


class InvalidURL(TransportError):
    """The recipient is not an http(s) URL with a host; retrying cannot help."""

    retryable = False


class InvalidHeader(TransportError):
    """A header that would break the request (CR, LF or NUL, or not Latin-1): never sent,
    as it could inject headers of its own; retrying cannot help."""

    retryable = False


class TooManyRedirects(TransportError):
    """More 307/308 hops than ``max_redirects``."""

    retryable = False


class Forbidden(TransportError):
    """The SSRF guard refused every address the host resolved to; the text says which."""

    retryable = False


class TimedOut(TransportError):
    """The deadline (or, before a connection was made, the connect timeout) ran out."""

    def __init__(self, message: str, connecting: bool) -> None:
        super().__init__(message)
        self.connecting = connecting


class NetworkError(TransportError):
    """Refused, reset, DNS, TLS, garbage: the text starts with which (``TLS error: ...``)."""


@dataclass
class Answer:
    """The final response: status, headers (lower-case names), bytes read, redirects before it."""

    status: int
    reason: str
    headers: dict[str, str]
    body: bytes
    history: list[int] = field(default_factory=list)  # statuses of the hops followed

    @property
    def drops_body(self) -> bool:
        """A 301/302/303: following it would have turned the POST into a bodiless GET."""
        return self.status in _DROPS_BODY and "location" in self.headers


Finished = Callable[[Answer | TransportError], None]


class Transport:
    """A shared client that POSTs under a total deadline and a byte cap; thread-safe."""

    def __init__(
        self,
        max_redirects: int,
        connect_timeout: float,
        total_timeout: float,
        max_response_bytes: int,
        *,
        allowed: Sequence[Network] | None = None,
        max_connections: int = 64,
    ) -> None:
        """``allowed`` None: no address guard (tests, benchmarks); else the SSRF policy's
        allowed networks, everything private, loopback, metadata... refused outside them."""
        self.max_redirects = max_redirects
        self.connect_timeout, self.total_timeout = connect_timeout, total_timeout
        self.max_response_bytes = max_response_bytes
        self.allowed = None if allowed is None else tuple(allowed)
        self.max_connections = max_connections
        self._loop: Loop | None = None
        self._lock = threading.Lock()
        self._ca = _ca_options()

    def start(
        self, url: str, body: bytes, headers: dict[str, str], deadline: float, done: Finished
    ) -> None:
        """Send, follow 307/308 and read at most ``max_response_bytes``, all before
        ``deadline``; then call ``done`` with the Answer or a TransportError, on the
        transport's thread. Returns at once; ``done`` is never called from here."""
        try:
            lines = _header_lines(headers)
        except InvalidHeader as exc:
            self.later(functools.partial(done, exc))
            return
        exchange = _Exchange(self, url, body, [*_FIXED_HEADERS, *lines], deadline, done)
        self._running_loop().add(exchange.hop)

    def post(self, url: str, body: bytes, headers: dict[str, str], deadline: float) -> Answer:
        """``start`` and wait: the Answer, or the TransportError raised."""
        result = waited(functools.partial(self.start, url, body, headers, deadline))
        if isinstance(result, TransportError):
            raise result
        return result

    def later(self, done: Callable[[], None]) -> None:
        """Run ``done`` on the transport's thread soon: for a caller that must never be
        called back from inside its own call (a sink refusing a request before sending)."""

        def job(handle: pycurl.Curl | None) -> None:
            done()

        self._running_loop().add(job)

    def close(self) -> None:
        """End the exchanges in flight (``TransportError``), close connections and thread."""
        with self._lock:
            loop, self._loop = self._loop, None
        if loop is not None and loop.here:
            loop.close()

    @property
    def running(self) -> bool:
        """Whether this process's sending thread has started: on the first exchange."""
        loop = self._loop
        return loop is not None and loop.here

    def _running_loop(self) -> Loop:
        """This process's loop, started on first use (a forked child starts its own)."""
        loop = self._loop
        if loop is None or not loop.here:
            with self._lock:
                loop = self._loop
                if loop is None or not loop.here:
                    loop = self._loop = Loop("http-sender", self.max_connections)
        return loop

    def configure(self, handle: pycurl.Curl, exchange: _Exchange, url: str) -> None:
        """Set the options of one hop; those that never change, once per handle."""
        if not getattr(handle, "configured", False):
            handle.setopt(pycurl.FOLLOWLOCATION, 0)
            handle.setopt(pycurl.PROTOCOLS, pycurl.PROTO_HTTP | pycurl.PROTO_HTTPS)
            handle.setopt(pycurl.PROXY, "")  # never a proxy from http_proxy and the like
            for option, value in self._ca:
                handle.setopt(option, value)
            if self.allowed is not None:
                guard = functools.partial(self._open_socket, handle)
                handle.setopt(pycurl.OPENSOCKETFUNCTION, guard)
            handle.configured = True
        left = exchange.deadline - time.monotonic()
        handle.exchange = exchange  # for _open_socket
        handle.setopt(pycurl.URL, url)
        handle.setopt(pycurl.POSTFIELDS, exchange.body)
        handle.setopt(pycurl.HTTPHEADER, exchange.headers)
        handle.setopt(pycurl.TIMEOUT_MS, max(1, int(left * 1000)))
        handle.setopt(pycurl.CONNECTTIMEOUT_MS, max(1, int(min(left, self.connect_timeout) * 1000)))
        handle.setopt(pycurl.HEADERFUNCTION, exchange.head.append)  # parsed once, at the end
        handle.setopt(pycurl.WRITEFUNCTION, exchange.on_body)

    def _open_socket(
        self, handle: pycurl.Curl, purpose: int, address: tuple
    ) -> socket.socket | int:
        """libcurl is about to dial ``address`` for ``handle``: refuse it if the policy
        forbids it (the exchange remembers why, to say so if no other address works)."""
        family, socktype, protocol, sockaddr = address
        why = refusal([str(sockaddr[0])], self.allowed or ())
        if why:
            handle.exchange.refused = why
            return pycurl.SOCKET_BAD
        return socket.socket(family, socktype, protocol)


_FIXED_HEADERS = [
    b"User-Agent: async-events",
    b"Accept-Encoding: identity",  # a body is stored as it came: never a gzip bomb
    b"Expect:",  # no 100-continue round trip before a large body
]


class _Exchange:
    """One POST through its hops, on the transport's thread."""

    def __init__(
        self,
        transport: Transport,
        url: str,
        body: bytes,
        headers: list[bytes],
        deadline: float,
        done: Finished,
    ) -> None:
        self.transport, self.url, self.body, self.headers = transport, url, body, headers
        self.deadline, self.done = deadline, done
        self.history: list[int] = []
        self.refused: str | None = None
        self._reset()

    def _reset(self) -> None:
        self.head: list[bytes] = []  # raw header lines, every response of the hop (1xx too)
        self.chunks: list[bytes] = []
        self.size = 0
        self.stopped = False  # we stopped reading: the cap, or a redirect's body

    def hop(self, handle: pycurl.Curl | None) -> Callable | None:
        """Start the next hop on ``handle`` (None: the transport closed), or finish now."""
        if handle is None:
            self.done(TransportError("the HTTP client was closed"))
            return None
        if time.monotonic() >= self.deadline:
            self.done(self._late())
            return None
        try:
            url = _checked(self.url)
            self._reset()
            self.transport.configure(handle, self, url)
        except InvalidURL as exc:
            self.done(exc)
            return None
        except Exception as exc:  # libcurl refused an option: this exchange fails, alone
            self.done(InvalidURL(f"Invalid URL {self.url!r}: {type(exc).__name__}: {exc}"))
            return None
        return self.finished

    def on_body(self, data: bytes) -> int | None:
        """Keep up to the cap; past it, or for a redirect, stop the transfer (returning 0)."""
        status = _status(self.head)  # (pycurl allows no getinfo while a transfer runs)
        if status in _FOLLOWED or status in _DROPS_BODY:
            self.stopped = True
            return 0
        room = self.transport.max_response_bytes - self.size
        if len(data) >= room:
            self.chunks.append(data[:room])
            self.size += room
            self.stopped = True
            return 0
        self.chunks.append(data)
        self.size += len(data)
        return None

    def finished(self, handle: pycurl.Curl, code: int, message: str) -> None:
        """A hop ended: follow a redirect, or hand over the answer or the error."""
        handle.exchange = None  # an idle handle holds no body
        status = handle.getinfo(pycurl.RESPONSE_CODE)
        if code == pycurl.E_WRITE_ERROR and self.stopped and status:
            code = 0  # we stopped it, with the status and headers in hand
        if code == _WEIRD_REPLY and status and "nul byte" in message.lower():
            # RFC 9110 §5.5: such a message is rejected or the NUL replaced; libcurl stops
            # reading at it. The receiver did answer: its status stands, its body is lost,
            # so a delivery it accepted is not sent again.
            self.stopped, self.chunks = True, [_NUL_NOTE]
            code = 0
        if code:
            self.done(self._error(handle, code, message))
            return
        reason, headers = _parse(self.head)
        location = headers.get("location")
        if status in _FOLLOWED and location is not None:
            if len(self.history) >= self.transport.max_redirects:
                self.done(TooManyRedirects(f"Exceeded {self.transport.max_redirects} redirects."))
                return
            self.history.append(status)
            self.url = urljoin(self.url, location)
            self.transport._running_loop().add(self.hop)
            return
        body = b"".join(self.chunks)
        self.done(Answer(status, reason or _phrase(status), headers, body, self.history))

    def _error(self, handle: pycurl.Curl, code: int, message: str) -> TransportError:
        """Name what went wrong from libcurl's code (and the socket's errno)."""
        if code == CLOSED:
            return TransportError(message)
        if self.refused and code == pycurl.E_COULDNT_CONNECT:
            return Forbidden(self.refused)
        if code == pycurl.E_OPERATION_TIMEDOUT or time.monotonic() >= self.deadline:
            connecting = handle.getinfo(pycurl.CONNECT_TIME) == 0
            if connecting and time.monotonic() < self.deadline:
                seconds = self.transport.connect_timeout
                return TimedOut(f"connect timed out after {seconds} s", True)
            return self._late()
        # (UNSUPPORTED_PROTOCOL cannot be the URL's, which _checked passed: it is a server
        # answering in HTTP/0.9 or worse, a "connection failed" below.)
        if code == pycurl.E_URL_MALFORMAT:
            return InvalidURL(f"Invalid URL {self.url!r}: {message}")
        if code == pycurl.E_COULDNT_RESOLVE_HOST:
            return NetworkError(f"DNS lookup failed: {message}")
        if code == pycurl.E_COULDNT_CONNECT:
            refused = handle.getinfo(pycurl.OS_ERRNO) == _ECONNREFUSED
            return NetworkError(f"connection {'refused' if refused else 'failed'}: {message}")
        if code in _TLS_ERRORS:
            return NetworkError(f"TLS error: {message}")
        if code in _RESET_ERRORS and handle.getinfo(pycurl.OS_ERRNO) in _RESET_ERRNOS:
            return NetworkError(f"connection reset: {message}")
        return NetworkError(f"connection failed: {message}")

    def _late(self) -> TimedOut:
        return TimedOut(f"timed out after {self.transport.total_timeout} s", False)


def _header_lines(headers: dict[str, str]) -> list[bytes]:
    """``Name: value`` lines for libcurl, which sends each as it is: a CR or LF in one
    would start a header (or a body) of its own, so those are refused, as NUL is."""
    lines = []
    for name, value in headers.items():
        if _UNSENDABLE.search(name) or _UNSENDABLE.search(value) or ":" in name:
            raise InvalidHeader(f"header {name!r} cannot be sent: CR, LF, NUL or a colon")
        try:
            lines.append(b"%s: %s" % (name.encode("latin-1"), value.encode("latin-1")))
        except UnicodeEncodeError:
            raise InvalidHeader(f"header {name!r} cannot be sent: not Latin-1") from None
    return lines


_UNSENDABLE = re.compile(r"[\r\n\x00]")


def _parse(lines: list[bytes]) -> tuple[str, dict[str, str]]:
    """The reason phrase and headers (lower-case names) of the last response in ``lines``."""
    reason, headers = "", {}
    for line in lines:
        if line.startswith(b"HTTP/"):  # a new response (after a 1xx, say): start over
            parts = line.split(None, 2)
            reason = parts[2].decode("latin-1").strip() if len(parts) > 2 else ""
            headers = {}
            continue
        name, colon, value = line.partition(b":")
        if colon:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    return reason, headers


def _status(lines: list[bytes]) -> int:
    """The status code of the last response in ``lines`` (0: none yet)."""
    for line in reversed(lines):
        if line.startswith(b"HTTP/"):
            parts = line.split(None, 2)
            return int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
    return 0


@functools.lru_cache(maxsize=4096)  # recipients repeat: check each once
def _checked(url: str) -> str:
    """``url`` as libcurl takes it (ASCII: an IDN host in punycode, other text
    percent-encoded) if it is an http(s) URL with a host, else InvalidURL."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or ""
    except ValueError as exc:  # an unclosed IPv6 bracket, a bad port...
        raise InvalidURL(f"Invalid URL {url!r}: {exc}") from None
    if parts.scheme not in ("http", "https") or not host or _CONTROL.search(url):
        raise InvalidURL(f"Invalid URL {url!r}: not an http(s) URL with a host")
    if url.isascii():
        return url
    userinfo, at, hostport = parts.netloc.rpartition("@")
    if not hostport.startswith("["):  # an IPv6 literal is ASCII already
        name, colon, port = hostport.partition(":")
        try:
            hostport = name.encode("idna").decode("ascii") + colon + port
        except UnicodeError as exc:
            raise InvalidURL(f"Invalid URL {url!r}: {exc}") from None
    # Every other non-ASCII character is percent-encoded as UTF-8; printable ASCII stays.
    return quote(parts._replace(netloc=userinfo + at + hostport).geturl(), safe=_SAFE)


_CONTROL = re.compile(r"[\x00-\x20\x7f\s]")  # control characters and spaces of any kind
_SAFE = "".join(chr(c) for c in range(0x21, 0x7F))


def _phrase(status: int) -> str:
    """The standard reason phrase (HTTP/2 sends none)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


def _ca_options() -> list[tuple[int, str]]:
    """Trust what Python's ``ssl`` trusts here (SSL_CERT_FILE and SSL_CERT_DIR included):
    the libcurl in pycurl's wheel has its own idea of where certificates are."""
    paths = ssl.get_default_verify_paths()
    options = []
    if paths.cafile and os.path.exists(paths.cafile):
        options.append((pycurl.CAINFO, paths.cafile))
    if paths.capath and os.path.isdir(paths.capath):
        options.append((pycurl.CAPATH, paths.capath))
    if not options:
        import certifi

        options.append((pycurl.CAINFO, certifi.where()))
    return options
