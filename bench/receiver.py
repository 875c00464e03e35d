"""The benchmark's webhook receiver: an asyncio HTTP/1.1 keep-alive server in its own process.

usage: python bench/receiver.py SECRET   (prints its port, then serves until killed)

``POST /<group>/<anything>`` answers 200 at once and counts a receipt for ``group``; the
latency is now minus the publish time ``"t":<epoch seconds>`` carried in the event's data.
Every body's ``x-magento-signature`` is checked against SECRET. A path under ``/stall/``
answers after 10 s. ``GET /stats/<group>`` answers ``{count, bad, first, last, p50_ms,
p99_ms}``, ``GET /count/<group>`` only ``{count, first, last}`` (cheap enough to poll),
``GET /timeline/<group>`` the p99 (ms) of the events published in each second since
the first, and ``POST /reset`` forgets everything.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import sys
import time
from array import array

STALL_SECONDS = 10.0
_T = re.compile(rb'"t":([0-9.]+)')
_OK = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\ncontent-type: text/plain\r\n\r\nok"


class Group:
    """Receipts of one group: count, bad signatures, arrival span and latencies."""

    def __init__(self) -> None:
        self.count = self.bad = 0
        self.first = self.last = 0.0
        self.latencies = array("d")
        self.sent = array("d")  # publish times, in step with latencies

    def stats(self) -> dict[str, float]:
        """Counts and latency percentiles (ms)."""
        lat = sorted(self.latencies)
        return {
            "count": self.count,
            "bad": self.bad,
            "first": self.first,
            "last": self.last,
            "p50_ms": _pick(lat, 0.50),
            "p99_ms": _pick(lat, 0.99),
        }

    def timeline(self) -> list[float]:
        """The p99 latency (ms) of the events published in each second since the first."""
        by_second: dict[int, list[float]] = {}
        start = min(self.sent, default=0.0)
        for sent, latency in zip(self.sent, self.latencies, strict=True):
            by_second.setdefault(int(sent - start), []).append(latency)
        return [_pick(sorted(v), 0.99) for _, v in sorted(by_second.items())]


class Receiver(asyncio.Protocol):
    """One connection: parse pipelined requests, answer each."""

    groups: dict[str, Group] = {}
    secret = b""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            head = self.buffer[:end].decode("latin-1")
            length = _content_length(head)
            if len(self.buffer) < end + 4 + length:
                return
            body = self.buffer[end + 4 : end + 4 + length]
            self.buffer = self.buffer[end + 4 + length :]
            self.handle(head, body)

    def handle(self, head: str, body: bytes) -> None:
        """Count a POST, or answer a control request."""
        method, path = head.split(" ", 2)[:2]
        if method == "GET" and path.startswith("/stats/"):
            group = self.groups.get(path[7:], Group())
            return self.reply(json.dumps(group.stats()).encode())
        if method == "GET" and path.startswith("/count/"):
            group = self.groups.get(path[7:], Group())
            got = {"count": group.count, "first": group.first, "last": group.last}
            return self.reply(json.dumps(got).encode())
        if method == "GET" and path.startswith("/timeline/"):
            group = self.groups.get(path[10:], Group())
            return self.reply(json.dumps(group.timeline()).encode())
        if method == "POST" and path == "/reset":
            self.groups.clear()
            return self.reply(b"{}")
        now = time.time()
        group = self.groups.setdefault(path.split("/")[1], Group())
        group.count += 1
        group.first = group.first or now
        group.last = now
        sent = _T.search(body)
        if sent:
            group.sent.append(float(sent.group(1)))
            group.latencies.append(now - group.sent[-1])
        if not _signed(head, body, self.secret):
            group.bad += 1
        if path.startswith("/stall/"):
            asyncio.get_running_loop().call_later(STALL_SECONDS, self._ok)
        else:
            self._ok()

    def _ok(self) -> None:
        if not self.transport.is_closing():
            self.transport.write(_OK)

    def reply(self, data: bytes) -> None:
        """Answer a control request with JSON."""
        head = f"HTTP/1.1 200 OK\r\ncontent-length: {len(data)}\r\n"
        self.transport.write(head.encode() + b"content-type: application/json\r\n\r\n" + data)


def _pick(ordered: list[float], q: float) -> float:
    """The ``q`` quantile of sorted seconds, in ms."""
    if not ordered:
        return 0.0
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 1)


def _content_length(head: str) -> int:
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            return int(value)
    return 0


def _signed(head: str, body: bytes, secret: bytes) -> bool:
    """Whether the x-magento-signature header is the HMAC of the body."""
    for line in head.split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "x-magento-signature":
            expected = hmac.new(secret, body, hashlib.sha256).hexdigest()
            return hmac.compare_digest(value.strip(), expected)
    return False


async def serve(secret: str) -> None:
    """Listen on an ephemeral loopback port, print it, serve forever."""
    Receiver.secret = secret.encode()
    server = await asyncio.get_running_loop().create_server(Receiver, "127.0.0.1", 0, backlog=4096)
    print(server.sockets[0].getsockname()[1], flush=True)
    await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(serve(sys.argv[1]))
