"""Pooled AMQP connections for the rabbitmq sink: one connection and confirming channel each.

pika's ``BlockingConnection`` is not thread-safe, so a connection is never shared: a
sender thread borrows a ``Link`` (a connection and its channel, in confirm mode), uses it
alone, and gives it back. Idle links are kept per broker account (``Target.account``), up
to ``size`` each; one idle for longer than ``max_idle`` (half the heartbeat, so the broker
never timed it out) is closed rather than reused, and one that the broker closed while
idle is found out on borrowing, before anything is published on it.

A new connection goes only to addresses the SSRF policy allows: the host is resolved,
every address checked (as the http sink does), and the connection made to the checked
address itself, so a DNS answer that changes in between cannot point it inside. Every
step runs inside the caller's ``deadline.Exchange``: connecting gets the time left as
its TCP and handshake timeouts, and from then on the watchdog shuts the socket down at
the deadline, whatever pika is waiting for.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Sequence

import pika
from pika.adapters.blocking_connection import BlockingChannel
from pika.adapters.utils.connection_workflow import AMQPConnectorSocketConnectError

from app.net.deadline import DeadlineExceeded, Exchange, Watchdog
from app.sinks.addresses import Network, refusal
from app.sinks.rabbitmq.recipient import Target

HEARTBEAT = 60  # seconds; pika answers heartbeats only while a link is in use
CLOSE_TIMEOUT = 1.0  # a polite close of an idle link waits this long for the broker


class RefusedAddress(Exception):
    """The broker's host resolves to an address the SSRF policy forbids; never retried."""


class Link:
    """One open connection and its channel in confirm mode, used by one thread at a time."""

    def __init__(self, connection: pika.BlockingConnection) -> None:
        self.connection = connection
        self.channel: BlockingChannel | None = None
        self.idle_since = time.monotonic()

    @property
    def sock(self) -> socket.socket | None:
        """The connection's socket, which the deadline watchdog shuts down when late."""
        transport = getattr(self.connection._impl, "_transport", None)
        return getattr(transport, "_sock", None)

    def usable(self) -> bool:
        """Whether the link is still open, after reading whatever the broker sent meanwhile."""
        try:
            self.connection.process_data_events(0)
        except Exception:  # closed by the broker, reset: a borrower must not publish on it
            return False
        return self.connection.is_open and self.channel is not None and self.channel.is_open


