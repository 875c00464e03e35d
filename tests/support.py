"""Test helpers: database URLs, running jobs in-process, worker subprocesses, polling."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from flask import Flask
from rq import Queue

from app.broker.connection import get_redis
from app.delivery import outbox
from app.delivery.queues import QUEUES
from app.delivery.worker import AppWorker

ROOT = Path(__file__).resolve().parent.parent


def shared_dir() -> Path:
    """The team's shared/ folder (beside the checkout in CI), for the search corpus tools."""
    candidates = [os.environ.get("ASYNC_EVENTS_SHARED", ""), ROOT.parent / "shared", "/work/shared"]
    for candidate in candidates:
        if candidate and (Path(candidate) / "search" / "gen_corpus.py").is_file():
            return Path(candidate)
    raise FileNotFoundError(f"shared/search/gen_corpus.py not found in {candidates}")


T = TypeVar("T")


def database_url(backend: str, tmp_path: Path, postgres_url: str) -> str:
    """A fresh SQLite file, or the shared PostgreSQL test database."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'test.db'}"
    return postgres_url


def run_jobs(app: Flask) -> None:
    """Work the queues in burst mode inside this process.

    The test's own transaction ends first: on SQLite it would hold the write lock.
    """
    from flask import has_app_context

    from app.extensions import db

    if has_app_context():
        db.session.commit()
    outbox.flush(app)  # published ids reach Redis from the outbox's relay thread
    conn = get_redis(app)
    worker = AppWorker([Queue(n, connection=conn) for n in QUEUES], app=app)
    worker.work(burst=True, logging_level="WARNING")


def wait_until(check: Callable[[], T], timeout: float = 10.0, interval: float = 0.05) -> T:
    """Poll ``check`` until it returns something truthy; fail with the last value on timeout."""
    deadline = time.monotonic() + timeout
    value = check()
    while not value and time.monotonic() < deadline:
        time.sleep(interval)
        value = check()
    assert value, f"condition not met within {timeout} s (last value {value!r})"
    return value


def worker_env(config: dict[str, Any]) -> dict[str, str]:
    """The environment that gives a subprocess the same app as ``config``."""
    env = dict(os.environ)
    env.update(
        ASYNC_EVENTS_INSTANCE_PATH=config["INSTANCE_PATH"],
        DATABASE_URL=config["SQLALCHEMY_DATABASE_URI"],
        REDIS_URL=config["REDIS_URL"],
        TOKEN_ENCRYPTION_KEYS=",".join(config["TOKEN_ENCRYPTION_KEYS"]),
        PYTHONPATH=str(ROOT),
    )
    for key, value in config.items():
        if key.startswith("DELIVERY_"):
            env[key] = ",".join(value) if isinstance(value, list) else str(value)
    return env


class WorkerProcess:
    """Start and kill real worker processes, as `make run` and the Procfile do."""

    def __init__(self, config: dict[str, Any]) -> None:
        self.config = config
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self, log: Path | None = None) -> subprocess.Popen[bytes]:
        """Start a worker; its output goes to ``log`` (appended) if given, else to ours."""
        cmd = [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--with-scheduler"]
        out = open(log, "ab") if log is not None else None  # noqa: SIM115 (the child keeps it)
        try:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=worker_env(self.config),
                start_new_session=True,
                stdout=out,
                stderr=subprocess.STDOUT if out is not None else None,
            )
        finally:
            if out is not None:
                out.close()
        self.procs.append(proc)
        return proc

    def alive(self) -> list[subprocess.Popen[bytes]]:
        """The workers started here that are still running."""
        return [proc for proc in self.procs if proc.poll() is None]

    def kill(self, proc: subprocess.Popen[bytes]) -> None:
        """SIGKILL the worker and everything it started (its scheduler), as a crash would."""
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)

    def stop_all(self) -> None:
        for proc in self.procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(10)


def seed_aged_logs(ages_in_days: tuple[int, ...] = (2, 45)) -> None:
    """One delivered log row per age, under one subscription (inside an app context)."""
    from datetime import timedelta

    from app.extensions import db
    from app.models import DeliveryLog
    from app.models.types import utcnow
    from app.usecases import subscriptions

    sub = subscriptions.create("example.event", "http://x.test/", "t")
    for days in ages_in_days:
        db.session.add(
            DeliveryLog(
                uuid=f"u{days}",
                subscription_id=sub.subscription_id,
                success=True,
                created=utcnow() - timedelta(days=days),
            )
        )
    db.session.commit()


class RestClient:
    """Calls the REST API with bearer tokens created for the test."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.client = app.test_client()

    def token(self, *permissions: str) -> str:
        from app.usecases import access

        with self.app.app_context():
            return access.create_token("test", list(permissions))[1]

    def call(self, method: str, path: str, token: str | None = None, **kwargs: Any):
        headers = dict(kwargs.pop("headers", {}))
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        return self.client.open(path, method=method, headers=headers, **kwargs)
