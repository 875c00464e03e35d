"""The fault suite's receiver: answers each chain by its attempt, and can hold requests."""

from __future__ import annotations

import threading
from collections import Counter
from urllib.parse import urlsplit

from tests.receiver import Received, Receiver, Reply

HOLD_MAX = 60.0  # s a held request waits at most, so no handler thread hangs for ever


class ChainReceiver(Receiver):
    """A ``Receiver`` whose routes answer per chain (by ``webhook-id``) and can be held.

    ``route_per_chain("/x", Reply(503), Reply(200))`` fails the first request of every
    chain and accepts the second, however the chains' requests interleave; a duplicate
    of an attempt (the same chain sent again after a crash) counts as the next one.
    ``hold("/x")`` keeps every request to ``/x`` waiting, unanswered, until
    ``release("/x")``: a worker killed meanwhile dies with the send in flight.
    """

    def __init__(self) -> None:
        super().__init__()
        self._per_chain: dict[str, tuple[Reply, ...]] = {}
        self._gates: dict[str, threading.Event] = {}

    def route_per_chain(self, path: str, *replies: Reply) -> str:
        """Script ``path`` by attempt: the n-th request of a chain gets ``replies[n-1]``."""
        self._per_chain[path] = replies or (Reply(),)
        return self.route(path, *self._per_chain[path])

    def hold(self, path: str) -> None:
        """Keep requests to ``path`` waiting unanswered until ``release``."""
        self._gates[path] = threading.Event()

    def release(self, path: str | None = None) -> None:
        """Let held requests to ``path`` (to every path when None) go on, and stop holding."""
        for held in [path] if path else list(self._gates):
            gate = self._gates.pop(held, None)
            if gate is not None:
                gate.set()

    def arrivals(self, path: str | None = None) -> Counter[str]:
        """Requests that arrived so far, by ``webhook-id`` (optionally for ``path`` only)."""
        return Counter(r.headers.get("webhook-id", "") for r in self.received(path))

    def _record(self, received: Received) -> Reply:
        reply = super()._record(received)
        path = urlsplit(received.path).path
        gate = self._gates.get(path)
        if gate is not None:
            gate.wait(HOLD_MAX)
        script = self._per_chain.get(path)
        if script is None:
            return reply
        chain = received.headers.get("webhook-id")
        attempt = sum(1 for r in self.received(path) if r.headers.get("webhook-id") == chain)
        return script[min(attempt, len(script)) - 1]
