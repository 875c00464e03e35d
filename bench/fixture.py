"""The delivery benchmark's fixture: app, database, subscriptions, workers, web, baseline."""

from __future__ import annotations

import argparse
import os
import platform
import time
from pathlib import Path

import psutil

from bench import backlog, brokers, harness
from bench.fleet import Fleet

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
        self.stall_publishes = 3000  # 30,000 healthy deliveries a round: 10,000 was too noisy
        xml = folder / "bench_events.xml"
        names = [*self.events, "bench.stall"]
        body = "".join(EVENTS_XML.format(n) + "</async_event>" for n in names)
        xml.write_text(f"<config>{body}</config>")
        harness.environment(folder, args.database_url, args.redis_url, xml)
        from app import create_app

        self.app = create_app()
        self.procs = harness.Procs(folder)
        self._reset_storage()
        self.fleet = Fleet(self.app, self.redis, self.procs, args.workers)
        self.receiver = harness.ReceiverClient(self.procs)
        self.target = None if args.sink == "http" else brokers.target(args.sink, args.broker_url)
        self._subscribe()

    def _reset_storage(self) -> None:
        """Empty the database and the Redis db: the bench owns both."""
        from app.broker.connection import get_redis
        from app.extensions import db

        with self.app.app_context():
            db.drop_all()
            db.create_all()
            db.session.commit()
            if self.args.redis_url:
                get_redis().flushdb()
            self.redis = get_redis()

    def _subscribe(self) -> None:
        """S subscriptions over E events, the stall event's 11, and a publish token.

        The S go to the receiver, or with ``--sink`` to the broker target through that sink.
        """
        from app.usecases import access, subscriptions

        url, secret = self.receiver.url, harness.SECRET
        with self.app.app_context():
            self.subs: dict[str, list[tuple[int, str]]] = {e: [] for e in self.events}
            for i in range(self.args.subscriptions):
                event = self.events[i % len(self.events)]
                if self.target is None:
                    sub = subscriptions.create(event, f"{url}/d/{i}", secret)
                else:
                    recipient, sink = self.target.recipient(i), self.target.sink
                    sub = subscriptions.create(event, recipient, secret, sink=sink)
                self.subs[event].append((sub.subscription_id, sub.recipient_url))
            healthy = [
                subscriptions.create("bench.stall", f"{url}/h/{i}", secret) for i in range(10)
            ]
            self.staller = subscriptions.create("bench.stall", f"{url}/stall/0", secret)
            self.token = access.create_token("bench", ["publish"])[1]
        self.group_subs = {
            "d": [sub_id for subs in self.subs.values() for sub_id, _ in subs],
            "h": [sub.subscription_id for sub in healthy],
        }

    def watch(self, group: str, interval: float = backlog.INTERVAL) -> backlog.Backlog:
        """Start sampling arrivals and committed log rows of receiver group ``group``."""
        url = self.app.config["SQLALCHEMY_DATABASE_URI"]
        subs = self.group_subs[group]
        return backlog.Backlog(self.receiver, url, group, subs, interval)

    def machine(self) -> str:
        """The machine and storage this run measures."""
        model = harness.cpu_model()
        memory = psutil.virtual_memory().total / 2**30
        database = self.app.config["SQLALCHEMY_DATABASE_URI"].split(":", 1)[0]
        redis = self.args.redis_url.split("://")[0] if self.args.redis_url else "embedded"
        return (
            f"machine: {os.cpu_count()} cores, {model}, {memory:.0f} GiB, "
            f"Python {platform.python_version()}; database {database}; redis {redis}; "
            f"{self.args.subscriptions} subscriptions over {len(self.events)} events "
            f"(fan-out {self.fanout}), {self.args.workers} workers, DELIVERY_MAX_UNRECORDED "
            f"{self.app.config.get('DELIVERY_MAX_UNRECORDED', 'none')}; load average "
            f"{harness.load()}"
        )

    def publish_one(self, n: int) -> None:
        """Publish event ``n`` in-process, stamped with the time."""
        from app.delivery import publishing

        publishing.publish(self.events[n % len(self.events)], {"t": time.time(), "n": n})

    def publish_stall(self, n: int) -> None:
        """Publish to the stall event."""
        from app.delivery import publishing

        publishing.publish("bench.stall", {"t": time.time(), "n": n})

    def set_staller(self, enabled: bool) -> None:
        """Enable or disable the endpoint that answers after 10 s."""
        from app.usecases import subscriptions

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
        if self.target is not None:
            self.target.close()
        if not self.args.redis_url:
            from app.broker.connection import stop_embedded

            stop_embedded(self.app)
