"""A worker's feeder: fans out published events the moment they reach Redis.

A long-running worker runs one feeder thread. It blocks on the list of published ids
(``queues.wait_publications``), fans out what it pops and hands the attempts to the
worker's dispatcher, whose ``submit`` blocks while the senders are full: a busy
worker stops taking publications, and another worker's feeder takes them instead.

Without it, each batch of publications costs an RQ dispatch job: a wake flag, an
enqueue, and RQ's own bookkeeping, about 15 Redis round trips each waiting for the
GIL behind the sender threads, before the first chain is opened. That wait was most
of the latency from publish to receipt. RQ jobs still carry retries, replays and the
sweep, and a worker without a feeder (``--burst``, tests) drains the list with
dispatch jobs as before.

A round holds about ROUND_ATTEMPTS attempts: the feeder pops as many publications as
the fan-out of its last round says make that many (at least one, at most
``queues.DISPATCH_BATCH``), so an event with thousands of subscribers does not bring
200 times its fan-out into memory, and one write transaction, at once.

A feeder blocked in ``submit`` for longer than ``queues.FEEDER_TTL`` misses its
heartbeat, and publishes queue dispatch jobs again meanwhile: any worker's RQ loop
then drains the list too.

Nothing is lost with a feeder: a popped id is still a pending publication until its
chains are committed, and the sweep re-queues it if the feeder dies first.
"""

from __future__ import annotations

import logging
import threading

from flask import Flask
from redis.exceptions import RedisError

from app.delivery import fanout, queues, sending

log = logging.getLogger(__name__)
PAUSE = 1.0  # s to wait after a failure before popping again
ROUND_ATTEMPTS = 2000  # attempts a round aims at: 200 publications at a fan-out of 10


class Feeder(threading.Thread):
    """Pops published ids and delivers them, until stopped."""

    def __init__(self, app: Flask) -> None:
        super().__init__(name="feeder", daemon=True)
        self.app = app
        self.stopped = threading.Event()
        self.limit = queues.DISPATCH_BATCH  # publications to pop next

    def run(self) -> None:
        """Feed until stopped; a failure is logged and the loop goes on after a pause."""
        while not self.stopped.is_set():
            try:
                self.feed()
            except RedisError as exc:
                log.warning("feeder paused: Redis unreachable (%s)", exc)
                self.stopped.wait(PAUSE)
            except Exception:
                log.exception("feeder failed; its publications stay pending for the sweep")
                self.stopped.wait(PAUSE)
        try:
            with self.app.app_context():
                queues.feeder_gone(self.app.config["DELIVERY_JOB_TIMEOUT"])
        except RedisError as exc:
            log.warning("feeder stopped without handing its list back (%s)", exc)

    def feed(self) -> int:
        """One round: wait up to a heartbeat for ids, fan them out, hand them over."""
        with self.app.app_context():
            ids = queues.wait_publications(self.limit)
            if not ids:
                return 0
            chains = fanout.fan_out_many(ids)
            self.limit = next_limit(len(ids), len(chains))
            sending.deliver(chains)
            return len(chains)

    def stop(self, timeout: float | None = None) -> None:
        """Stop after the current round; wait up to ``timeout`` s for it."""
        self.stopped.set()
        if self.is_alive():
            self.join(timeout)


def next_limit(publications: int, chains: int) -> int:
    """Publications to pop next, so that a round at the same fan-out is ROUND_ATTEMPTS."""
    fan_out = max(1.0, chains / publications)
    return max(1, min(queues.DISPATCH_BATCH, int(ROUND_ATTEMPTS / fan_out)))
