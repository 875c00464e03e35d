"""One thread drives every HTTP exchange of a client through libcurl's multi interface.

A thread per exchange cost ~290 µs of CPU per signed POST (bench/senders.py: urllib3
threads), most of it Python's connection machinery and thread switches; libcurl's multi
interface spends ~15 µs, because connecting, TLS, writing, parsing and timing all stay in
C and one thread waits on every socket at once (``epoll`` through ``selectors``).

``Loop.add`` is thread-safe and never blocks: it queues a job and wakes the loop
through a pipe. The job runs on the loop's thread, where it configures a ``pycurl.Curl``
handle (handles are reused, so their options persist) and returns it with its
completion callback; when libcurl finishes the transfer the callback runs on the loop's
thread too, with libcurl's error code (0: done) and message. Callbacks must be quick:
they hold up every other exchange. libcurl's own ``TIMEOUT_MS`` is a wall-clock limit
over the whole transfer, which is what a total deadline needs; no watchdog is involved.

The loop is created lazily and once per process (a forked child makes its own), and
``close`` ends transfers still running with ``CLOSED``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import selectors
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TypeVar

import pycurl

log = logging.getLogger(__name__)

T = TypeVar("T")
CLOSED = -1  # the error code a transfer ends with when the loop closes under it
Done = Callable[[pycurl.Curl, int, str], None]
# A job configures the handle it is given and returns its callback, or None if there is
# nothing to send; it is given None instead of a handle when the loop has closed.
Job = Callable[[pycurl.Curl | None], Done | None]
_MAX_WAIT = 1.0  # s the loop sleeps at most, whatever libcurl's timer says
_WAKE = object()
_process = [os.getpid()]  # this process's id, kept current across forks without a syscall
os.register_at_fork(after_in_child=lambda: _process.__setitem__(0, os.getpid()))


class Loop:
    """A thread that runs libcurl transfers; ``add`` may be called from any thread."""

    def __init__(self, name: str, max_connections: int) -> None:
        self._multi = pycurl.CurlMulti()
        self._multi.setopt(pycurl.M_SOCKETFUNCTION, self._on_socket)
        self._multi.setopt(pycurl.M_TIMERFUNCTION, self._on_timer)
        self._multi.setopt(pycurl.M_MAXCONNECTS, max_connections)  # kept alive, idle
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._inbox: deque[Job] = deque()
        self._woken = False
        self._timer: float | None = None  # when libcurl wants SOCKET_TIMEOUT, monotonic
        self._running: dict[pycurl.Curl, Done] = {}
        self._idle: list[pycurl.Curl] = []
        self._closing = False
        self.pid = _process[0]
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    @property
    def here(self) -> bool:
        """Whether this process made the loop (a forked child did not: its thread is gone)."""
        return self.pid == _process[0]

    def add(self, job: Job) -> None:
        """Run ``job`` on the loop's thread with a free handle; thread-safe, never blocks.

        After ``close`` the job runs here and now, given None.
        """
        if self._closing:
            job(None)
            return
        self._inbox.append(job)
        if not self._woken:
            self._woken = True
            with contextlib.suppress(BlockingIOError):  # a full pipe: the loop is awake
                os.write(self._wake_w, b"\0")

    def close(self, timeout: float = 5.0) -> None:
        """End every transfer (their callbacks get ``CLOSED``) and stop the thread."""
        self.add(lambda handle: None)
        self._closing = True
        self._thread.join(timeout)

    def _run(self) -> None:
        try:
            while not self._closing:
                self._admit()
                self._wait()
                self._reap()
        except Exception:  # a bug here must not leave callers waiting forever
            log.exception("the HTTP loop failed; its transfers end as closed")
        finally:
            self._shut()

    def _admit(self) -> None:
        """Start the queued jobs (cleared first, so a job queued meanwhile wakes us again)."""
        self._woken = False
        while self._inbox:
            job = self._inbox.popleft()
            handle = self._idle.pop() if self._idle else _new_handle()
            try:
                done = job(handle)
            except Exception:
                log.exception("an HTTP job failed before sending")
                done = None
            if done is None:
                self._idle.append(handle)
                continue
            self._running[handle] = done
            self._multi.add_handle(handle)

    def _wait(self) -> None:
        """Sleep until a socket is ready, libcurl's timer is due, or a job arrives."""
        now = time.monotonic()
        wait = _MAX_WAIT if self._timer is None else max(0.0, min(self._timer - now, _MAX_WAIT))
        if self._inbox:
            wait = 0.0
        for key, mask in self._selector.select(wait):
            if key.data is _WAKE:
                _drain(self._wake_r)
                continue
            flags = pycurl.CSELECT_IN if mask & selectors.EVENT_READ else 0
            flags |= pycurl.CSELECT_OUT if mask & selectors.EVENT_WRITE else 0
            self._multi.socket_action(key.fd, flags)
        if self._timer is not None and time.monotonic() >= self._timer:
            self._timer = None
            self._multi.socket_action(pycurl.SOCKET_TIMEOUT, 0)

    def _reap(self) -> None:
        """Hand each finished transfer to its callback; its handle goes back to the pool."""
        while True:
            queued, ok, failed = self._multi.info_read()
            for handle in ok:
                self._end(handle, 0, "")
            for handle, code, message in failed:
                self._end(handle, code, message)
            if not queued:
                return

    def _end(self, handle: pycurl.Curl, code: int, message: str) -> None:
        self._multi.remove_handle(handle)
        done = self._running.pop(handle)
        self._idle.append(handle)
        try:
            done(handle, code, message)
        except Exception:
            log.exception("an HTTP completion callback failed")

    def _on_socket(self, event: int, fd: int, multi: object, data: object) -> None:
        """libcurl says which sockets to watch, and for what."""
        if event == pycurl.POLL_REMOVE:
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(fd)
            return
        mask = selectors.EVENT_READ if event & pycurl.POLL_IN else 0
        mask |= selectors.EVENT_WRITE if event & pycurl.POLL_OUT else 0
        try:
            self._selector.modify(fd, mask)
        except KeyError:
            self._selector.register(fd, mask)

    def _on_timer(self, ms: int) -> None:
        self._timer = None if ms < 0 else time.monotonic() + ms / 1000

    def _shut(self) -> None:
        """End what is still running or queued, then free libcurl's and the OS's resources."""
        self._closing = True
        for handle in list(self._running):
            self._end(handle, CLOSED, "the HTTP client was closed")
        while self._inbox:  # jobs never started: let them see the closed loop
            job = self._inbox.popleft()
            try:
                job(None)
            except Exception:
                log.exception("an HTTP job failed while closing")
        for handle in self._idle:
            handle.close()
        self._idle.clear()
        self._multi.close()
        self._selector.close()
        os.close(self._wake_r)
        os.close(self._wake_w)


def waited(start: Callable[[Callable[[T], None]], None]) -> T:
    """Call ``start(done)`` and block until ``done`` is called back; return what it got.

    The blocking form of a callback API, for callers that have a thread to spend (never
    the loop's own thread: it would wait for itself).
    """
    finished = threading.Event()
    got: list[T] = []

    def done(value: T) -> None:
        got.append(value)
        finished.set()

    start(done)
    finished.wait()
    return got[0]


def _new_handle() -> pycurl.Curl:
    handle = pycurl.Curl()
    handle.setopt(pycurl.NOSIGNAL, 1)
    return handle


def _drain(fd: int) -> None:
    with contextlib.suppress(BlockingIOError):
        while os.read(fd, 4096):
            pass
