"""Hostile HTTP receivers for tests: raw-socket servers that stall, trickle, flood, bomb and lie.

    with hostile.serve("trickle_headers", interval=1.0) as server:
        outcome = sink.deliver(request(server.url))
        server.wait_hung_up()  # every connection it accepted was closed by the client

Each server listens on 127.0.0.1 on an ephemeral port and handles every connection in a
daemon thread, so it also serves worker processes. It records, per connection
(``server.peers``), when it was accepted, when the client hung up, the requests it read
and the bytes it sent. ``close()`` (or leaving the ``with``) shuts every connection down.
No connection is held longer than ``hold`` seconds (default 60), so a client that never
gives up cannot hang a test for ever.

Behaviours (``BEHAVIOURS``), and the options they read:

- ``never_answer``: reads the request, never answers.
- ``never_read``: accepts, never reads (a small receive buffer, so a big body stalls).
- ``trickle_status`` / ``trickle_headers`` / ``trickle_body``: one byte per ``interval``
  seconds of an endless status line, of endless headers, of an endless body.
- ``trickle_tls``: answers a TLS ClientHello with a record that trickles (for https URLs).
- ``huge_body``: a 200 OK of ``size`` bytes (200 MiB), as fast as the client reads it.
- ``gzip_bomb``: a 200 OK whose body is ``size`` zero bytes (1 GiB) gzipped ``layers``
  times over (``Content-Encoding: gzip`` or ``gzip, gzip``): ~1 MiB or ~2 KiB on the wire.
- ``redirect_loop``: 307 to itself, for ever. ``redirect``: 307 to ``location``.
- ``not_http``: answers like an SSH server and hangs up. ``endless_headers``: a status
  line, then header lines as fast as they are read, for ever.
- ``reset_headers`` / ``reset_body``: sends part of the headers / of the body, then
  resets the connection (RST, through ``SO_LINGER`` 0).
- ``nul_bytes``: 200 OK with NUL bytes and invalid UTF-8 in the body, invalid UTF-8 in a
  header. ``nul_header``: 200 OK with a NUL byte in a header, which RFC 9110 §5.5 makes
  a malformed message (a recipient must reject it, or replace the NUL), and a body.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import select
import socket
import struct
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

HOLD = 60.0  # s: the longest any connection is kept
_HANG_UP = select.POLLRDHUP | select.POLLHUP | select.POLLERR


@dataclass
class Options:
    """What a behaviour may be tuned with (``serve(name, **options)``)."""

    interval: float = 1.0  # s between trickled bytes
    size: int = 0  # huge_body's bytes (200 MiB), gzip_bomb's decompressed bytes (1 GiB)
    layers: int = 1  # gzip_bomb: how many times the body is gzipped
    location: str = ""  # redirect: where to
    hold: float = HOLD


@dataclass
class Peer:
    """One accepted connection, seen from the server."""

    sock: socket.socket
    server: HostileServer
    accepted: float = field(default_factory=time.monotonic)
    hung_up: float | None = None  # when the client closed or reset it
    ended: float | None = None  # when the server's handler finished with it
    requests: list[bytes] = field(default_factory=list)  # each request's head and body
    sent: int = 0  # bytes sent

    def read_request(self) -> bytes | None:
        """Read one request (head and Content-Length body); None if the client hung up."""
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self._recv()
            if not chunk:
                return None
            data += chunk
        head, _, body = data.partition(b"\r\n\r\n")
        length = _content_length(head)
        while len(body) < length:
            chunk = self._recv()
            if not chunk:
                return None
            body += chunk
        self.requests.append(head + b"\r\n\r\n" + body)
        return head

    def send(self, data: bytes) -> bool:
        """Send all of ``data``; False (and the hang-up noted) if the client is gone."""
        try:
            self.sock.sendall(data)
        except OSError:
            self._note_hang_up()
            return False
        self.sent += len(data)
        return True

    def trickle(self, data: Iterable[Iterable[int]], interval: float) -> None:
        """Send ``data`` a byte every ``interval`` s, until the client hangs up or ``hold`` ends."""
        deadline = self.accepted + self.server.options.hold
        for byte in itertools.chain.from_iterable(data):
            if self.wait_hang_up(interval) or time.monotonic() > deadline:
                return
            if not self.send(bytes([byte])):
                return

    def wait_hang_up(self, timeout: float) -> bool:
        """Wait up to ``timeout`` s for the client to close (without reading); True if it did."""
        if self.hung_up is not None:
            return True
        poller = select.poll()
        poller.register(self.sock, _HANG_UP)
        try:
            events = poller.poll(max(timeout, 0) * 1000)
        except (OSError, ValueError):  # the socket is already closed
            events = [(0, _HANG_UP)]
        if events and not self.server.closing:
            self._note_hang_up()
        return bool(events)

    def hold(self) -> None:
        """Keep the connection open, silent, until the client hangs up or ``hold`` runs out."""
        deadline = self.accepted + self.server.options.hold
        while not self.wait_hang_up(min(1.0, deadline - time.monotonic())):
            if time.monotonic() >= deadline:
                return

    def reset(self) -> None:
        """Abort the connection with a TCP RST instead of a FIN."""
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        self.sock.close()

    def answer_each(self, response: Callable[[bytes], bytes]) -> None:
        """Keep-alive: answer every request on this connection with ``response(head)``."""
        while (head := self.read_request()) is not None:
            if not self.send(response(head)):
                return

    def _recv(self) -> bytes:
        """Up to 64 KiB, or b"" once the client hung up (or ``hold`` ran out)."""
        left = self.accepted + self.server.options.hold - time.monotonic()
        self.sock.settimeout(max(left, 0.001))
        try:
            chunk = self.sock.recv(65536)
        except TimeoutError:
            return b""
        except OSError:
            chunk = b""
        if not chunk:
            self._note_hang_up()
        return chunk

    def _note_hang_up(self) -> None:
        if self.hung_up is None and not self.server.closing:
            self.hung_up = time.monotonic()


class HostileServer:
    """A listening socket on 127.0.0.1 that treats every connection with one behaviour."""

    def __init__(self, behaviour: str, options: Options) -> None:
        if behaviour not in BEHAVIOURS:
            raise ValueError(f"unknown behaviour {behaviour!r}; known: {sorted(BEHAVIOURS)}")
        self.behaviour, self.options = behaviour, options
        self.peers: list[Peer] = []
        self.closing = False
        self._listener = socket.socket()
        if behaviour == "never_read":  # accepted sockets inherit it: a big request stalls
            self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(128)
        self.port = self._listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/hook"
        self._lock = threading.Lock()

    def start(self) -> HostileServer:
        """Accept connections in a daemon thread."""
        threading.Thread(target=self._accept, name=f"hostile-{self.behaviour}", daemon=True).start()
        return self

    def close(self) -> None:
        """Stop accepting, and shut every connection down so its thread ends."""
        self.closing = True
        with contextlib.suppress(OSError):
            self._listener.shutdown(socket.SHUT_RDWR)
        self._listener.close()
        for peer in list(self.peers):
            with contextlib.suppress(OSError):
                peer.sock.shutdown(socket.SHUT_RDWR)

    def wait_hung_up(self, timeout: float = 5.0, count: int = 1) -> list[Peer]:
        """Wait until at least ``count`` connections came and the client closed every one."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            peers = list(self.peers)
            if len(peers) >= count and all(p.hung_up or p.ended for p in peers):
                break
            time.sleep(0.02)
        open_ = [p for p in self.peers if not (p.hung_up or p.ended)]
        assert len(self.peers) >= count and not open_, (
            f"{self.behaviour}: {len(self.peers)} connections, {len(open_)} still open"
        )
        return list(self.peers)

    def client_sockets(self) -> int:
        """How many sockets this test process still holds to this server (any state)."""
        import psutil

        conns = psutil.Process().net_connections(kind="tcp")
        return sum(1 for c in conns if c.raddr and c.raddr.port == self.port)

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self.closing:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            peer = Peer(sock, self)
            with self._lock:
                self.peers.append(peer)
            threading.Thread(target=self._handle, args=(peer,), daemon=True).start()

    def _handle(self, peer: Peer) -> None:
        try:
            BEHAVIOURS[self.behaviour](peer, self.options)
        except OSError:
            peer._note_hang_up()
        finally:
            peer.ended = peer.ended or time.monotonic()
            with contextlib.suppress(OSError):
                peer.sock.close()


