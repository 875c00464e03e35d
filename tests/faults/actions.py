"""Moments and actions that scenarios compose into a fault: ``at(moment, *actions)``.

A moment is a ``Run -> bool`` polled until true; an action is a ``Run -> None``.
Actions that need a server of the scenario's own say so (``needs``), and the harness
starts one: "redis" (a redis-server to kill or pause), "sentinel" (a primary, a replica
and three sentinels, whose primary to kill) or "postgres" (a private cluster).
"""

from __future__ import annotations

import signal
import sqlite3
import time
from collections.abc import Callable
from typing import Any

from rq import Queue
from sqlalchemy import text

from app.delivery.queues import RETRY_QUEUE
from app.models import DeliveryLog
from tests.broker.redis_topology import SERVICE
from tests.faults.run import SCALE, Run
from tests.support import wait_until

Moment = Callable[[Run], bool]
Action = Callable[[Run], None]
MOMENT_TIMEOUT = 60.0  # s a moment may take to come before the scenario fails


def needs(*servers: str) -> Callable[[Action], Action]:
    """Mark an action as needing servers of the scenario's own."""

    def mark(action: Action) -> Action:
        action.needs = frozenset(servers)  # type: ignore[attr-defined]
        return action

    return mark


def at(moment: Moment, *actions: Action) -> Action:
    """The fault: wait for ``moment``, then run ``actions`` in order."""

    @needs(*{need for action in actions for need in getattr(action, "needs", ())})
    def fault(run: Run) -> None:
        wait_until(lambda: moment(run), timeout=MOMENT_TIMEOUT, interval=0.01)
        for action in actions:
            action(run)

    return fault


# Moments


def arrived(count: int = 1, path: str | None = None) -> Moment:
    """When the receivers (or ``path``) have got ``count`` requests."""
    return lambda run: len(run.receiver.received(path)) >= count


def logged(count: int = 1, success: bool | None = None) -> Moment:
    """When ``count`` log rows (only failures: ``success=False``) are committed."""
    return lambda run: run.logged(success) >= count


# Actions on workers, receivers, publishers


def kill_workers(run: Run) -> None:
    """SIGKILL every worker (and its scheduler), as a crash or the OOM killer would."""
    run.kill_workers()


def start_worker(run: Run) -> None:
    """Start a fresh worker."""
    run.start_worker()


def release(path: str | None = None) -> Action:
    """Let held requests (to ``path``, or all) be answered, and stop holding new ones."""
    return lambda run: run.receiver.release(path)


def publish(count: int) -> Action:
    """Publish ``count`` more events (a publisher going on through the fault)."""
    return lambda run: run.publish(count * SCALE)


def wait_for(moment: Moment) -> Action:
    """Wait for another moment in the middle of the fault."""
    return lambda run: wait_until(lambda: moment(run), timeout=MOMENT_TIMEOUT, interval=0.01)


def quiet(seconds: float) -> Action:
    """Wait until no request has arrived for ``seconds``: the sends under way are answered."""
    return lambda run: run.wait_quiet(seconds)


def pause(seconds: float) -> Action:
    """Let time pass (an outage that lasts)."""
    return lambda run: time.sleep(seconds)


def check(predicate: Callable[[Run], bool], what: str) -> Action:
    """Assert ``what`` during the fault: that it hit its moment, or that the system held."""

    def checked(run: Run) -> None:
        assert predicate(run), f"during the fault, this did not hold: {what}"

    return checked


# The recorder's database writes


def lock_log_writes(run: Run) -> None:
    """Hold the recorder at its commit: lock the log from a connection of the test's own.

    SQLite: the write lock itself (``BEGIN IMMEDIATE``), as the sqlite3 shell takes it.
    PostgreSQL: ``LOCK TABLE ... IN EXCLUSIVE MODE``, which lets reads through and
    stops inserts, so fan-outs and leases go on and only the log rows wait.
    """
    url = run.config["SQLALCHEMY_DATABASE_URI"]
    if url.startswith("sqlite:///"):
        held: Any = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=30)
        held.isolation_level = None
        held.execute("BEGIN IMMEDIATE")
    else:
        held = run.reader.connect()
        table = DeliveryLog.__tablename__
        held.execute(text(f"LOCK TABLE {table} IN EXCLUSIVE MODE"))
    run.held = held


