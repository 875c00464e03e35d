"""Connections to NATS servers: dialled past the SSRF guard, pooled per server and login.

A sender thread takes a connection, makes its one request and gives it back, so no two
threads ever share a socket. Only addresses the guard (``DELIVERY_ALLOWED_NETWORKS``)
passed are dialled: nats-py would also dial the cluster peers a server advertises in
``connect_urls``; these are ignored here.
"""

from __future__ import annotations

import os
import socket
import ssl
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.sinks.addresses import Network, refusal
from app.sinks.nats.wire import (
    Connection,
    ConnectionLost,
    Late,
    Refused,
    Reply,
    Server,
    ServerError,
    Unreachable,
    time_left,
)


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
        sock = self.dialler.dial(server, deadline)
        conn = Connection.open(sock, server, self.dialler.tls, deadline)
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
        """An idle connection to ``server``, if there is one."""
        with self._lock:
            if self._pid != os.getpid():  # forked: the parent's sockets are not ours to use
                self._idle, self._pid = {}, os.getpid()
            idle = self._idle.get(server)
            return idle.pop() if idle else None

    def _give(self, server: Server, conn: Connection) -> None:
        """Keep ``conn`` for the next request, or close it when the pool is full."""
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
            sock.settimeout(min(connect_timeout, time_left(deadline)))
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
    message = refusal([address], allowed)
    if message:
        raise Refused(message)
