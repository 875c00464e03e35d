"""Connects the app to Redis: one configured server, Sentinel's primary, or an embedded one.

``REDIS_URL=redis://…`` names one server; ``redis+sentinel://…`` or ``REDIS_SENTINELS``
name the sentinels that know the primary (see ``app.broker.sentinel_config``). With neither,
the first ``get_redis`` starts the embedded server (see ``app.broker.embedded``), which
is shared by every process of the app and outlives them all on purpose:
``stop_embedded`` ends it. Nothing connects or starts at import or at ``init_app``,
but a malformed setting fails there.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from urllib.parse import quote

import redis
from flask import Flask, current_app

from app.broker import embedded as embedded_redis
from app.broker import sentinel as redis_sentinel
from app.broker import sentinel_config
from app.broker.embedded import MAX_SOCKET_BYTES
from app.broker.sentinel_config import SentinelSettings

__all__ = [
    "MAX_SOCKET_BYTES",
    "Broker",
    "embedded_url",
    "get_redis",
    "init_app",
    "new_client",
    "redis_url",
    "stop_embedded",
]


@dataclass
class Broker:
    """One app's broker: its URL or sentinels, the embedded server's directory, the client."""

    url: str | None
    directory: str
    sentinel: SentinelSettings | None = None
    client: redis.Redis | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)


def init_app(app: Flask) -> None:
    """Register ``app.extensions["broker"]``; nothing connects or starts until first use.

    Raises ValueError, naming the setting, when the Redis settings are malformed.
    """
    directory = os.path.join(app.instance_path, "redis")
    sentinel = sentinel_config.from_config(app.config)
    url = app.config.get("REDIS_URL") or (sentinel.url() if sentinel else None)
    app.extensions["broker"] = Broker(url=url, directory=directory, sentinel=sentinel)


def get_redis(app: Flask | None = None) -> redis.Redis:
    """Return the app's cached client, starting the embedded server first if needed.

    The client is made once per app and process: redis-py reconnects by itself after
    a fork or a server restart.
    """
    broker = _broker(app if app is not None else current_app)
    with broker.lock:
        if broker.client is None:
            broker.client = _connect(broker)
        return broker.client


def new_client(app: Flask) -> redis.Redis:
    """A client of its own, sharing no connection with ``get_redis``'s: for a forked child.

    RQ's scheduler runs in a child process made while other threads may hold the
    broker's lock or a pooled connection, so it makes its client afresh.
    """
    return _connect(_broker(app))


def _connect(broker: Broker) -> redis.Redis:
    """Make a client of the configured server, Sentinel's primary, or the embedded server."""
    if broker.sentinel is not None:
        return redis_sentinel.master_client(broker.sentinel)
    if broker.url:
        # Without a connect timeout, an unreachable host (packets dropped, not
        # refused) would hang a dashboard page or a publish for minutes.
        return redis.Redis.from_url(broker.url, socket_connect_timeout=5)
    embedded_redis.ensure_started(broker.directory)
    return redis.Redis(unix_socket_path=embedded_redis.socket_path(broker.directory))


def embedded_url(app: Flask) -> str:
    """Return the ``unix://`` URL of the app's embedded server, running or not."""
    return "unix://" + quote(embedded_redis.socket_path(os.path.join(app.instance_path, "redis")))


def redis_url(app: Flask) -> str:
    """Return the one URL to hand to child processes (RQ workers); starts nothing.

    Through Sentinel it is the ``redis+sentinel://`` URL, which only ``get_redis``
    (not ``redis.Redis.from_url``) understands.
    """
    return _broker(app).url or embedded_url(app)


def stop_embedded(app: Flask) -> bool:
    """Shut the embedded server down after a final save; return whether it was running."""
    broker = _broker(app)
    with broker.lock:
        if broker.client is not None:
            broker.client.close()
            broker.client = None
    return embedded_redis.stop(broker.directory)


def _broker(app: Flask) -> Broker:
    """Return the registered broker, or say plainly that ``init_app`` was skipped."""
    if "broker" not in app.extensions:
        raise RuntimeError("app.broker.connection.init_app(app) was not called for this app")
    return app.extensions["broker"]