def unlock_log_writes(run: Run) -> None:
    """Let the recorders commit again (the lock's transaction is rolled back)."""
    if run.held is not None:
        run.held.close()
        run.held = None


# Servers of the scenario's own


@needs("redis")
def kill_redis(run: Run) -> None:
    """SIGKILL the scenario's Redis: queued jobs, scheduled retries, wake-ups, all gone."""
    assert run.redis_server is not None
    run.redis_server.kill()


@needs("redis")
def kill_redis_in_a_job(run: Run) -> None:
    """Have a worker SIGKILL the scenario's Redis from inside a job (``tests.faults.jobs``),
    so Redis dies while RQ's bookkeeping of that job is still to be written."""
    assert run.redis_server is not None and run.redis_server.proc is not None
    with run.redis() as conn:
        Queue(RETRY_QUEUE, connection=conn).enqueue(
            "tests.faults.jobs.kill", run.redis_server.proc.pid
        )
    run.redis_server.proc.wait(MOMENT_TIMEOUT)


@needs("redis")
def start_redis(run: Run) -> None:
    """Start the scenario's Redis again, empty, on the same port."""
    assert run.redis_server is not None
    run.redis_server.start()


@needs("redis")
def pause_redis_writes(run: Run) -> None:
    """``CLIENT PAUSE ... WRITE``: every write (a retry's scheduling too) waits, unanswered."""
    with run.redis() as conn:
        conn.execute_command("CLIENT", "PAUSE", 60_000, "WRITE")


@needs("redis")
def unpause_redis(run: Run) -> None:
    """``CLIENT UNPAUSE``."""
    with run.redis() as conn:
        conn.execute_command("CLIENT", "UNPAUSE")


def sentinels_down_after(ms: int) -> Action:
    """Have the sentinels call a silent primary down only after ``ms``: a failover that
    outlasts a command's retries (about 3 s, ``app.broker.sentinel``) meets every loop."""

    @needs("sentinel")
    def down_after(run: Run) -> None:
        assert run.topology is not None
        for sentinel in run.topology.sentinels:
            with sentinel.client() as conn:
                conn.sentinel_set(SERVICE, "down-after-milliseconds", ms)

    return down_after


@needs("sentinel")
def kill_primary(run: Run) -> None:
    """SIGKILL Sentinel's primary, as a crash would: whatever the replica had not yet
    received (a job, a retry, a wake-up) is gone with it."""
    assert run.topology is not None
    run.fallen.append(run.topology.kill_primary())


@needs("sentinel")
def freeze_primary(run: Run) -> None:
    """SIGSTOP Sentinel's primary, as a hung host or a network cut would leave it: its
    port still accepts connections, but nothing it is sent is ever answered."""
    assert run.topology is not None
    node = run.topology.primary()
    assert node.process is not None
    node.process.send_signal(signal.SIGSTOP)
    run.fallen.append(node)  # SIGKILLed, stopped or not, when the topology stops


@needs("sentinel")
def await_failover(run: Run) -> None:
    """Wait until every sentinel names the replica as primary and it answers as one."""
    assert run.topology is not None and run.fallen, "kill_primary comes first"
    run.topology.wait_for_failover(run.fallen[-1], timeout=MOMENT_TIMEOUT)


def stop_postgres(mode: str) -> Action:
    """Stop the private cluster: ``fast`` ends sessions cleanly, ``immediate`` crashes it."""

    @needs("postgres")
    def stop(run: Run) -> None:
        assert run.postgres is not None
        run.postgres.stop(mode)

    return stop


@needs("postgres")
def start_postgres(run: Run) -> None:
    """Start the private cluster again (after crash recovery, if it was ``immediate``)."""
    assert run.postgres is not None
    run.postgres.start()