@contextlib.contextmanager
def serve(behaviour: str, **options: object) -> Iterator[HostileServer]:
    """Run a hostile server for the ``with`` block: ``serve("trickle_body", interval=0.5)``."""
    server = HostileServer(behaviour, Options(**options)).start()  # type: ignore[arg-type]
    try:
        yield server
    finally:
        server.close()


# --- the behaviours --------------------------------------------------------------------


def _never_answer(peer: Peer, options: Options) -> None:
    if peer.read_request() is not None:
        peer.hold()


def _never_read(peer: Peer, options: Options) -> None:
    peer.hold()


def _trickle_status(peer: Peer, options: Options) -> None:
    if peer.read_request() is not None:
        peer.trickle([b"HTTP/1.1 200 OK", itertools.repeat(ord("K"))], options.interval)


def _trickle_headers(peer: Peer, options: Options) -> None:
    if peer.read_request() is not None and peer.send(b"HTTP/1.1 200 OK\r\n"):
        peer.trickle(itertools.repeat(b"X-Trickle: slow\r\n"), options.interval)


def _endless_headers(peer: Peer, options: Options) -> None:
    """A status line, then header lines as fast as the client reads them, for ever."""
    if peer.read_request() is not None and peer.send(b"HTTP/1.1 200 OK\r\n"):
        block = b"X-More: " + b"m" * 1000 + b"\r\n"
        while peer.send(block * 64):
            pass


