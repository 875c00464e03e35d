"""The NATS client protocol over a plain socket: connect, publish with a reply inbox, read it.

The nats sink needs one request-reply at a time per connection (HPUB to the subject with
a reply inbox, then the JetStream PubAck on that inbox), so it speaks the text protocol
itself rather than driving nats-py's asyncio client from sender threads: no event loop
to hop to and back, every socket call bounded by the time left before the deadline, and
only the addresses the SSRF guard passed are ever dialled (nats-py would also dial the
cluster peers a server advertises in ``connect_urls``).

Connections are pooled per server and credentials (``Pool``); a sender thread takes one,
makes its request and gives it back, so no two threads ever share a socket. TLS is
started after the server's INFO, as NATS does it, when the recipient asks for it
(``tls://``) or the server requires it.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import ssl
import threading
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.sinks.addresses import Network, forbidden

_CRLF = b"\r\n"
_CHUNK = 65536


class NatsError(Exception):
    """Anything that ended an exchange with a NATS server; the sink judges each kind."""


class Unreachable(NatsError):
    """No connection could be made: DNS, refused, reset during the handshake, connect timeout."""


class ConnectionLost(NatsError):
    """An open connection broke (reset, EOF) before the reply came."""


class Late(NatsError):
    """The deadline passed before the exchange ended."""


class ServerError(NatsError):
    """The server sent ``-ERR`` (e.g. Authorization Violation); ``text`` is its message."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


class Refused(NatsError):
    """Sending cannot work as configured (forbidden address, TLS, no headers, too large)."""


@dataclass(frozen=True)
class Server:
    """Where to connect and as whom: one pool of connections per distinct value."""

    host: str
    port: int
    user: str | None = None
    password: str | None = None
    token: str | None = None
    tls: bool = False

    def connect_options(self) -> dict[str, Any]:
        """The CONNECT fields: headers and no-responders on, quiet, plus the credentials."""
        options: dict[str, Any] = {
            "verbose": False,
            "pedantic": False,
            "headers": True,
            "no_responders": True,
            "protocol": 1,
            "name": "async-events",
            "lang": "python",
            "version": "1",
        }
        if self.user is not None:
            options.update(user=self.user, **{"pass": self.password or ""})
        if self.token is not None:
            options["auth_token"] = self.token
        return options


@dataclass(frozen=True)
class Reply:
    """A message that came back on the reply inbox: its status header (if any) and payload."""

    status: int | None
    payload: bytes


