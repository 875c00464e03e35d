"""A worker's dispatcher: sends attempts concurrently, endpoint by endpoint.

Inside a long-running worker, the feeder (``app.services.feeder``) or a job hands its
leased attempts to the dispatcher and goes on; sender threads carry them, and the
recorder thread (``app.services.recorder``) stores the finished ones, as many as have
landed, in one transaction. Each endpoint
(subscription) has at most ``per_endpoint`` attempts in flight, so one that stalls
holds a few threads, not all of them; its other attempts wait here, and those that
wait longer than half their lease are handed back to the database for the sweep. A
crash loses nothing: every attempt here is a leased chain, which the sweep re-queues
when its lease runs out.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor

from flask import Flask, current_app

from app.models import Delivery
from app.services import attempts
from app.services.attempts import Attempt, send
from app.services.fanout import NewChain
from app.services.recorder import Recorder

log = logging.getLogger(__name__)
MAX_WAITING = 1000  # attempts one endpoint may have waiting here before the rest go back


class Dispatcher:
    """Bounded, per-endpoint-fair concurrent sending with batched recording."""

    def __init__(self, app: Flask, concurrency: int, per_endpoint: int, lease: float) -> None:
        self.app, self.per_endpoint, self.max_wait = app, per_endpoint, lease / 2
        self.capacity = 4 * concurrency  # attempts sending or ready before submit blocks
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="send")
        self._cond = threading.Condition()
        self._running: dict[int, int] = defaultdict(int)
        self._waiting: dict[int, deque[tuple[float, Attempt]]] = defaultdict(deque)
        self._returned: list[Attempt] = []  # waited too long: their leases go back
        self._active = 0  # sending or ready to send
        self._unrecorded = 0  # submitted, not yet recorded or handed back
        self._closing = False
        self._recorder = Recorder(app, self._stale, self._recorded, self._stopping)
        self._recorder.start()

    def submit(self, ready: list[Attempt]) -> None:
        """Take leased attempts; blocks while ``capacity`` attempts are already under way."""
        with self._cond:
            for attempt in ready:
                while self._active >= self.capacity:
                    self._cond.wait()
                self._unrecorded += 1
                sub = attempt.subscription_id
                if self._running[sub] < self.per_endpoint:
                    self._start(attempt)
                elif len(self._waiting[sub]) < MAX_WAITING:
                    self._waiting[sub].append((time.monotonic(), attempt))
                else:
                    self._returned.append(attempt)

    def wait_idle(self, timeout: float | None = None) -> bool:
        """Wait until everything submitted is recorded or handed back; False on timeout."""
        with self._cond:
            return self._cond.wait_for(lambda: self._unrecorded == 0, timeout)

    def close(self, timeout: float = 30.0) -> None:
        """Hand back waiting attempts, finish those in flight, record them, stop."""
        with self._cond:
            self._closing = True
            for queue in self._waiting.values():
                self._returned.extend(attempt for _, attempt in queue)
                queue.clear()
            self._cond.notify_all()
        if not self.wait_idle(timeout):
            log.warning("dispatcher closed with attempts unrecorded; their leases will expire")
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _start(self, attempt: Attempt) -> None:
        """Send ``attempt`` on a pool thread (caller holds the lock)."""
        self._running[attempt.subscription_id] += 1
        self._active += 1
        self._pool.submit(self._send, attempt)

    def _send(self, attempt: Attempt) -> None:
        send(attempt)
        self._recorder.finished.put(attempt)
        with self._cond:
            sub = attempt.subscription_id
            self._running[sub] -= 1
            self._active -= 1
            waiting = self._waiting.get(sub)
            if waiting:
                self._start(waiting.popleft()[1])
            elif not self._running[sub]:  # forget idle endpoints
                self._running.pop(sub, None)
                self._waiting.pop(sub, None)
            self._cond.notify_all()

    def _stale(self) -> list[Attempt]:
        """Attempts returned by ``submit``, and those that waited more than half a lease."""
        cutoff = time.monotonic() - self.max_wait
        with self._cond:
            returned, self._returned = self._returned, []
            for queue in self._waiting.values():
                while queue and queue[0][0] < cutoff:
                    returned.append(queue.popleft()[1])
        return returned

    def _recorded(self, count: int) -> None:
        with self._cond:
            self._unrecorded -= count
            self._cond.notify_all()

    def _stopping(self) -> bool:
        with self._cond:
            return self._closing and self._unrecorded == 0


_lock = threading.Lock()


def enable(app: Flask) -> None:
    """Let this process's jobs use a dispatcher (a long-running worker calls this)."""
    app.extensions["dispatcher"] = None


def current(app: Flask) -> Dispatcher | None:
    """The process's dispatcher if ``enable`` was called, created on first use; else None.

    Created lazily, after RQ has forked its scheduler, so no child inherits its threads.
    """
    if "dispatcher" not in app.extensions:
        return None
    with _lock:
        if app.extensions["dispatcher"] is None:
            config = app.config
            app.extensions["dispatcher"] = Dispatcher(
                app,
                config["DELIVERY_CONCURRENCY"],
                config["DELIVERY_ENDPOINT_CONCURRENCY"],
                config["DELIVERY_LEASE_SECONDS"],
            )
        return app.extensions["dispatcher"]


def deliver(chains: list[Delivery] | list[NewChain]) -> None:
    """Send leased chains: through the process's dispatcher if it has one, else right here.

    In a long-running worker this returns once the attempts are handed over, and they
    are recorded as they land. Elsewhere (burst workers, tests, the CLI) the attempts
    are sent and recorded before this returns.
    """
    ready = attempts.prepare(chains)
    if not ready:
        return
    running = current(current_app._get_current_object())
    if running is not None:
        running.submit(ready)
    else:
        attempts.run(ready)


def close(app: Flask) -> None:
    """Close the process's dispatcher, if one was made."""
    running = app.extensions.pop("dispatcher", None)
    if running is not None:
        running.close(timeout=app.config["DELIVERY_TOTAL_TIMEOUT"] + 5)