def _trickle_body(peer: Peer, options: Options) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 1000000000\r\n\r\n"
    if peer.read_request() is not None and peer.send(head):
        peer.trickle(itertools.repeat(b"x"), options.interval)


def _trickle_tls(peer: Peer, options: Options) -> None:
    """After the ClientHello, a handshake record header that promises 16 KiB, then a trickle."""
    if peer._recv():
        peer.trickle([b"\x16\x03\x03\x40\x00", itertools.repeat(0x02)], options.interval)


def _huge_body(peer: Peer, options: Options) -> None:
    if peer.read_request() is None:
        return
    block, size = b"x" * 65536, options.size or 200 * 1024 * 1024
    if peer.send(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % size):
        for _ in range(size // len(block)):
            if not peer.send(block):
                return
        peer.hold()


def _gzip_bomb(peer: Peer, options: Options) -> None:
    body = gzip_bomb(options.size or 1024**3, options.layers)
    coding = ", ".join(["gzip"] * options.layers).encode()
    head = b"HTTP/1.1 200 OK\r\nContent-Encoding: %s\r\nContent-Length: %d\r\n\r\n"
    peer.answer_each(lambda _: head % (coding, len(body)) + body)


def _redirect_loop(peer: Peer, options: Options) -> None:
    peer.answer_each(lambda head: _redirect(head.split(b" ")[1]))


def _redirect_elsewhere(peer: Peer, options: Options) -> None:
    peer.answer_each(lambda _: _redirect(options.location.encode()))


def _not_http(peer: Peer, options: Options) -> None:
    if peer.read_request() is not None:
        peer.send(b"SSH-2.0-OpenSSH_9.6\r\nInvalid SSH identification string.\r\n")


def _reset_headers(peer: Peer, options: Options) -> None:
    if peer.read_request() is not None and peer.send(b"HTTP/1.1 200 OK\r\nContent-Ty"):
        time.sleep(0.05)
        peer.reset()


def _reset_body(peer: Peer, options: Options) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    if peer.read_request() is not None and peer.send(head + b"x" * 1000):
        time.sleep(0.05)
        peer.reset()


NUL_BODY = b"ok\x00 \xff\xfe \xc3\x28 \xed\xa0\x80 end"  # NUL, bad bytes, a bad pair, a surrogate


def _nul_bytes(peer: Peer, options: Options) -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Odd: a\xffb\xfe\r\nContent-Length: %d\r\n\r\n"
    peer.answer_each(lambda _: head % len(NUL_BODY) + NUL_BODY)


def _nul_header(peer: Peer, options: Options) -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Odd: a\x00b\r\nContent-Length: %d\r\n\r\n"
    peer.answer_each(lambda _: head % len(NUL_BODY) + NUL_BODY)


def _redirect(location: bytes) -> bytes:
    return b"HTTP/1.1 307 Temporary Redirect\r\nLocation: %s\r\nContent-Length: 0\r\n\r\n" % (
        location
    )


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value.strip())
    return 0


@functools.lru_cache(maxsize=8)
def gzip_bomb(size: int, layers: int = 1) -> bytes:
    """At least ``size`` zero bytes, gzipped ``layers`` times over (built once, then cached).

    The first layer is one gzip member of 16 MiB of zeros, repeated: a gzip stream may
    hold many members, and compressing 1 GiB of zeros for real would take 12 s.
    """
    member = zlib.compress(bytes(_MEMBER), 9, wbits=31)
    data = member * max(1, -(-size // _MEMBER))
    for _ in range(layers - 1):
        data = zlib.compress(data, 9, wbits=31)
    return data


_MEMBER = 16 * 1024 * 1024


BEHAVIOURS: dict[str, Callable[[Peer, Options], None]] = {
    "never_answer": _never_answer,
    "never_read": _never_read,
    "trickle_status": _trickle_status,
    "trickle_headers": _trickle_headers,
    "trickle_body": _trickle_body,
    "trickle_tls": _trickle_tls,
    "huge_body": _huge_body,
    "gzip_bomb": _gzip_bomb,
    "redirect_loop": _redirect_loop,
    "redirect": _redirect_elsewhere,
    "not_http": _not_http,
    "reset_headers": _reset_headers,
    "reset_body": _reset_body,
    "nul_bytes": _nul_bytes,
    "nul_header": _nul_header,
    "endless_headers": _endless_headers,
}
