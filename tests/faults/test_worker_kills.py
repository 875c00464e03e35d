"""A worker SIGKILLed during a send, between the response and the log commit, and while
a retry is being scheduled: a fresh worker delivers everything, at least once."""

from __future__ import annotations

import pytest

from tests.faults.actions import (
    arrived,
    at,
    check,
    kill_workers,
    lock_log_writes,
    logged,
    pause,
    pause_redis_writes,
    quiet,
    release,
    start_worker,
    unlock_log_writes,
    unpause_redis,
    wait_for,
)
from tests.faults.harness import Endpoint
from tests.receiver import Reply

pytestmark = pytest.mark.slow
IN_FLIGHT = 8  # DELIVERY_ENDPOINT_CONCURRENCY: sends to one endpoint at once per worker


def test_sigkill_during_a_send(faults):
    """The receivers hold every request unanswered until the worker is dead."""
    result = faults.run(
        "SIGKILL during a send",
        endpoints=[Endpoint("/a", held=True), Endpoint("/b", held=True)],
        publish=8,
        fault=at(arrived(2 * IN_FLIGHT), kill_workers, release(), start_worker),
    )
    assert result.duplicates >= 2 * IN_FLIGHT  # the held sends were never logged: sent again


def test_sigkill_between_the_response_and_the_log_commit(faults):
    """The log is locked before the held requests are answered, so no answer is logged."""
    result = faults.run(
        "SIGKILL between response and log commit",
        endpoints=[Endpoint("/a", held=True), Endpoint("/b", held=True)],
        publish=8,
        fault=at(
            arrived(2 * IN_FLIGHT),
            lock_log_writes,
            release(),
            quiet(1.0),  # every send that can go out has been answered
            check(lambda run: run.logged() == 0, "answers waiting for their log commit"),
            kill_workers,
            unlock_log_writes,
            start_worker,
        ),
    )
    assert result.duplicates >= 2 * IN_FLIGHT  # answered, never logged: sent again


def test_sigkill_while_a_retry_is_being_scheduled(faults):
    """Redis writes are paused, so the recorder commits the failures, then waits to
    schedule their retries; the worker dies there, with no retry in Redis."""
    result = faults.run(
        "SIGKILL while a retry is being scheduled",
        endpoints=[
            Endpoint("/flaky", Reply(503), Reply(200), held=True),
            Endpoint("/dead", Reply(503), held=True),
            Endpoint("/ok"),
        ],
        publish=8,
        fault=at(
            arrived(IN_FLIGHT, "/flaky"),
            wait_for(arrived(IN_FLIGHT, "/dead")),
            pause_redis_writes,
            release(),
            wait_for(logged(1, success=False)),
            pause(0.5),
            check(lambda run: run.scheduled_retries() == 0, "failures logged, retries not queued"),
            kill_workers,
            unpause_redis,
            start_worker,
        ),
    )
    assert result.dead_lettered == result.events  # /dead: two attempts each (max_deaths 1)