class LinkPool:
    """Links per broker account, thread-safe; connects lazily, under the caller's deadline."""

    def __init__(
        self,
        allowed: Sequence[Network],
        watchdog: Watchdog,
        size: int = 32,
        blocked_timeout: float = 15.0,
        max_idle: float = HEARTBEAT / 2,
    ) -> None:
        if size < 1:
            raise ValueError(f"the rabbitmq pool size must be >= 1, got {size!r}")
        self.allowed, self.watchdog, self.size = tuple(allowed), watchdog, size
        self.blocked_timeout, self.max_idle = blocked_timeout, max_idle
        self._idle: dict[tuple, list[Link]] = {}
        self._lock = threading.Lock()
        self.opened = 0  # connections opened so far: how well the pool reuses them

    def borrow(self, target: Target, exchange: Exchange) -> Link:
        """A usable link to ``target``, pooled or new, attached to ``exchange``'s watchdog."""
        while (link := self._take(target.account)) is not None:
            exchange.attach(link)
            if link.usable():
                return link
            self.discard(link)
        link = Link(self._connect(target, exchange))
        with self._lock:
            self.opened += 1
        exchange.attach(link)
        try:
            link.channel = link.connection.channel()
            link.channel.confirm_delivery()
        except BaseException:
            self.discard(link)
            raise
        return link

    def give_back(self, target: Target, link: Link, exchange: Exchange) -> None:
        """Pool ``link`` again, unless its attempt ran late (the watchdog shut it) or it broke."""
        late = exchange.detach(link)
        link.idle_since = time.monotonic()
        broken = link.channel is None or not (link.connection.is_open and link.channel.is_open)
        if late or broken:
            self.discard(link)
            return
        with self._lock:
            idle = self._idle.setdefault(target.account, [])
            keep = len(idle) < self.size
            if keep:
                idle.append(link)
        if not keep:
            self.close_links([link])

    def discard(self, link: Link) -> None:
        """Drop a broken or late link: shut its socket, so pika's close returns at once."""
        sock = link.sock
        if sock is not None:  # socket.socket's own shutdown, not SSLSocket's (see deadline)
            with contextlib.suppress(OSError):
                socket.socket.shutdown(sock, socket.SHUT_RDWR)
        _close(link)

    def close_links(self, links: list[Link]) -> None:
        """Close sound links politely, giving the broker ``CLOSE_TIMEOUT`` in all to agree.

        Past that time the watch shuts each remaining socket as it is attached, so a hung
        broker costs one ``CLOSE_TIMEOUT``, not one per link. The watch is kept by hand,
        not as a ``with`` block, so the caller's own exchange stays the thread's current one.
        """
        watch = self.watchdog.watch(time.monotonic() + CLOSE_TIMEOUT)
        self.watchdog.add(watch)
        try:
            for link in links:
                watch.attach(link)
                _close(link)
        finally:
            self.watchdog.remove(watch)

    def close(self) -> None:
        """Close every idle link (the sink is shutting down)."""
        with self._lock:
            links = [link for idle in self._idle.values() for link in idle]
            self._idle.clear()
        self.close_links(links)

    def _take(self, account: tuple) -> Link | None:
        """The most recently used idle link for ``account``, after closing the stale ones."""
        self._close_stale()
        with self._lock:
            idle = self._idle.get(account)
            return idle.pop() if idle else None

    def _close_stale(self) -> None:
        """Close the idle links, of every account, that waited longer than ``max_idle``."""
        cutoff, stale = time.monotonic() - self.max_idle, []
        with self._lock:
            for account, idle in list(self._idle.items()):
                stale += [link for link in idle if link.idle_since < cutoff]
                self._idle[account] = [link for link in idle if link.idle_since >= cutoff]
                if not self._idle[account]:
                    del self._idle[account]
        if stale:
            self.close_links(stale)

    def _connect(self, target: Target, exchange: Exchange) -> pika.BlockingConnection:
        """Connect to the first allowed address of ``target`` that answers, by the deadline."""
        error: Exception | None = None
        for ip in self._addresses(target):
            left = exchange.left()
            if left <= 0:
                break
            try:
                return pika.BlockingConnection(self._parameters(target, ip, left))
            except pika.exceptions.AMQPConnectionError as exc:
                if not (exc.args and isinstance(exc.args[0], AMQPConnectorSocketConnectError)):
                    raise
                error = exc  # this address does not answer: try the next one
        raise error or DeadlineExceeded("no time left to connect")

    def _addresses(self, target: Target) -> list[str]:
        """Every address the host resolves to; RefusedAddress if the policy forbids any."""
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        message = refusal(addresses, self.allowed)
        if message:
            raise RefusedAddress(message)
        return addresses

    def _parameters(self, target: Target, ip: str, left: float) -> pika.ConnectionParameters:
        """Connection settings for ``ip``: the handshake must finish within ``left`` seconds."""
        tls = None
        if target.tls:  # verify the certificate against the host named, not the address
            tls = pika.SSLOptions(ssl.create_default_context(), server_hostname=target.host)
        return pika.ConnectionParameters(
            host=ip,
            port=target.port,
            virtual_host=target.vhost,
            credentials=pika.PlainCredentials(target.user, target.password),
            ssl_options=tls,
            connection_attempts=1,
            socket_timeout=left,
            stack_timeout=left,
            blocked_connection_timeout=self.blocked_timeout,
            heartbeat=HEARTBEAT,
            client_properties={"connection_name": "async-events rabbitmq sink"},
        )


def _close(link: Link) -> None:
    """Close the link's connection if pika still thinks it open; errors mean it is gone."""
    with contextlib.suppress(Exception):
        if link.connection.is_open:
            link.connection.close()
