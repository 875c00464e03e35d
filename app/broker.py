"""Connects the app to Redis: the configured server, or an embedded real Redis under instance/.

With ``REDIS_URL`` unset, the first ``get_redis`` starts the embedded server (see
``app.embedded_redis``), which is shared by every process of the app and outlives them
all on purpose: ``stop_embedded`` ends it. Nothing starts at import or at ``init_app``.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from urllib.parse import quote

import redis
from flask import Flask, current_app

from app import embedded_redis
from app.embedded_redis import MAX_SOCKET_BYTES

__all__ = [
    "MAX_SOCKET_BYTES",
    "Broker",
    "embedded_url",
    "get_redis",
    "init_app",
    "redis_url",
    "stop_embedded",
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
                # Without a connect timeout, an unreachable host (packets dropped, not
                # refused) would hang a dashboard page or a publish for minutes.
                broker.client = redis.Redis.from_url(broker.url, socket_connect_timeout=5)
            else:
                embedded_redis.ensure_started(broker.directory)
                socket = embedded_redis.socket_path(broker.directory)
                broker.client = redis.Redis(unix_socket_path=socket)
        return broker.client


def embedded_url(app: Flask) -> str:
    """Return the ``unix://`` URL of the app's embedded server, running or not."""
    return "unix://" + quote(embedded_redis.socket_path(os.path.join(app.instance_path, "redis")))


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
    return embedded_redis.stop(broker.directory)


def _broker(app: Flask) -> Broker:
    """Return the registered broker, or say plainly that ``init_app`` was skipped."""
    if "broker" not in app.extensions:
        raise RuntimeError("app.broker.init_app(app) was not called for this app")
    return app.extensions["broker"]
