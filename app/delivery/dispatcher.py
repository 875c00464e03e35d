"""A worker's dispatcher: sends attempts concurrently, endpoint by endpoint.

Inside a long-running worker, the feeder (``app.delivery.feeder``) or a job hands its
leased attempts to the dispatcher and goes on; the http sink's own sender (libcurl, one
thread for every exchange) or, for the other sinks, sender threads carry them, and the
recorder thread (``app.delivery.recorder``) stores the finished ones, as many as have
landed, in one transaction. Each endpoint
(subscription) has at most ``per_endpoint`` attempts in flight, so one that stalls
holds a few threads, not all of them; its other attempts wait here, and those that
wait longer than half their lease are handed back to the database for the sweep. A
crash loses nothing: every attempt here is a leased chain, which the sweep re-queues
when its lease runs out.

Backpressure, from the senders and from the recorder:
- ``submit`` blocks while the attempts sending, ready, or waiting for an endpoint that
  answers are ``capacity`` or more. An endpoint that is slow (a send in flight, or its
  last send, took over SLOW_SEND) does not count: the attempts of slow endpoints wait
  apart, MAX_WAITING of them at most, and the rest go back at once, so a slow endpoint
  never holds up the others. Counting only the sends, a burst for a few fast endpoints
  once filled their queues past MAX_WAITING, and the overflow, handed back, waited for
  the sweep.
- While more than ``max_unrecorded`` attempts wait for the recorder (finished, or
  handed back), ``submit`` takes nothing and no sender starts a send: so at most
  ``max_unrecorded`` plus one send per thread have reached their receivers without a
  log row (the sink's own sender starts a send only while the attempts waiting for the
  recorder and its sends in flight together stay under ``max_unrecorded``), and the
  recorder's input never holds more. An attempt held back longer
  than half its lease goes back unsent, as a waiting one does. Without this bound,
  sending outran recording by tens of thousands of deliveries, which a crash would
  send again.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections import defaultdict, deque
from concurrent.futures import ThreadPoolExecutor

from flask import Flask

from app.delivery import attempts
from app.delivery.attempts import Attempt, send
from app.delivery.recorder import Recorder

log = logging.getLogger(__name__)
MAX_WAITING = 1000  # attempts slow endpoints may have waiting here before the rest go back
SLOW_SEND = 1.0  # s a send may take before its endpoint counts as slow


class Dispatcher:
    """Bounded, per-endpoint-fair concurrent sending with batched recording."""

    def __init__(
        self, app: Flask, concurrency: int, per_endpoint: int, lease: float, max_unrecorded: int
    ) -> None:
        self.app, self.per_endpoint, self.max_wait = app, per_endpoint, lease / 2
        self.capacity = 4 * concurrency  # sending, ready or queued for fast endpoints
        self.max_unrecorded = max_unrecorded
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="send")
        self._cond = threading.Condition()
        self._running: dict[int, int] = defaultdict(int)
        self._sending: dict[int, dict[int, float]] = defaultdict(dict)  # sub -> {id(a): start}
        self._slow: set[int] = set()  # endpoints whose waiting attempts do not count
        self._waiting: dict[int, deque[tuple[float, Attempt]]] = defaultdict(deque)
        self._queued = 0  # attempts waiting for endpoints not in _slow
        self._parked = 0  # attempts waiting for endpoints in _slow
        self._returned: list[Attempt] = []  # waited too long: their leases go back
        self._active = 0  # sending or ready to send
        self._flying = 0  # of which sent by the sink's own sender (no thread of ours)
        self._unrecorded = 0  # submitted, not yet recorded or handed back
        self._unstored = 0  # handed to the recorder (finished or returned), not yet stored
        self._closing = False
        self._recorder = Recorder(app, self._stale, self._recorded, self._stopping)
        self._recorder.start()

    def submit(self, ready: list[Attempt]) -> None:
        """Take leased attempts; blocks while the senders or the recorder are behind."""
        with self._cond:
            for attempt in ready:
                while self._full():
                    self._cond.wait(SLOW_SEND / 4)
                    self._find_slow()  # a stalled endpoint's queue stops counting
                self._unrecorded += 1
                sub, now = attempt.subscription_id, time.monotonic()
                if self._running[sub] < self.per_endpoint:
                    self._start(attempt, now)
                elif sub not in self._slow:
                    self._waiting[sub].append((now, attempt))
                    self._queued += 1
                elif self._parked < MAX_WAITING:
                    self._waiting[sub].append((now, attempt))
                    self._parked += 1
                else:
                    self._returned.append(attempt)
                    self._unstored += 1

    def _full(self) -> bool:
        """Whether ``submit`` must wait (caller holds the lock); see the module docstring."""
        busy = self._active + self._queued >= self.capacity
        return busy or self._unstored > self.max_unrecorded

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
                self._unstored += len(queue)
                queue.clear()
            self._queued = self._parked = 0
            self._cond.notify_all()
        if not self.wait_idle(timeout):
            log.warning("dispatcher closed with attempts unrecorded; their leases will expire")
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _mark(self, sub: int, slow: bool) -> None:
        """Move ``sub`` in or out of the slow set, its queue with it (caller holds the lock)."""
        if slow == (sub in self._slow):
            return
        queued = len(self._waiting.get(sub, ()))
        if slow:
            self._slow.add(sub)
            self._queued -= queued
            self._parked += queued
        else:
            self._slow.discard(sub)
            self._queued += queued
            self._parked -= queued

    def _find_slow(self) -> None:
        """Mark slow the endpoints with a send in flight for over SLOW_SEND (lock held)."""
        cutoff = time.monotonic() - SLOW_SEND
        for sub, started in self._sending.items():
            if sub not in self._slow and started and min(started.values()) < cutoff:
                self._mark(sub, True)

    def _start(self, attempt: Attempt, since: float) -> None:
        """Send ``attempt``, submitted at ``since`` (caller holds the lock): through the
        sink's own sender if it has one (the http sink: libcurl, no thread of ours), else
        on a pool thread. An attempt held back for the recorder always waits on a thread."""
        sub = attempt.subscription_id
        self._running[sub] += 1
        self._active += 1
        # Counting the sends in flight keeps the bound of the module docstring: when all
        # land, the recorder has at most max_unrecorded waiting.
        if attempts.sends_alone(attempt) and self._unstored + self._flying < self.max_unrecorded:
            self._flying += 1
            self._sending[sub][id(attempt)] = began = time.monotonic()
            if not attempts.start(attempt, lambda sent: self._finish(sent, began, flew=True)):
                self._pool.submit(self._finish, attempt, began, True)  # the sink raised
            return
        self._sending[sub][id(attempt)] = math.inf  # until a thread takes it
        self._pool.submit(self._send, attempt, since)

    def _send(self, attempt: Attempt, since: float) -> None:
        if self._behind() and not self._await_recorder(since):
            self._finish(attempt, None)  # back to the database, unsent
            return
        # Timed from here: waiting for a free thread is not the endpoint's fault. Not under
        # the lock, which a feeder's submit can hold for a whole batch: the key exists,
        # so this store is atomic and leaves the dict's size alone for _find_slow.
        self._sending[attempt.subscription_id][id(attempt)] = began = time.monotonic()
        send(attempt)
        self._finish(attempt, began)

    def _behind(self) -> bool:
        """Whether a thread must not start a send: the attempts waiting for the recorder,
        with the sink's own sends in flight that will join them, are past the bound."""
        return self._unstored + self._flying > self.max_unrecorded

    def _await_recorder(self, since: float) -> bool:
        """Wait until the recorder is within bounds; False if ``since`` is over half a
        lease ago or the dispatcher is closing: the attempt goes back unsent instead."""
        with self._cond:
            while self._behind():
                if self._closing or time.monotonic() - since > self.max_wait:
                    return False
                self._cond.wait(SLOW_SEND / 4)
            return True

    def _finish(self, attempt: Attempt, began: float | None, flew: bool = False) -> None:
        """Hand ``attempt`` to the recorder, sent at ``began`` or unsent (None), through the
        sink's own sender if ``flew``; start its endpoint's next waiting attempt."""
        sub = attempt.subscription_id
        with self._cond:
            self._unstored += 1
            self._flying -= flew
            if began is None:
                self._returned.append(attempt)
            else:
                self._recorder.finished.put(attempt)
                self._mark(sub, time.monotonic() - began > SLOW_SEND)  # its last send decides
            del self._sending[sub][id(attempt)]
            self._running[sub] -= 1
            self._active -= 1
            waiting = self._waiting.get(sub)
            if waiting:
                self._take_waiting(sub)
                since, ready = waiting.popleft()
                self._start(ready, since)
            elif not self._running[sub]:  # forget idle endpoints
                for state in (self._running, self._waiting, self._sending):
                    state.pop(sub, None)
                self._slow.discard(sub)
            self._cond.notify_all()

    def _take_waiting(self, sub: int) -> None:
        """Count an attempt leaving ``sub``'s queue (caller holds the lock)."""
        if sub in self._slow:
            self._parked -= 1
        else:
            self._queued -= 1

    def _stale(self) -> list[Attempt]:
        """Attempts returned by ``submit``, and those that waited more than half a lease."""
        cutoff = time.monotonic() - self.max_wait
        with self._cond:
            self._find_slow()
            returned, self._returned = self._returned, []
            for sub, queue in self._waiting.items():
                while queue and queue[0][0] < cutoff:
                    returned.append(queue.popleft()[1])
                    self._take_waiting(sub)
                    self._unstored += 1
            if returned:
                self._cond.notify_all()
        return returned

    def _recorded(self, count: int) -> None:
        with self._cond:
            self._unrecorded -= count
            self._unstored -= count
            self._cond.notify_all()

    def _stopping(self) -> bool:
        with self._cond:
            return self._closing and self._unrecorded == 0