class Connection:
    """One open, authenticated connection with its reply inbox subscribed."""

    def __init__(self, sock: socket.socket, info: dict[str, Any]) -> None:
        self.sock, self.info = sock, info
        self.max_payload = int(info.get("max_payload") or 1024 * 1024)
        self._buffer = bytearray()
        self._inbox = f"_INBOX.{uuid.uuid4().hex}"
        self._sent = 0

    @classmethod
    def open(cls, server: Server, dialler: Dialler, deadline: float) -> Connection:
        """Dial a permitted address of ``server``, log in, subscribe the inbox; by ``deadline``."""
        conn = cls(dialler.dial(server, deadline), {})
        try:
            conn.info = conn._hello(server, dialler.tls, deadline)
            conn.max_payload = int(conn.info.get("max_payload") or conn.max_payload)
        except BaseException:
            conn.close()
            raise
        return conn

    def request(self, subject: str, headers: bytes, body: bytes, deadline: float) -> Reply:
        """Publish ``body`` with ``headers`` (a ``NATS/1.0`` block) and wait for the reply."""
        size = len(headers) + len(body)
        if size > self.max_payload:
            raise Refused(f"the event is {size} bytes; the server takes at most {self.max_payload}")
        self._sent += 1
        reply_to = f"{self._inbox}.{self._sent}"
        line = f"HPUB {subject} {reply_to} {len(headers)} {size}\r\n".encode()
        self._send(b"".join((line, headers, body, _CRLF)), deadline)
        while True:
            kind, args = self._next(deadline)
            if kind == "MSG" and args[0] == reply_to:
                return Reply(args[1], args[2])

    def close(self) -> None:
        """Close the socket (a connection is never used again after an error)."""
        with contextlib.suppress(OSError):
            self.sock.close()

    def _hello(self, server: Server, tls: ssl.SSLContext, deadline: float) -> dict[str, Any]:
        """Read INFO, start TLS if due, then CONNECT, SUB the inbox and PING/PONG."""
        kind, args = self._next(deadline)
        if kind != "INFO":
            raise ConnectionLost(f"the server sent {kind} instead of INFO: not a NATS server?")
        info = args[0]
        if server.tls or info.get("tls_required"):
            self._start_tls(server, info, tls, deadline)
        if not info.get("headers"):
            raise Refused("the server has no message headers (NATS < 2.2): no Nats-Msg-Id")
        options = json.dumps(server.connect_options(), separators=(",", ":"))
        hello = f"CONNECT {options}\r\nSUB {self._inbox}.* 1\r\nPING\r\n"
        self._send(hello.encode(), deadline)
        while kind != "PONG":  # an -ERR (Authorization Violation) raises ServerError
            kind, args = self._next(deadline)
        return info

    def _start_tls(
        self, server: Server, info: dict[str, Any], tls: ssl.SSLContext, deadline: float
    ) -> None:
        """Wrap the socket in TLS, verifying the server's certificate for ``server.host``."""
        if not (info.get("tls_required") or info.get("tls_available")):
            raise Refused("the recipient asks for TLS (tls://) but the server offers none")
        self.sock.settimeout(_left(deadline))  # the whole handshake, as one call
        try:
            self.sock = tls.wrap_socket(self.sock, server_hostname=server.host)
        except TimeoutError:
            raise Late() from None
        except ssl.SSLError as exc:
            raise Unreachable(f"TLS error: {exc}") from None
        except OSError as exc:
            raise ConnectionLost(f"connection lost: {exc}") from None

    def _next(self, deadline: float) -> tuple[str, tuple]:
        """Read the next operation that matters, answering the server's PINGs on the way."""
        while True:
            line = bytes(self._line(deadline))
            op, _, rest = line.partition(b" ")
            op = op.upper()
            if op == b"PING":
                self._send(b"PONG\r\n", deadline)
            elif op == b"-ERR":
                raise ServerError(rest.decode("utf-8", "replace").strip().strip("'"))
            elif op == b"INFO":
                return "INFO", (json.loads(rest),)
            elif op == b"PONG":
                return "PONG", ()
            elif op in (b"MSG", b"HMSG"):
                return "MSG", self._message(op == b"HMSG", rest.split(), deadline)
            elif op != b"+OK":
                raise ConnectionLost(f"unexpected protocol line {line[:80]!r}")

    def _message(self, with_headers: bool, args: list[bytes], deadline: float) -> tuple:
        """Read a MSG/HMSG body: (subject, status from the headers or None, payload)."""
        total = int(args[-1])
        header_size = int(args[-2]) if with_headers else 0
        data = self._exact(total + 2, deadline)[:total]
        status = _status(data[:header_size]) if with_headers else None
        return args[0].decode(), status, bytes(data[header_size:])

    def _line(self, deadline: float) -> bytearray:
        """One protocol line, without its CRLF."""
        while (end := self._buffer.find(_CRLF)) < 0:
            self._fill(deadline)
        line = self._buffer[:end]
        del self._buffer[: end + 2]
        return line

    def _exact(self, size: int, deadline: float) -> bytearray:
        """Exactly ``size`` bytes."""
        while len(self._buffer) < size:
            self._fill(deadline)
        data = self._buffer[:size]
        del self._buffer[:size]
        return data

    def _fill(self, deadline: float) -> None:
        """Read what the socket has, waiting at most until ``deadline``."""
        self.sock.settimeout(_left(deadline))
        try:
            chunk = self.sock.recv(_CHUNK)
        except TimeoutError:
            raise Late() from None
        except OSError as exc:
            raise ConnectionLost(f"connection lost: {exc}") from None
        if not chunk:
            raise ConnectionLost("the server closed the connection")
        self._buffer += chunk

    def _send(self, data: bytes, deadline: float) -> None:
        """Send all of ``data`` by ``deadline`` (sendall's timeout bounds the whole call)."""
        self.sock.settimeout(_left(deadline))
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise Late() from None
        except OSError as exc:
            raise ConnectionLost(f"connection lost: {exc}") from None


