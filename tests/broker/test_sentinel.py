"""Redis through Sentinel, against real servers: health, READONLY, and a failover during delivery.

The topology (a primary, a replica, three sentinels) is this test's own processes, on
spare loopback ports: see ``tests.broker.redis_topology``.
"""

from __future__ import annotations

import math
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from rq import Queue
from sqlalchemy import exists, func, select

from app import create_app, settings
from app.broker import connection as broker
from app.broker.sentinel import COMMAND_TIMEOUT
from app.delivery import publishing
from app.delivery.queues import FEEDER_BEAT, QUEUES
from app.delivery.worker import DEQUEUE_TIMEOUT, AppWorker
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog
from app.usecases import subscriptions
from tests.broker.redis_topology import SERVICE, SentinelTopology
from tests.receiver import Receiver, Reply
from tests.support import wait_until

S = "redis+sentinel://"


@pytest.fixture
def topology(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SentinelTopology]:
    """A primary, a replica and three sentinels; ``down_after_ms`` 1000 unless parametrised."""
    down_after_ms = getattr(request, "param", 1000)
    with SentinelTopology(tmp_path / "sentinel", down_after_ms=down_after_ms).start() as started:
        yield started


@pytest.fixture
def config(config: dict, topology: SentinelTopology) -> dict:
    """The suite's config, with Redis through this test's sentinels."""
    return {**config, "REDIS_URL": topology.url()}


def test_healthz_is_ok_through_sentinel_before_and_after_a_failover(app, topology):
    client = app.test_client()
    answer = client.get("/healthz")
    assert (answer.status_code, answer.json["redis"]) == (200, "ok")
    broker.get_redis(app).set("written", "through sentinel")
    assert topology.primary().client().get("written") == b"through sentinel"

    old = topology.kill_primary()
    new, _ = topology.wait_for_failover(old)
    answer = client.get("/healthz")
    assert (answer.status_code, answer.json["redis"]) == (200, "ok")
    broker.get_redis(app).set("written", "to the new primary")
    assert new.client().get("written") == b"to the new primary"


def test_a_demoted_primary_answering_readonly_is_left_for_the_primary(app, topology):
    """A connection still on a demoted primary gets READONLY; the write reaches the primary.

    The connection is put on the replica with a plain connect, as one left on a demoted
    primary would be. redis-py takes READONLY as a lost connection; our connection asks
    the sentinels again when the command is retried, so the write succeeds at once.
    """
    replica = next(node for node in topology.data if node is not topology.primary())
    single = redis.Redis(connection_pool=broker.get_redis(app).connection_pool)
    connection = single.connection_pool.get_connection()
    connection.disconnect()
    connection.host, connection.port = "127.0.0.1", replica.port
    redis.Connection.connect_check_health(connection, retry_socket_connect=False)
    single.connection = connection  # as a single-connection client holds it
    with pytest.raises(redis.ReadOnlyError):
        replica.client().set("k", "v")  # the replica itself refuses writes

    assert single.set("k", "via the primary")
    assert topology.primary().client().get("k") == b"via the primary"
    assert connection.port == topology.primary().port


def test_sentinels_setting_with_a_password_and_a_db(tmp_path):
    with SentinelTopology(tmp_path / "auth", password="s3cret").start() as topology:
        app = create_app(
            {
                "INSTANCE_PATH": str(tmp_path / "instance"),
                "REDIS_URL": None,
                "REDIS_SENTINELS": topology.sentinel_hosts(),
                "REDIS_SENTINEL_MASTER": SERVICE,
                "REDIS_PASSWORD": "s3cret",
                "REDIS_DB": "6",
            }
        )
        broker.get_redis(app).set("in", "db 6")
        assert topology.primary().client(db=6).get("in") == b"db 6"
        assert broker.redis_url(app) == f"{S}:s3cret@{topology.sentinel_hosts()}/{SERVICE}/6"
        assert not Path(tmp_path / "instance" / "redis").exists()  # nothing embedded


