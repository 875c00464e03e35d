"""A TCP proxy in front of a real broker, so a test can cut, refuse or freeze the link.

The brokers the sink tests talk to (RabbitMQ, NATS, Mosquitto) are shared by the whole
machine, so a test never stops one: it points the sink at a ``TcpProxy`` and breaks the
proxy instead. ``cut()`` resets every open connection (the broker "crashed");
``refuse()`` makes new connections fail until ``restore()`` (the broker is down);
``freeze()`` keeps connections open but forwards nothing (a hung broker, for deadlines).
"""

from __future__ import annotations

import contextlib
import select
import socket
import struct
import threading


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target``, one thread per connection pair."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._pairs: list[tuple[socket.socket, socket.socket]] = []
        self._lock = threading.Lock()
        self._refusing = threading.Event()
        self._flowing = threading.Event()
        self._flowing.set()
        self._closed = False
        threading.Thread(target=self._accept, name="tcp-proxy", daemon=True).start()

    @property
    def address(self) -> str:
        """``127.0.0.1:<port>``, to put in a recipient URL."""
        return f"127.0.0.1:{self.port}"

    def cut(self) -> None:
        """Reset every open connection, both ends, as a crashed broker would."""
        with self._lock:
            pairs, self._pairs = self._pairs, []
        for pair in pairs:
            for sock in pair:
                _reset(sock)

    def refuse(self) -> None:
        """Cut every connection and reset each new one at once, until ``restore()``."""
        self._refusing.set()
        self.cut()

    def freeze(self) -> None:
        """Stop forwarding bytes, either way, on every connection, until ``restore()``."""
        self._flowing.clear()

    def restore(self) -> None:
        """Accept and forward again."""
        self._refusing.clear()
        self._flowing.set()

    def close(self) -> None:
        """Stop listening and cut everything."""
        self._closed = True
        self._flowing.set()
        with contextlib.suppress(OSError):
            self._listener.close()
        self.cut()

    def __enter__(self) -> TcpProxy:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            if self._refusing.is_set():
                _reset(client)
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                _reset(client)
                continue
            upstream.settimeout(None)
            with self._lock:
                self._pairs.append((client, upstream))
            threading.Thread(target=self._pump, args=(client, upstream), daemon=True).start()

    def _pump(self, a: socket.socket, b: socket.socket) -> None:
        peers = {a: b, b: a}
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.05)
                if not self._flowing.is_set():
                    continue
                for sock in ready:
                    data = sock.recv(65536)
                    if not data:
                        return
                    peers[sock].sendall(data)
        except (OSError, ValueError):  # cut() closed a socket under us
            return
        finally:
            for sock in (a, b):
                _reset(sock)


def _reset(sock: socket.socket) -> None:
    """Close with RST rather than FIN, so the peer sees a broken link, not a clean close."""
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.close()
