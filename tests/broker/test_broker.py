"""Tests for app.broker.connection against real redis-server processes: embedded and configured."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from urllib.parse import unquote

import pytest
import redis
from flask import Flask

from app.broker import connection as broker
from app.broker import embedded as embedded_redis
from app.broker.connection import embedded_url, get_redis, redis_url, stop_embedded

ROOT = Path(__file__).resolve().parents[2]
CONFIGURED_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# Run in separate interpreters so that each takes the start lock as its own process.
CHILD = """
import sys, time
from flask import Flask
from app.broker import connection as broker
app = Flask("child", instance_path=sys.argv[1])
app.config["REDIS_URL"] = None
broker.init_app(app)
time.sleep(max(0.0, float(sys.argv[2]) - time.time()))
print(broker.get_redis(app).info("server")["process_id"])
"""


@pytest.fixture
def make_app(tmp_path):
    """Build bare apps on one instance path by default; stop every embedded server after."""
    apps: list[Flask] = []

    def make(instance: Path | None = None, url: str | None = None) -> Flask:
        app = Flask(__name__, instance_path=str(instance or tmp_path / "inst"))
        app.config["REDIS_URL"] = url
        broker.init_app(app)
        apps.append(app)
        return app

    yield make
    for app in apps:
        stop_embedded(app)


def server_pid(app: Flask) -> int:
    return int(Path(app.instance_path, "redis", "redis.pid").read_text())


def answers(app: Flask) -> bool:
    probe = redis.Redis.from_url(embedded_url(app), retry=None, socket_connect_timeout=1)
    try:
        return probe.ping()
    except redis.ConnectionError:
        return False
    finally:
        probe.close()


def starts_logged(app: Flask) -> int:
    log = Path(app.instance_path, "redis", "redis.log").read_text()
    return log.lower().count("ready to accept connections")


def test_init_app_starts_nothing_until_first_use(make_app, tmp_path):
    app = make_app()
    assert redis_url(app) == embedded_url(app)
    assert not (tmp_path / "inst").exists()

    with app.app_context():
        client = get_redis()
    assert client is get_redis(app)
    assert client.set("greeting", "hello")
    assert client.get("greeting") == b"hello"
    assert server_pid(app) == client.info("server")["process_id"]


def test_get_redis_without_init_app_says_so(tmp_path):
    app = Flask(__name__, instance_path=str(tmp_path / "inst"))
    with pytest.raises(RuntimeError, match="init_app"):
        get_redis(app)


def test_concurrent_processes_share_one_server(make_app, tmp_path):
    app = make_app()
    start_at = str(time.time() + 2.0)  # after every child has imported flask
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, app.instance_path, start_at],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(4)
    ]
    pids = {int(child.communicate(timeout=30)[0]) for child in children}
    assert [child.returncode for child in children] == [0, 0, 0, 0]
    assert pids == {server_pid(app)}
    assert starts_logged(app) == 1
    assert get_redis(app).info("server")["process_id"] in pids


def test_data_survives_stop_and_start(make_app):
    app = make_app()
    get_redis(app).zadd("retries", {"delivery:1": 1700000000})
    first = server_pid(app)

    assert stop_embedded(app) is True
    assert not answers(app)
    assert stop_embedded(app) is False

    assert get_redis(app).zscore("retries", "delivery:1") == 1700000000
    assert server_pid(app) != first


def test_data_survives_a_crash_through_the_append_only_file(make_app):
    app = make_app()
    get_redis(app).set("scheduled", "retry at noon")
    os.kill(server_pid(app), signal.SIGKILL)  # no final save: only the AOF has the key
    deadline = time.monotonic() + 5
    while answers(app) and time.monotonic() < deadline:
        time.sleep(0.05)

    restarted = make_app()
    assert get_redis(restarted).get("scheduled") == b"retry at noon"
    assert starts_logged(restarted) == 2


@pytest.mark.parametrize("name", ['with space and "quote"', "long-" + "x" * 120])
def test_awkward_instance_paths_work(make_app, tmp_path, name):
    app = make_app(instance=tmp_path / name)
    get_redis(app).set("k", "v")

    url = embedded_url(app)
    assert redis.Redis.from_url(url).get("k") == b"v"
    socket = unquote(url.removeprefix("unix://"))
    assert len(os.fsencode(socket)) <= broker.MAX_SOCKET_BYTES
    natural = os.path.join(app.instance_path, "redis", "redis.sock")
    long = len(os.fsencode(natural)) > broker.MAX_SOCKET_BYTES
    assert socket == (natural if not long else socket)
    assert socket.startswith(tempfile.gettempdir() if long else app.instance_path)
    assert server_pid(app) > 0


def test_configured_url_is_used_and_nothing_is_embedded(make_app, tmp_path):
    app = make_app(url=CONFIGURED_URL)
    client = get_redis(app)
    try:
        client.ping()
    except redis.ConnectionError:
        pytest.skip(f"no Redis at {CONFIGURED_URL}")

    key = f"test_broker:{uuid.uuid4()}"
    try:
        client.set(key, "configured", ex=60)
        assert redis.Redis.from_url(CONFIGURED_URL).get(key) == b"configured"
    finally:
        client.delete(key)
    assert redis_url(app) == CONFIGURED_URL
    assert not (tmp_path / "inst").exists()
    assert stop_embedded(app) is False


def test_a_server_that_cannot_start_raises_with_its_log(make_app, tmp_path, monkeypatch):
    monkeypatch.setattr(embedded_redis, "TIMEOUT_SECONDS", 2.0)
    directory = tmp_path / "inst" / "redis"
    directory.mkdir(parents=True)
    (directory / "appendonly.aof").write_text("this is not an append-only file\n")
    app = make_app()

    with pytest.raises(RuntimeError, match="append only file"):
        get_redis(app)
