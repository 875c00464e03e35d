"""Redis killed and restarted empty, Sentinel's primary killed, PostgreSQL restarted,
in the middle of delivery."""

from __future__ import annotations

import pytest

from tests.faults.actions import (
    arrived,
    at,
    await_failover,
    check,
    freeze_primary,
    kill_primary,
    kill_redis,
    kill_redis_in_a_job,
    logged,
    pause,
    publish,
    release,
    sentinels_down_after,
    start_postgres,
    start_redis,
    stop_postgres,
    wait_for,
)
from tests.faults.harness import Endpoint
from tests.faults.run import DOWN_AFTER_MS
from tests.receiver import Reply

pytestmark = pytest.mark.slow


def test_redis_killed_and_restarted_empty(faults):
    """Queued jobs, scheduled retries and wake-ups all go; events published meanwhile too."""
    result = faults.run(
        "Redis killed, restarted empty",
        endpoints=[
            Endpoint("/ok"),
            Endpoint("/flaky", Reply(503), Reply(200)),
            Endpoint("/dead", Reply(503)),
        ],
        publish=8,
        fault=at(logged(8, success=False), kill_redis, publish(8), pause(2.0), start_redis),
    )
    assert result.dead_lettered == result.events


def test_redis_killed_during_a_job(faults):
    """Redis dies while the worker is in a job, so RQ's bookkeeping of the job fails."""
    faults.run(
        "Redis killed during a job",
        endpoints=[Endpoint("/ok"), Endpoint("/flaky", Reply(503), Reply(200))],
        publish=8,
        fault=at(
            logged(8, success=False),
            kill_redis_in_a_job,
            publish(8),
            pause(2.0),
            start_redis,
            check(lambda run: bool(run.workers.alive()), "the worker outlived the outage"),
        ),
    )


@pytest.mark.parametrize(
    ("scenario", "down_after_ms", "fail"),
    [
        ("Sentinel failover, primary SIGKILLed", DOWN_AFTER_MS, kill_primary),
        ("Sentinel failover outlasting retries", 5000, kill_primary),
        ("Sentinel failover, primary SIGSTOPped", DOWN_AFTER_MS, freeze_primary),
    ],
)
def test_sentinel_primary_fails_mid_delivery(faults, scenario, down_after_ms, fail):
    """The app and workers reach Redis through three sentinels; the primary fails with
    sends in flight and retries waiting in Redis, events are published during the
    failover, and the sentinels promote the replica, with which the workers go on.

    A quick failover is ridden out by each command's retries; one of 5 s outlasts them,
    so the worker's loops, RQ's scheduler and the outbox's relay all meet errors. A
    stopped primary answers nothing, so every command on it waits for its read timeout.
    """
    faults.run(
        scenario,
        endpoints=[Endpoint("/ok", held=True), Endpoint("/flaky", Reply(503), Reply(200))],
        publish=8,
        fault=at(
            arrived(8, "/ok"),
            wait_for(logged(8, success=False)),
            sentinels_down_after(down_after_ms),
            fail,
            publish(8),
            release(),
            await_failover,
            check(lambda run: bool(run.workers.alive()), "the worker outlived the failover"),
        ),
    )


@pytest.mark.parametrize("mode", ["fast", "immediate"])
def test_postgres_restarted_mid_delivery(faults_postgres, mode):
    """Sends are in flight and retries due while the database is down for 2 s."""
    faults_postgres.run(
        f"PostgreSQL restarted (-m {mode})",
        endpoints=[Endpoint("/ok", held=True), Endpoint("/flaky", Reply(503), Reply(200))],
        publish=8,
        fault=at(
            arrived(8, "/ok"),
            stop_postgres(mode),
            release(),
            pause(2.0),
            start_postgres,
            publish(8),
        ),
    )