class Pool:
    """Idle connections per ``Server``, shared by every sender thread of one sink.

    A connection is taken for one request and given back only if the request ended
    cleanly; any error closes it. A pooled connection the server dropped while idle
    fails as ``ConnectionLost``: the request is then made once more on a new
    connection, which the ``Nats-Msg-Id`` makes harmless should the first have arrived.
    So does one that ends with ``-ERR`` (the server's "Stale Connection" for a connection
    that answered no PINGs while idle); a real refusal comes again on the new one.
    """

    def __init__(self, dialler: Dialler, max_idle: int = 64) -> None:
        self.dialler, self.max_idle = dialler, max_idle
        self._idle: dict[Server, list[Connection]] = {}
        self._lock = threading.Lock()
        self._pid = os.getpid()

    def request(
        self, server: Server, subject: str, headers: bytes, body: bytes, deadline: float
    ) -> Reply:
        """Publish and return the reply, on a pooled connection if one is idle."""
        conn = self._take(server)
        if conn is not None:
            try:
                return self._use(server, conn, subject, headers, body, deadline)
            except (ConnectionLost, ServerError):
                pass  # dropped, or found stale, while idle: one new connection, same Msg-Id
        conn = Connection.open(server, self.dialler, deadline)
        return self._use(server, conn, subject, headers, body, deadline)

    def close(self) -> None:
        """Close every idle connection."""
        with self._lock:
            idle, self._idle = self._idle, {}
        for conns in idle.values():
            for conn in conns:
                conn.close()

    def _use(self, server: Server, conn: Connection, *args: Any) -> Reply:
        """Make the request on ``conn``; pool it again only if nothing went wrong."""
        try:
            reply = conn.request(*args)
        except BaseException:
            conn.close()
            raise
        self._give(server, conn)
        return reply

    def _take(self, server: Server) -> Connection | None:
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(server)
            return idle.pop() if idle else None

    def _give(self, server: Server, conn: Connection) -> None:
        with self._lock:
            idle = self._idle.setdefault(server, [])
            if len(idle) < self.max_idle and self._pid == os.getpid():
                idle.append(conn)
                return
        conn.close()


@dataclass(frozen=True)
class Dialler:
    """How connections are made: the SSRF policy, the connect timeout, the TLS settings."""

    allowed: tuple[Network, ...]
    connect_timeout: float
    tls: ssl.SSLContext

    def dial(self, server: Server, deadline: float) -> socket.socket:
        """A TCP connection to ``server``, checked against ``allowed``."""
        return _dial(server, self.allowed, self.connect_timeout, deadline)


def _dial(
    server: Server, allowed: Sequence[Network], connect_timeout: float, deadline: float
) -> socket.socket:
    """Connect to the first permitted address ``server.host`` resolves to, by ``deadline``.

    Every address is checked before any is dialled, and the connected peer again, so
    a DNS answer that changed in between (rebinding) cannot reach a forbidden network.
    """
    try:
        infos = socket.getaddrinfo(server.host, server.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise Unreachable(f"DNS lookup failed for {server.host}: {exc}") from None
    for *_, address in infos:
        _check(str(address[0]), allowed)
    error: Exception | None = None
    for family, kind, proto, _, address in infos:
        sock = socket.socket(family, kind, proto)
        try:
            sock.settimeout(min(connect_timeout, _left(deadline)))
            sock.connect(address)
            _check(sock.getpeername()[0], allowed)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            return sock
        except OSError as exc:
            sock.close()
            error = exc
        except BaseException:
            sock.close()
            raise
    if time.monotonic() >= deadline:
        raise Late()
    if isinstance(error, TimeoutError):
        raise Unreachable(f"connect timed out after {connect_timeout} s")
    raise Unreachable(f"cannot connect to {server.host}:{server.port}: {error}")


def _check(address: str, allowed: Sequence[Network]) -> None:
    """Raise ``Refused`` if the SSRF policy forbids ``address``."""
    why = forbidden(address, allowed)
    if why:
        raise Refused(f"refused to deliver to {address}: {why}")


def _status(headers: bytearray) -> int | None:
    """The status of a ``NATS/1.0 503`` header block, or None when it has none."""
    first = bytes(headers).split(_CRLF, 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


def _left(deadline: float) -> float:
    """Seconds until ``deadline``; raise ``Late`` once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise Late()
    return left
