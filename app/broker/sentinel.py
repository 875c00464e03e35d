"""Makes Redis clients that follow Sentinel's primary through a failover.

A client (``master_client``) asks the sentinels for the primary's address whenever it
opens a connection, so after a failover every reconnect reaches the new primary. A
demoted primary's READONLY answer counts as a lost connection (redis-py's
``SentinelManagedConnection``), a hung primary's silence as a timeout, and the command
is retried on a connection to the primary the sentinels name then
(``PrimaryConnection``). The settings come from ``app.broker.sentinel_config``.
"""

from __future__ import annotations

import redis
from redis.backoff import ExponentialWithJitterBackoff
from redis.retry import Retry
from redis.sentinel import Sentinel, SentinelManagedConnection

from app.broker.sentinel_config import SentinelSettings

CONNECT_TIMEOUT = 5.0  # s, to the primary: an unreachable host must not hang a page
SENTINEL_TIMEOUT = 2.0  # s per sentinel asked; a dead one costs this, then the next is asked
# s a command may wait for the primary's answer. A primary that hangs (frozen, cut off
# by the network) instead of crashing still accepts connections, so without a read
# timeout a command waits on it for good (RQ's worker sets 415 s), long after the
# sentinels promoted the replica. Timed out, the command is retried on the primary the
# sentinels name then. It must exceed the longest blocking read: the worker's dequeue
# (app.delivery.worker.DEQUEUE_TIMEOUT) and the feeder's beat (app.delivery.queues.FEEDER_BEAT).
COMMAND_TIMEOUT = 15.0
# A command that meets a dead or demoted primary is retried this often, with a jittered
# backoff of 10 ms doubling up to 1 s (redis-py's default for a plain client): about 3 s in
# all, which rides out the last of a failover without holding a caller for long.
RETRIES = 10


class PrimaryConnection(SentinelManagedConnection):
    """A connection to the primary that asks the sentinels where it is at every reconnect.

    redis-py (8.1) asks them only when the pool hands a connection out. A command
    that fails on a connection already handed out (the primary killed under a
    BLPOP, or a demoted primary answering READONLY) is retried by reconnecting to
    the same address, so every retry met the dead or demoted server again and the
    command failed after all of them. Here each reconnect, and so each retry, goes
    to the address the sentinels give now.
    """

    def connect_check_health(
        self, check_health: bool = True, retry_socket_connect: bool = True
    ) -> None:
        """Connect to the primary the sentinels name now; the command's retry tries again."""
        if self._sock:
            return
        if self.connection_pool.is_master:
            self.host, self.port = self.connection_pool.get_master_address()
        # No retry of one address here: the command's retry asks the sentinels afresh.
        super().connect_check_health(check_health, retry_socket_connect=False)


def master_client(settings: SentinelSettings) -> redis.Redis:
    """A client of the current primary: every new connection asks the sentinels where it is."""
    sentinel = Sentinel(
        list(settings.sentinels),
        sentinel_kwargs={
            "socket_connect_timeout": SENTINEL_TIMEOUT,
            "socket_timeout": SENTINEL_TIMEOUT,
            "password": settings.sentinel_password,
            # A dead sentinel is skipped for the next one, not retried.
            "retry": None,
        },
    )
    return sentinel.master_for(
        settings.service,
        db=settings.db,
        username=settings.username,
        password=settings.password,
        socket_connect_timeout=CONNECT_TIMEOUT,
        socket_timeout=COMMAND_TIMEOUT,
        connection_class=PrimaryConnection,
        retry=Retry(ExponentialWithJitterBackoff(cap=1.0, base=0.01), RETRIES),
    )
