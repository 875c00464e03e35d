"""One wall-clock deadline over a whole HTTP exchange, kept by a watchdog that shuts late sockets.

A socket timeout bounds one read, not an exchange: a receiver that sends a byte just
before each read times out keeps the exchange alive for ever, whether it trickles the
status line, the headers or the body. So every exchange (``Watchdog.watch``) is listed
with its deadline and the connection it is using now; one thread per watchdog, not one
per request, wakes at the earliest deadline and shuts the late exchange's socket down
(``SHUT_RDWR``). Whatever the client was blocked in (connect's TLS handshake, sending,
the status line, the headers, the body) returns at once with EOF or EPIPE, and the
caller sees ``Exchange.expired`` and reports a timeout, whatever the wreckage looked like.

The connection and pool mixins below attach the connection a request uses to the
calling thread's exchange and detach it before it goes back to the pool; a connection
whose exchange expired is closed, never pooled. The hot path costs a few lock-protected
assignments per request; the thread sleeps until the earliest deadline, which under a
steady load is about one wake-up per total timeout.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from typing import Any

import urllib3
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

_current = threading.local()  # .exchange: the Exchange of the request this thread is making


class DeadlineExceeded(urllib3.exceptions.TimeoutError):
    """The total timeout ran out: the exchange was cut, wherever it was; retry later."""


class Exchange:
    """One call's deadline and the connection it is using at the moment.

    ``expired`` turns True (once, for good) when the watchdog found it late; from then
    on any attached connection is shut down and must not be reused.
    """

    __slots__ = ("_watchdog", "conn", "deadline", "expired")

    def __init__(self, watchdog: Watchdog, deadline: float) -> None:
        self._watchdog, self.deadline = watchdog, deadline
        self.conn: Any = None
        self.expired = False

    def left(self) -> float:
        """Seconds until the deadline (negative once it passed)."""
        return self.deadline - time.monotonic()

    def attach(self, conn: Any) -> None:
        """Make ``conn`` the connection the watchdog shuts down; at once if already late."""
        with self._watchdog.lock:
            self.conn = conn
            if self.expired:
                _shut(conn)

    def detach(self, conn: Any) -> bool:
        """Stop watching ``conn``; True if the exchange expired (``conn`` must then be closed)."""
        with self._watchdog.lock:
            if self.conn is conn:
                self.conn = None
            return self.expired

    def __enter__(self) -> Exchange:
        self._watchdog.add(self)
        _current.exchange = self
        return self

    def __exit__(self, *exc: object) -> None:
        _current.exchange = None
        self._watchdog.remove(self)


class Watchdog:
    """Shuts down the socket of every exchange still running at its deadline.

    Thread-safe; its daemon thread starts with the first exchange (and again after a
    fork or ``close``), so building a sink starts nothing.
    """

    def __init__(self, name: str = "deadline-watchdog") -> None:
        self.name = name
        self.lock = threading.Condition(threading.Lock())
        self._active: set[Exchange] = set()
        self._wake_at: float | None = None  # when the thread means to wake; None: when told
        self._thread: threading.Thread | None = None  # the one running; an old one ends

    def watch(self, deadline: float) -> Exchange:
        """An exchange to run in a ``with`` block: connections used inside it are watched."""
        return Exchange(self, deadline)

    def add(self, exchange: Exchange) -> None:
        """Start watching ``exchange``; wake the thread only if it must wake earlier."""
        with self.lock:
            self._active.add(exchange)
            if self._thread is None or not self._thread.is_alive():
                self._start()
            elif self._wake_at is None or exchange.deadline < self._wake_at:
                self.lock.notify_all()  # all: a closed watchdog's thread may still be waiting

    def remove(self, exchange: Exchange) -> None:
        """Stop watching ``exchange`` (it ended, in time or not)."""
        with self.lock:
            self._active.discard(exchange)
            exchange.conn = None

    def close(self) -> None:
        """Stop the thread; a later exchange starts another."""
        with self.lock:
            thread, self._thread = self._thread, None
            self.lock.notify_all()
        if thread is not None and thread is not threading.current_thread():
            thread.join(5)

    def _start(self) -> None:
        """Start the thread (lock held)."""
        self._wake_at = None
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        """Expire what is due, then sleep until the earliest deadline still pending."""
        me = threading.current_thread()
        with self.lock:
            while self._thread is me:
                now = time.monotonic()
                pending = [ex for ex in self._active if not ex.expired]
                for exchange in pending:
                    if exchange.deadline <= now:
                        exchange.expired = True
                        _shut(exchange.conn)
                due = [ex.deadline for ex in pending if not ex.expired]
                self._wake_at = min(due) if due else None
                wait = None if self._wake_at is None else self._wake_at - now
                self.lock.wait(None if wait is None else min(wait, threading.TIMEOUT_MAX))


def _shut(conn: Any) -> None:
    """Shut ``conn``'s socket down both ways, so every blocked call on it returns now.

    ``socket.socket.shutdown`` is called on TLS sockets too: ``SSLSocket.shutdown``
    would drop the TLS state under the feet of the thread reading from it.
    """
    sock = getattr(conn, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed, or never connected
            socket.socket.shutdown(sock, socket.SHUT_RDWR)


def current() -> Exchange | None:
    """The exchange the calling thread is inside, if any."""
    return getattr(_current, "exchange", None)


class WatchedConnection:
    """Mixin for urllib3 connection classes: the socket in use is the current exchange's.

    The socket's timeout is cut to the time left as soon as it connects, so the TLS
    handshake (one call, bounded as a whole by that timeout) ends by the deadline too.
    """

    sock: Any

    def _new_conn(self) -> socket.socket:
        sock: socket.socket = super()._new_conn()  # type: ignore[misc]
        exchange = current()
        if exchange is not None:
            timeout = sock.gettimeout()
            left = max(exchange.left(), 0.001)
            sock.settimeout(left if timeout is None else min(timeout, left))
        return sock

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        exchange = current()
        if exchange is not None:
            exchange.attach(self)

    def request(self, *args: Any, **kwargs: Any) -> None:
        exchange = current()
        if exchange is not None:
            exchange.attach(self)
        super().request(*args, **kwargs)  # type: ignore[misc]

    def close(self) -> None:
        exchange = current()
        if exchange is not None:
            exchange.detach(self)
        super().close()  # type: ignore[misc]


class WatchedPool:
    """Mixin for urllib3 connection pools: a connection late for its deadline is not reused."""

    def _put_conn(self, conn: Any) -> None:
        exchange = current()
        if conn is not None and exchange is not None and exchange.detach(conn):
            conn.close()
        super()._put_conn(conn)  # type: ignore[misc]


def watched_pool(pool_cls: type, connection_cls: type, name: str) -> type:
    """``pool_cls`` and its connections, both watched: for ``pool_classes_by_scheme``."""
    conn = type(f"Watched{connection_cls.__name__}", (WatchedConnection, connection_cls), {})
    return type(name, (WatchedPool, pool_cls), {"ConnectionCls": conn})


WATCHED_POOLS = {
    "http": watched_pool(HTTPConnectionPool, HTTPConnection, "WatchedHTTPPool"),
    "https": watched_pool(HTTPSConnectionPool, HTTPSConnection, "WatchedHTTPSPool"),
}  # for a PoolManager's ``pool_classes_by_scheme``
_watched_classes: dict[type, type] = {}


def watch_pool(pool: Any) -> Any:
    """``pool``, built by a client we cannot give pool classes to, now watched as well.

    The pool's class becomes its watched subclass (made once per class): its
    connections, opened from now on, are watched as ``watched_pool``'s are.
    """
    cls = type(pool)
    if not issubclass(cls, WatchedPool):
        watched = _watched_classes.get(cls)
        if watched is None:
            watched = watched_pool(cls, pool.ConnectionCls, f"Watched{cls.__name__}")
            _watched_classes[cls] = watched
        pool.__class__ = watched
    return pool
