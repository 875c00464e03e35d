"""The scheduler of a worker: RQ's, polling five times a second and outliving Redis errors.

Retries are due on whole seconds (``app.delivery.queues``); the finer poll keeps a 1 s
backoff close to 1 s. The worker (``app.delivery.worker``) starts it.
"""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from redis import Redis
from rq.scheduler import RQScheduler

from app.broker import connection as broker
from app.broker.outages import ride_out

# RQ's scheduler polls once a second; retries are due on whole seconds (see
# app.delivery.queues), so polling 5 times a second keeps a 1 s backoff close to 1 s.
SCHEDULER_POLL = 0.2


class FineScheduler(RQScheduler):
    """RQ's scheduler, polling every SCHEDULER_POLL s (its lock TTLs keep whole seconds).

    It connects with the app's own settings (``broker.new_client``), so through
    Sentinel too, and its loop outlives Redis errors (see ``ride_out``).
    """

    def __init__(self, *args: Any, app: Flask, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.app = app

    @property
    def connection(self) -> Redis:
        """A client of its own, made in the process that uses it (RQ forks the scheduler)."""
        if self._connection is None:
            self._connection = broker.new_client(self.app)
        return self._connection

    def work(self) -> None:
        """RQ's scheduler loop with the finer sleep, going on through Redis errors."""
        self._install_signal_handlers()
        ride_out("scheduler start", self.register_birth)
        while not self._stop_requested:
            ride_out("scheduling", self._poll)
            time.sleep(SCHEDULER_POLL)
        self.stop()

    def _poll(self) -> None:
        """One round: keep the locks, beat, move due jobs to their queues."""
        if self.should_reacquire_locks:
            self.acquire_locks()
        self.heartbeat()
        self.enqueue_scheduled_jobs()