def test_the_worker_keeps_a_read_timeout_that_lets_it_leave_a_hung_primary(app):
    """RQ gives its worker's client a read timeout past its dequeue's block (415 s by
    default), and the feeder and recorder share that client: a primary that hung held
    them that long. The fault suite's SIGSTOPped primary shows the whole recovery."""
    client = broker.get_redis(app)
    AppWorker([Queue(name, connection=client) for name in QUEUES], app=app)
    assert client.connection_pool.connection_kwargs["socket_timeout"] == COMMAND_TIMEOUT
    assert FEEDER_BEAT < COMMAND_TIMEOUT and DEQUEUE_TIMEOUT < COMMAND_TIMEOUT


# --- a failover during delivery, with a real worker ---------------------------------------

EVENTS = 240  # published at RATE a second; the primary dies once a quarter is delivered
RATE = 40
# The first half of the requests fail, those around the failover too: their retries go
# through RQ's scheduler. (Failing every other request instead starves a few chains: an
# even number of them retrying in turn always lands on the failing half.)
FLAKY = [Reply(503)] * (EVENTS // 2) + [Reply(200)]
ROUTES = {"/hook": None, "/flaky": FLAKY}  # every event goes to both
LONG_DOWN_AFTER_MS = 5000  # a failover that outlasts the client's ~3 s of retries


class Publisher(threading.Thread):
    """Publishes ``count`` events at RATE a second from a thread, noting when each committed."""

    def __init__(self, app: Flask, count: int) -> None:
        super().__init__(name="publisher", daemon=True)
        self.app, self.count = app, count
        self.published_at: dict[int, float] = {}
        self.errors: list[BaseException] = []

    def run(self) -> None:
        with self.app.app_context():
            started = time.monotonic()
            try:
                for n in range(self.count):
                    publishing.publish("example.event", {"n": n})
                    self.published_at[n] = time.time()
                    time.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
            except BaseException as exc:  # the test reports it
                self.errors.append(exc)
            finally:
                db.session.remove()


def delivered(receiver: Receiver, path: str, script: list[Reply] | None) -> Counter[int]:
    """How many times each event was answered 2xx on ``path`` (its script tells which were)."""
    script = script or [Reply()]
    counts: Counter[int] = Counter()
    for i, got in enumerate(receiver.received(path)):
        if script[min(i, len(script) - 1)].status < 300:
            counts[got.json()["data"]["n"]] += 1
    return counts


def settled(
    receiver: Receiver, routes: dict[str, list[Reply] | None], events: int, timeout: float
) -> dict[str, Counter[int]]:
    """Wait until every event was delivered on every route, or ``timeout`` s; return the counts."""
    deadline = time.monotonic() + timeout
    while True:
        counts = {path: delivered(receiver, path, script) for path, script in routes.items()}
        if all(len(c) == events for c in counts.values()) or time.monotonic() > deadline:
            return counts
        time.sleep(0.2)


def chains_by_state() -> dict[str, int]:
    return dict(committed(select(Delivery.state, func.count()).group_by(Delivery.state)))


def chains_without_a_success_row() -> int:
    """Chains with no successful log row under their UUID and subscription."""
    logged = exists().where(
        DeliveryLog.uuid == Delivery.uuid,
        DeliveryLog.subscription_id == Delivery.subscription_id,
        DeliveryLog.success.is_(True),
    )
    return committed(select(func.count()).select_from(Delivery).where(~logged))[0][0]


def children(pid: int) -> set[int]:
    """The live (not zombie) child processes of ``pid``: RQ's scheduler is the worker's."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and int(parent) == pid and state != "Z":
            found.add(int(entry.name))
    return found


def committed(query):
    """Run a read and end the transaction at once, so a SQLite writer is never blocked."""
    try:
        return db.session.execute(query).all()
    finally:
        db.session.commit()


def start_worker(worker) -> tuple[subprocess.Popen[bytes], set[int]]:
    """Start a real worker; return it and its scheduler's pid, once that has forked."""
    proc = worker.start()
    return proc, wait_until(lambda: children(proc.pid), timeout=30)


def chains_settled(total: int, timeout: float = 30.0) -> dict[str, int]:
    """Wait until ``total`` chains are delivered (their log rows committed), or ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while (states := chains_by_state()) != {ChainState.DELIVERED: total}:
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    return states


def run_line(
    backend: str,
    receiver: Receiver,
    counts: dict[str, Counter[int]],
    publisher: Publisher,
    killed_at: float,
    failover: float,
) -> str:
    """The run in one line: the fault suite's figures, and how long recovery took."""
    duplicates = sum(n - 1 for c in counts.values() for n in c.values())
    lost = sum(EVENTS - len(c) for c in counts.values())
    hook, flaky = receiver.received("/hook"), receiver.received("/flaky")
    later = [r.at for r in hook if publisher.published_at[r.json()["data"]["n"]] > killed_at]
    return (
        f"sentinel failover [{backend}]: published {EVENTS} events x {len(ROUTES)} routes, "
        f"delivered {sum(map(len, counts.values()))}, duplicates {duplicates}, "
        f"dead-lettered {chains_by_state().get(ChainState.DEAD, 0)}, lost {lost}; "
        f"new primary {failover:.1f} s after the kill; first delivery of an event published "
        f"after the kill {min(later, default=math.nan) - killed_at:.1f} s after it; "
        f"every event delivered {max(r.at for r in hook) - killed_at:.1f} s after it, "
        f"with the retries {max(r.at for r in flaky) - killed_at:.1f} s"
    )


@pytest.mark.slow
def test_failover_during_delivery_loses_nothing(app, ctx, receiver, worker, topology, backend):
    """SIGKILL the primary while events are published and delivered; Sentinel promotes the
    replica. Every chain must end delivered with its log row; the line printed is the run."""
    settings.set("max_backoff", 1)
    settings.set("max_deaths", 50)  # however many 503s a chain meets, it ends delivered
    for path, script in ROUTES.items():
        subscriptions.create("example.event", receiver.route(path, *(script or [])), "t")
    proc, scheduler = start_worker(worker)
    publisher = Publisher(app, EVENTS)
    publisher.start()

    receiver.wait_for(EVENTS // 4, "/hook", timeout=60)
    old = topology.kill_primary()
    killed_at = time.time()
    _, failover = topology.wait_for_failover(old)
    publisher.join(60)
    counts = settled(receiver, ROUTES, EVENTS, timeout=180)
    states = chains_settled(len(ROUTES) * EVENTS)
    print("\n" + run_line(backend, receiver, counts, publisher, killed_at, failover))

    assert publisher.errors == []
    assert {path: sorted(set(range(EVENTS)) - set(c)) for path, c in counts.items()} == {
        path: [] for path in ROUTES
    }, "events never delivered"
    assert states == {ChainState.DELIVERED: len(ROUTES) * EVENTS}
    assert chains_without_a_success_row() == 0
    assert proc.poll() is None, "the worker quit during the failover"
    assert children(proc.pid) == scheduler, "RQ's scheduler died during the failover"


@pytest.mark.slow
@pytest.mark.parametrize("topology", [LONG_DOWN_AFTER_MS], indirect=True)
def test_worker_and_scheduler_outlive_a_failover_longer_than_the_client_retries(
    ctx, receiver, worker, topology
):
    """Down for ~6 s, the primary outlasts a command's retries: every loop meets errors.

    The worker, its feeder and RQ's scheduler (a child process, whose loop RQ ends on
    the first error) must all go on: a retry due during the outage is moved by the
    same scheduler, and a publication made during it is delivered.
    """
    script = [Reply(503, headers={"Retry-After": "3"}), Reply(200)]
    subscriptions.create("example.event", receiver.route("/flaky", *script), "t")
    proc, scheduler = start_worker(worker)
    publishing.publish("example.event", {"n": 0})
    wait_until(lambda: committed(select(Delivery.attempts)) == [(1,)], timeout=30)

    old = topology.kill_primary()  # the retry, due in 3 s, waits in Redis
    publishing.publish("example.event", {"n": 1})
    topology.wait_for_failover(old)
    counts = settled(receiver, {"/flaky": script}, 2, timeout=60)
    assert sorted(counts["/flaky"]) == [0, 1]
    wait_until(lambda: chains_by_state() == {ChainState.DELIVERED: 2}, timeout=30)
    assert proc.poll() is None, "the worker quit during the outage"
    assert children(proc.pid) == scheduler, "RQ's scheduler died during the outage"
