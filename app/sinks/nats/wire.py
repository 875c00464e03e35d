"""The NATS client protocol over a connected socket: log in, publish with a reply inbox, read it.

The nats sink needs one request-reply at a time per connection (HPUB to the subject with
a reply inbox, then the JetStream PubAck on that inbox), so it speaks the text protocol
itself rather than driving nats-py's asyncio client from sender threads: no event loop
to hop to and back, and every socket call bounded by the time left before the deadline.
TLS is started after the server's INFO, as NATS does it, when the recipient asks for it
(``tls://``) or the server requires it. Dialling and pooling are ``app.sinks.nats.pool``.
"""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import time
import uuid
from dataclasses import dataclass
from typing import Any

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
    def open(
        cls, sock: socket.socket, server: Server, tls: ssl.SSLContext, deadline: float
    ) -> Connection:
        """Over the connected ``sock``: read INFO, log in, subscribe the inbox, by ``deadline``."""
        conn = cls(sock, {})
        try:
            conn.info = conn._hello(server, tls, deadline)
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
        self.sock.settimeout(time_left(deadline))  # the whole handshake, as one call
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
        self.sock.settimeout(time_left(deadline))
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
        self.sock.settimeout(time_left(deadline))
        try:
            self.sock.sendall(data)
        except TimeoutError:
            raise Late() from None
        except OSError as exc:
            raise ConnectionLost(f"connection lost: {exc}") from None


def _status(headers: bytearray) -> int | None:
    """The status of a ``NATS/1.0 503`` header block, or None when it has none."""
    first = bytes(headers).split(_CRLF, 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


def time_left(deadline: float) -> float:
    """Seconds until ``deadline``; raise ``Late`` once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise Late()
    return left
