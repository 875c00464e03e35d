"""The delivery benchmark's fixture: app, database, subscriptions, workers, web, baseline."""

from __future__ import annotations

import argparse
import os
import platform
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import requests

from bench import harness

EVENTS_XML = '<async_event name="{}"><service class="app.events.Passthrough" method="resolve"/>'


class Bench:
    """Everything one benchmark run sets up, and how to drive it."""

    def __init__(self, folder: Path, args: argparse.Namespace) -> None:
        if args.subscriptions % args.events:
            raise SystemExit("--subscriptions must be a multiple of --events")
        self.folder, self.args = folder, args
        self.events = [f"bench.e{i}" for i in range(args.events)]
        self.fanout = args.subscriptions // args.events
        self.rest_count = args.publishes // 5
        self.deliveries = (args.publishes + self.rest_count) * self.fanout
        self.stall_publishes = 1000
        xml = folder / "bench_events.xml"
        names = [*self.events, "bench.stall"]
        body = "".join(EVENTS_XML.format(n) + "</async_event>" for n in names)
        xml.write_text(f"<config>{body}</config>")
        harness.environment(folder, args.database_url, args.redis_url, xml)
        from app import create_app

        self.app = create_app()
        self.procs = harness.Procs(folder)
        self.sampler: harness.RssSampler | None = None
        self._web: str | None = None
        self._reset_storage()
        self.receiver = harness.ReceiverClient(self.procs)
        self._subscribe()

    def _reset_storage(self) -> None:
        """Empty the database and the Redis db: the bench owns both."""
        from app.broker import get_redis
        from app.extensions import db

        with self.app.app_context():
            db.drop_all()
            db.create_all()
            db.session.commit()
            if self.args.redis_url:
                get_redis().flushdb()
            self.redis = get_redis()

    def _subscribe(self) -> None:
        """S subscriptions over E events, the stall event's 11, and a publish token."""
        from app.services import access, subscriptions

        url, secret = self.receiver.url, harness.SECRET
        with self.app.app_context():
            self.subs: dict[str, list[tuple[int, str]]] = {e: [] for e in self.events}
            for i in range(self.args.subscriptions):
                event = self.events[i % len(self.events)]
                sub = subscriptions.create(event, f"{url}/d/{i}", secret)
                self.subs[event].append((sub.subscription_id, sub.recipient_url))
            for i in range(10):
                subscriptions.create("bench.stall", f"{url}/h/{i}", secret)
            self.staller = subscriptions.create("bench.stall", f"{url}/stall/0", secret)
            self.token = access.create_token("bench", ["publish"])[1]

    def machine(self) -> str:
        """The machine and storage this run measures."""
        model = next(
            (line.split(":", 1)[1].strip() for line in _lscpu() if "Model name" in line), "?"
        )
        memory = psutil.virtual_memory().total / 2**30
        database = self.app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
        redis = self.args.redis_url.split("://")[0] if self.args.redis_url else "embedded"
        return (
            f"machine: {os.cpu_count()} cores, {model}, {memory:.0f} GiB, "
            f"Python {platform.python_version()}; database {database}; redis {redis}; "
            f"{self.args.subscriptions} subscriptions over {len(self.events)} events "
            f"(fan-out {self.fanout}), {self.args.workers} workers"
        )

    def start_workers(self, suspended: bool, interval: float = 0.5) -> list:
        """Start W app workers (the Procfile's command); suspended ones wait for ``resume``."""
        return self._start(harness.APP_WORKER, "worker", suspended, interval)

    def start_baseline(self) -> list:
        """Start W default forking ``rq worker`` processes on the baseline queue, suspended."""
        from app.broker import redis_url
        from bench.baseline import QUEUE

        cmd = [sys.executable, "-m", "bench.baseline", redis_url(self.app), QUEUE]
        return self._start(cmd, "baseline", True, 0.5)

    def _start(self, cmd: list[str], name: str, suspended: bool, interval: float) -> list:
        from rq import Worker
        from rq.suspension import resume, suspend

        (suspend if suspended else resume)(self.redis)
        procs = [self.procs.start(f"{name}{i}", cmd) for i in range(self.args.workers)]
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

    def stop_workers(self, procs: list) -> None:
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

    def publish_one(self, n: int) -> None:
        """Publish event ``n`` in-process, stamped with the time."""
        from app.services import publishing

        publishing.publish(self.events[n % len(self.events)], {"t": time.time(), "n": n})

    def publish_stall(self, n: int) -> None:
        """Publish to the stall event."""
        from app.services import publishing

        publishing.publish("bench.stall", {"t": time.time(), "n": n})

    def set_staller(self, enabled: bool) -> None:
        """Enable or disable the endpoint that answers after 10 s."""
        from app.services import subscriptions

        with self.app.app_context():
            subscriptions.set_status(self.staller.subscription_id, enabled)

    def publish_baseline(self, count: int) -> None:
        """Publish ``count`` events the naive way."""
        from bench import baseline

        url = self.app.config["SQLALCHEMY_DATABASE_URI"]
        for n in range(count):
            event = self.events[n % len(self.events)]
            baseline.publish(self.redis, url, event, self.subs[event], harness.SECRET)

    def check_logged(self, expected: int) -> None:
        """Wait until every delivery has its log row and search document; say so."""
        from sqlalchemy import func, select

        from app.extensions import db
        from app.models import DeliveryLog, SearchDocument

        with self.app.app_context():
            for _ in range(100):
                logs = db.session.scalar(select(func.count()).select_from(DeliveryLog))
                docs = db.session.scalar(select(func.count()).select_from(SearchDocument))
                db.session.commit()
                if logs >= expected and docs >= expected:
                    break
                time.sleep(0.1)
        print(f"  logged: {logs} log rows, {docs} search documents (expected {expected})")

    def close(self) -> None:
        """Stop every process; stop the embedded Redis if this run started it."""
        self.procs.stop_all()
        if not self.args.redis_url:
            from app.broker import stop_embedded

            stop_embedded(self.app)


def _lscpu() -> list[str]:
    try:
        return subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return []


def _wait_http(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            requests.get(url, timeout=5)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{url} did not answer")
