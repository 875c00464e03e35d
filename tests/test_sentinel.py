"""Redis through Sentinel: the settings, the health check, and a failover during delivery.

The topology (a primary, a replica, three sentinels) is this test's own processes, on
spare loopback ports: see ``tests.redis_topology``.
"""

from __future__ import annotations

import re
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from sqlalchemy import exists, func, select

from app import broker, create_app
from app.extensions import db
from app.models import ChainState, DeadLetter, Delivery, DeliveryLog
from app.redis_sentinel import SentinelSettings, from_config, parse_url
from app.services import publishing, settings, subscriptions
from tests.receiver import Reply
from tests.redis_topology import SERVICE, SentinelTopology
from tests.support import wait_until

S = "redis+sentinel://"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"{S}h1/mymaster", SentinelSettings((("h1", 26379),), "mymaster")),
        (
            f"{S}:s%40cret@h1:26380,h2:26381/cache/3",
            SentinelSettings((("h1", 26380), ("h2", 26381)), "cache", 3, None, "s@cret"),
        ),
        (
            f"{S}app:pw@[::1]:5000,[fe80::1]/mymaster/",
            SentinelSettings((("::1", 5000), ("fe80::1", 26379)), "mymaster", 0, "app", "pw"),
        ),
        ("REDIS+SENTINEL://h1:1/m%20x/0", SentinelSettings((("h1", 1),), "m x")),
    ],
)
def test_sentinel_urls_parse(url, expected):
    assert parse_url(url) == expected
    assert parse_url(expected.url()) == expected  # the canonical form reads back the same


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("redis://h1:6379/0", "starts with 'redis+sentinel://'"),
        (f"{S}/mymaster", "no sentinel host given"),
        (f"{S}h1:26379", "name the service, as in /mymaster"),
        (f"{S}h1:26379/", "name the service"),
        (f"{S}h1:port/mymaster", "port must be 1-65535, got 'port'"),
        (f"{S}h1:0/mymaster", "port must be 1-65535, got '0'"),
        (f"{S}h1:65536/mymaster", "port must be 1-65535, got '65536'"),
        (f"{S}h1:١٢/mymaster", "port must be 1-65535"),
        (f"{S}h1:26379,:26380/mymaster", "empty host in ':26380'"),
        (f"{S}::1:26379/mymaster", "in brackets: [addr]:port"),
        (f"{S}[::1/mymaster", "bad bracketed IPv6 address"),
        (f"{S}[::1]x/mymaster", "bad bracketed IPv6 address"),
        (f"{S}h1/mymaster/x", "db must be a non-negative integer, got 'x'"),
        (f"{S}h1/mymaster/-1", "db must be a non-negative integer, got '-1'"),
        (f"{S}h1/mymaster/0/extra", "the path is /service[/db]"),
        (f"{S}h1/mymaster?socket_timeout=1", "query strings and fragments are not supported"),
        (f"{S}user@h1/mymaster", "write the password as ':password@'"),
    ],
)
def test_malformed_sentinel_urls_are_refused_precisely(url, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        parse_url(url)


def test_an_error_never_shows_the_password():
    with pytest.raises(ValueError) as refused:
        parse_url(f"{S}app:hunter2@h1/mymaster/nope")
    assert "hunter2" not in str(refused.value)
    assert "app:***@h1" in str(refused.value)


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, None),
        ({"REDIS_URL": "redis://h:6379/1"}, None),
        ({"REDIS_URL": f"{S}h1/m"}, SentinelSettings((("h1", 26379),), "m")),
        (
            {"REDIS_URL": f"{S}:p@h1/m/2", "REDIS_SENTINEL_PASSWORD": "sp"},
            SentinelSettings((("h1", 26379),), "m", 2, None, "p", "sp"),
        ),
        (
            {
                "REDIS_SENTINELS": " h1:1 , h2 ",
                "REDIS_SENTINEL_MASTER": "m",
                "REDIS_PASSWORD": "p",
                "REDIS_DB": "4",
                "REDIS_SENTINEL_PASSWORD": "sp",
            },
            SentinelSettings((("h1", 1), ("h2", 26379)), "m", 4, None, "p", "sp"),
        ),
    ],
)
def test_settings_pick_the_form(config, expected):
    assert from_config(config) == expected


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"REDIS_URL": "redis://h/0", "REDIS_SENTINELS": "h1"}, "REDIS_URL or REDIS_SENTINELS"),
        ({"REDIS_SENTINELS": "h1"}, "REDIS_SENTINELS needs REDIS_SENTINEL_MASTER"),
        ({"REDIS_SENTINELS": ",", "REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINELS: no sentinel"),
        ({"REDIS_SENTINELS": "h1", "REDIS_SENTINEL_MASTER": "m", "REDIS_DB": "one"}, "REDIS_DB"),
        ({"REDIS_SENTINEL_MASTER": "m"}, "REDIS_SENTINEL_MASTER apply only with REDIS_SENTINELS"),
        ({"REDIS_URL": "redis://h/0", "REDIS_DB": "1"}, "REDIS_DB apply only"),
        ({"REDIS_URL": "redis://h/0", "REDIS_SENTINEL_PASSWORD": "x"}, "not reached through"),
    ],
)
def test_conflicting_settings_are_refused_precisely(config, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        from_config(config)


def test_the_app_refuses_to_start_on_a_malformed_sentinel_url(tmp_path):
    with pytest.raises(ValueError, match="port must be 1-65535"):
        create_app({"INSTANCE_PATH": str(tmp_path), "REDIS_URL": f"{S}h1:x/mymaster"})


# --- against a real topology -------------------------------------------------------------


@pytest.fixture
def topology(tmp_path: Path) -> Iterator[SentinelTopology]:
    with SentinelTopology(tmp_path / "sentinel").start() as started:
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


# --- a failover during delivery, with a real worker ---------------------------------------

EVENTS = 240  # published at RATE a second; the primary dies once a quarter is delivered
RATE = 40
FLAKY = [Reply(503), Reply(200)] * EVENTS  # every other request fails: retries go through RQ


def publish_steadily(app, count: int, published_at: dict[int, float]) -> None:
    """Publish ``count`` events at RATE a second, noting when each one was committed."""
    with app.app_context():
        started = time.monotonic()
        for n in range(count):
            publishing.publish("example.event", {"n": n})
            published_at[n] = time.time()
            time.sleep(max(0.0, started + (n + 1) / RATE - time.monotonic()))
        db.session.remove()


def delivered(receiver, path: str, script: list[Reply] | None = None) -> Counter[int]:
    """How many times each event was answered 2xx on ``path`` (the script tells which were)."""
    counts: Counter[int] = Counter()
    for i, got in enumerate(receiver.received(path)):
        reply = script[min(i, len(script) - 1)] if script else Reply()
        if reply.status < 300:
            counts[got.json()["data"]["n"]] += 1
    return counts


def children(pid: int) -> set[int]:
    """The live child processes of ``pid`` (RQ's scheduler is the worker's child)."""
    found = set()
    for entry in Path("/proc").iterdir():
        try:
            stat = (entry / "stat").read_text()
        except (OSError, ValueError):
            continue
        if entry.name.isdigit() and int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.add(int(entry.name))
    return found


def committed(query):
    try:
        return db.session.execute(query).all()
    finally:
        db.session.commit()


@pytest.mark.slow
def test_failover_during_delivery_loses_nothing(app, ctx, receiver, worker, topology, backend):
    settings.set("max_backoff", 1)
    settings.set("max_deaths", 50)  # a chain unlucky with the alternating 503s still ends delivered
    subscriptions.create("example.event", receiver.route("/hook"), "t")
    subscriptions.create("example.event", receiver.route("/flaky", *FLAKY), "t")
    proc = worker.start()
    wait_until(lambda: children(proc.pid), timeout=30)  # the scheduler has forked
    scheduler = children(proc.pid)
    published_at: dict[int, float] = {}
    publisher = threading.Thread(target=publish_steadily, args=(app, EVENTS, published_at))
    publisher.start()

    receiver.wait_for(EVENTS // 4, "/hook", timeout=60)
    old = topology.kill_primary()
    killed_at = time.time()
    new, failover = topology.wait_for_failover(old)
    publisher.join(60)

    hook = wait_until(
        lambda: (c := delivered(receiver, "/hook")).keys() == set(range(EVENTS)) and c, timeout=120
    )
    flaky = wait_until(
        lambda: (c := delivered(receiver, "/flaky", FLAKY)).keys() == set(range(EVENTS)) and c,
        timeout=120,
    )
    wait_until(
        lambda: (
            committed(select(Delivery.state, func.count()).group_by(Delivery.state))
            == [(ChainState.DELIVERED, 2 * EVENTS)]
        ),
        timeout=60,
    )
    unlogged = (
        select(func.count())
        .select_from(Delivery)
        .where(
            ~exists().where(
                DeliveryLog.uuid == Delivery.uuid,
                DeliveryLog.subscription_id == Delivery.subscription_id,
                DeliveryLog.success.is_(True),
            )
        )
    )
    assert committed(unlogged)[0][0] == 0
    assert committed(select(func.count()).select_from(DeadLetter))[0][0] == 0
    assert proc.poll() is None, "the worker quit during the failover"
    assert children(proc.pid) == scheduler, "RQ's scheduler died during the failover"

    after_kill = [
        r.at - killed_at
        for r in receiver.received("/hook")
        if published_at[r.json()["data"]["n"]] > killed_at
    ]
    resumed = min(after_kill)
    drained = (
        max(r.at for r in receiver.received("/hook") + receiver.received("/flaky")) - killed_at
    )
    duplicates = sum(hook.values()) + sum(flaky.values()) - 2 * EVENTS
    print(
        f"\nsentinel failover [{backend}]: published {EVENTS} events ({2 * EVENTS} chains), "
        f"delivered {2 * EVENTS}, duplicates {duplicates}, dead-lettered 0, lost 0; "
        f"failover {failover:.1f} s after the kill (port {old.port} -> {new.port}), "
        f"first delivery of an event published after the kill {resumed:.1f} s after it, "
        f"last delivery {drained:.1f} s after it"
    )
