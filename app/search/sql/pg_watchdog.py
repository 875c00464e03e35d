"""The thread that cancels a PostgreSQL search statement still running at its deadline.

``watch(driver, at)`` before a search's statement and ``release(watch)`` after it are a
lock and a dict entry each: a search that ends in time pays nothing on the server, no
round trip and no ``SET statement_timeout``. One daemon thread per process sleeps until
the earliest deadline among the statements in flight and, for each one still running
then, sends PostgreSQL a cancel request (``Connection.cancel_safe``) and marks it fired.

The cancel is sent with the lock held, and ``release`` takes the lock, so a statement
cannot return, and its connection start another, until the request has reached the
server. A request that reaches a backend after its statement ended finds it idle, and
PostgreSQL ignores a cancel while it waits for the next command: a cancel never lands
on a statement it was not meant for.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

log = logging.getLogger(__name__)

CANCEL_TIMEOUT = 5.0  # seconds to wait for the server to take a cancel request


class Watch:
    """One statement in flight: its connection, its deadline, and whether it was cancelled."""

    __slots__ = ("at", "driver", "fired")

    def __init__(self, driver: Any, at: float) -> None:
        self.driver, self.at, self.fired = driver, at, False


class _Watchdog:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._wake = threading.Condition(self._lock)
        self._active: dict[int, Watch] = {}
        self._next = float("inf")  # when the thread plans to look next
        self._thread: threading.Thread | None = None

    def watch(self, driver: Any, at: float) -> Watch:
        entry = Watch(driver, at)
        with self._lock:
            self._active[id(entry)] = entry
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="search-deadline-watchdog", daemon=True
                )
                self._thread.start()
            if at < self._next:
                self._wake.notify()
        return entry

    def release(self, entry: Watch) -> None:
        with self._lock:  # waits while a cancel for this statement is being sent
            self._active.pop(id(entry), None)

    def _run(self) -> None:
        with self._lock:
            while True:
                now = time.monotonic()
                for entry in [e for e in self._active.values() if e.at <= now]:
                    del self._active[id(entry)]
                    entry.fired = True
                    _cancel(entry.driver)
                self._next = min((e.at for e in self._active.values()), default=float("inf"))
                self._wake.wait(None if self._next == float("inf") else self._next - now)


def _cancel(driver: Any) -> None:
    try:
        driver.cancel_safe(timeout=CANCEL_TIMEOUT)
    except Exception:  # the statement then runs on; the next one checks the deadline
        log.warning("could not cancel a search past its deadline", exc_info=True)


_watchdog = _Watchdog()


def _after_fork() -> None:
    """A forked child has none of the parent's threads, and maybe a lock held by one."""
    global _watchdog
    _watchdog = _Watchdog()


os.register_at_fork(after_in_child=_after_fork)


def watch(driver: Any, at: float) -> Watch:
    """Cancel ``driver``'s statement if it still runs at ``at`` (``time.monotonic()``)."""
    return _watchdog.watch(driver, at)


def release(entry: Watch) -> None:
    """The statement ended: no cancel for it from now on."""
    _watchdog.release(entry)
