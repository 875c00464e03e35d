"""Throttling of failed authentication attempts per client, counted in Redis."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from app.broker import get_redis

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Throttle:
    """At most ``limit`` failures per client within ``window`` seconds, under ``scope``.

    Throttling is a defence, not a dependency: if Redis is unreachable it fails open
    and logs a warning, so an outage does not lock every operator out.
    """

    scope: str
    limit: int
    window: int

    def _key(self, client: str) -> str:
        return f"async_events:{self.scope}_failures:{client}"

    def blocked(self, client: str) -> bool:
        """Whether ``client`` has used up its failures for the current window."""
        try:
            failures = int(get_redis().get(self._key(client)) or 0)
        except RedisError as exc:
            log.warning("%s throttling skipped: Redis unreachable (%s)", self.scope, exc)
            return False
        return failures >= self.limit

    def fail(self, client: str) -> None:
        """Count one failure; the window starts at the first failure."""
        try:
            pipe = get_redis().pipeline()
            pipe.incr(self._key(client))
            pipe.expire(self._key(client), self.window, nx=True)
            pipe.execute()
        except RedisError as exc:
            log.warning("%s failure not counted: Redis unreachable (%s)", self.scope, exc)

    def reset(self, client: str) -> None:
        """Forget a client's failures (after it authenticates)."""
        try:
            get_redis().delete(self._key(client))
        except RedisError as exc:
            log.warning("%s throttle not reset: Redis unreachable (%s)", self.scope, exc)
