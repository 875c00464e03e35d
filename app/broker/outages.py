"""Riding out a Redis outage or a Sentinel failover in a loop that must not end.

RQ's own loops end the worker, or the scheduler's process, on the first connection
error. ``ride_out`` runs one step of such a loop instead: if Redis cannot be reached,
it logs the step, pauses, and lets the loop go on to its next round.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import NoScriptError
from redis.exceptions import TimeoutError as RedisTimeoutError

# After Redis failed a step of a loop, wait this long before the next step. The
# client has already retried for about 3 s (app.broker.sentinel.RETRIES).
REDIS_PAUSE = 1.0
# A new primary starts with an empty script cache: a pipeline that loaded RQ's Lua
# scripts on the old one fails with NOSCRIPT once, and loads them again next time.
UNREACHABLE = (RedisConnectionError, RedisTimeoutError, NoScriptError)
T = TypeVar("T")
log = logging.getLogger(__name__)


def ride_out(step: str, call: Callable[[], T]) -> T | None:
    """Run one step of a loop; if Redis cannot be reached, log it, pause, and return None."""
    try:
        return call()
    except UNREACHABLE as exc:
        log.warning("%s skipped: Redis unreachable (%s); going on in %s s", step, exc, REDIS_PAUSE)
        time.sleep(REDIS_PAUSE)
        return None
