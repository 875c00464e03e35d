"""The delivery benchmark's processes under test: app workers, baseline workers, web server."""

from __future__ import annotations

import socket
import sys
import time
from pathlib import Path
from subprocess import Popen

import requests
from flask import Flask
from redis import Redis

from bench import harness


class Fleet:
    """Starts and stops the measured processes, each suspended until ``resume`` if asked."""

    def __init__(self, app: Flask, redis: Redis, procs: harness.Procs, size: int) -> None:
        self.app, self.redis, self.procs, self.size = app, redis, procs, size
        self.folder: Path = procs.folder
        self.sampler: harness.RssSampler | None = None
        self._web: str | None = None

    def start_workers(
        self, suspended: bool, interval: float = 0.5, root: Path = harness.ROOT
    ) -> list[Popen[bytes]]:
        """Start W app workers (the Procfile's command) of the checkout ``root``; suspended
        ones wait for ``resume``."""
        return self._start(harness.APP_WORKER, "worker", suspended, interval, root)

    def start_baseline(self) -> list[Popen[bytes]]:
        """Start W default forking ``rq worker`` processes on the baseline queue, suspended."""
        from app.broker.connection import redis_url
        from bench.baseline import QUEUE

        cmd = [sys.executable, "-m", "bench.baseline", redis_url(self.app), QUEUE]
        return self._start(cmd, "baseline", True, 0.5)

    def _start(
        self, cmd: list[str], name: str, suspended: bool, interval: float, root: Path = harness.ROOT
    ) -> list[Popen[bytes]]:
        from rq import Worker
        from rq.suspension import resume, suspend

        (suspend if suspended else resume)(self.redis)
        procs = [self.procs.start(f"{name}{i}", cmd, root) for i in range(self.size)]
        pids = {p.pid for p in procs}
        deadline = time.monotonic() + 60
        while len({w.pid for w in Worker.all(connection=self.redis)} & pids) < len(pids):
            if time.monotonic() > deadline:
                log = (self.folder / f"{name}0.log").read_text()[-2000:]
                raise SystemExit(f"{name} workers did not start:\n{log}")
            time.sleep(0.1)
        self.sampler = harness.RssSampler(sorted(pids), interval)
        self.sampler.start()
        return procs

    def resume(self) -> None:
        """Let suspended workers take jobs."""
        from rq.suspension import resume

        resume(self.redis)

    def stop_workers(self, procs: list[Popen[bytes]]) -> None:
        """Stop workers and report their peak RSS."""
        assert self.sampler is not None
        self.sampler.stop()
        peaks = ", ".join(f"{size / 2**20:.0f}" for size in self.sampler.peak.values())
        print(f"  worker peak RSS (MB, with the scheduler child): {peaks}", flush=True)
        self.procs.stop(procs)

    def web_url(self) -> str:
        """Start gunicorn (the Procfile's web server) once; return its base URL."""
        if self._web is None:
            with socket.socket() as probe:
                probe.bind(("127.0.0.1", 0))
                port = probe.getsockname()[1]
            cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}"]
            self.procs.start("web", [*cmd, "--workers", "2", "--threads", "4", "wsgi:app"])
            self._web = f"http://127.0.0.1:{port}"
            _wait_http(f"{self._web}/healthz")
        return self._web


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")
