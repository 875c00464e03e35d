"""Fixtures: an app on real SQLite or PostgreSQL and real Redis, receivers, workers."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
import redis
from flask import Flask
from sqlalchemy import create_engine, text

from app import create_app
from app.extensions import db
from app.services import outbox
from tests.receiver import Receiver
from tests.support import WorkerProcess, database_url, run_jobs

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
# A fixed key so every test process (and worker subprocess) can read the tokens.
TEST_FERNET_KEY = "r0vNb3HkLmT4mB6JcS2t3h0o_dT1c2VhWw0k8Y1xN4E="
BACKENDS = ["sqlite", "postgresql"]


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


@pytest.fixture
def redis_conn() -> Iterator[redis.Redis]:
    conn = redis.Redis.from_url(TEST_REDIS_URL)
    conn.flushdb()
    yield conn
    conn.flushdb()


@pytest.fixture
def config(backend: str, tmp_path, redis_conn: redis.Redis) -> dict:
    """The test config; worker subprocesses get the same settings through the environment."""
    return {
        "TESTING": True,
        "INSTANCE_PATH": str(tmp_path / "instance"),
        "SQLALCHEMY_DATABASE_URI": database_url(backend, tmp_path, TEST_POSTGRES_URL),
        "REDIS_URL": TEST_REDIS_URL,
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
