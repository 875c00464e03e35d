"""The relay: committed publication ids pushed to Redis in bursts, from a thread of its own.

The outbox (``app.delivery.outbox``) commits publications and hands their ids here, so a
publish never waits for Redis and a Redis outage cannot fail one. Redis only carries
wake-ups: an id the relay drops (in a crash, an outage, or beyond RELAY_MAX_IDS) is still
pending in the database, and the sweep (``app.delivery.sweeper``) queues it.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time

from flask import Flask

from app.delivery import queues

log = logging.getLogger(__name__)

RELAY_LINGER = 0.002  # s the relay waits after a first id, so a burst shares a round trip
RELAY_MAX_IDS = 100_000  # ids waiting for a push; more wait in the database for the sweep


class Relay:
    """Pushes committed publication ids to Redis from a thread of its own.

    The thread wakes on the first id, lingers ``RELAY_LINGER`` so the rest of a
    burst joins it, and hands the lot to ``queues.enqueue_publications`` in one
    round trip. That never raises: with Redis away, the ids wait for the sweep. While
    a push hangs (Redis unreachable, packets dropped), ids beyond RELAY_MAX_IDS are
    left to the sweep too, so the list stays bounded at any publish rate.
    """

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._cond = threading.Condition()
        self._ids: list[int] = []
        self._shed = 0  # ids left to the sweep since the last push began
        self._sending = False
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()

    def send(self, ids: list[int]) -> None:
        """Queue ``ids`` for the next push; those beyond RELAY_MAX_IDS wait for the sweep."""
        with self._cond:
            room = max(0, RELAY_MAX_IDS - len(self._ids))
            if len(ids) > room and not self._shed:
                log.warning("relay behind Redis: new publications wait for the sweep")
            self._shed += max(0, len(ids) - room)
            self._ids.extend(ids[:room])
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="outbox-relay", daemon=True)
                self._thread.start()
                atexit.register(self._at_exit)
            self._cond.notify_all()

    def waiting(self) -> int:
        """How many ids wait for the next push."""
        with self._cond:
            return len(self._ids)

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until every id sent so far has been pushed (or given up on); False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._ids and not self._sending, timeout)

    def stop(self, timeout: float = 5.0) -> None:
        """Push the ids sent so far, then end the thread."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _at_exit(self) -> None:
        if os.getpid() == self._pid:  # not in a forked child, which has no relay thread
            self.flush(1.0)

    def _run(self) -> None:
        timeout = self.app.config["DELIVERY_JOB_TIMEOUT"]
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._ids or self._stopping)
                if not self._ids:
                    return
                self._sending = True
            time.sleep(RELAY_LINGER)
            with self._cond:
                ids, self._ids, self._shed = self._ids, [], 0
            try:
                with self.app.app_context():
                    queues.enqueue_publications(ids, timeout)
            except Exception:  # the thread must outlive any failure; the sweep has the ids
                log.exception("publications %s not relayed; the sweep will queue them", ids)
            finally:
                with self._cond:
                    self._sending = bool(self._ids)
                    self._cond.notify_all()
