"""One live scenario: its servers, app, receiver, workers, and what it published.

Reads go through an engine of their own, not the app's: on SQLite the app begins
every transaction with the write lock, which a scenario may be holding on purpose.
"""

from __future__ import annotations

import os
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

import redis
from rq.registry import ScheduledJobRegistry
from sqlalchemy import Engine, create_engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from app import create_app, settings
from app.broker import connection as broker
from app.delivery import outbox, publishing
from app.delivery.queues import FEEDERS_KEY, RETRY_QUEUE
from app.extensions import db
from app.models import ChainState, Delivery, DeliveryLog, Publication, PublicationState
from app.usecases import subscriptions
from tests.broker.redis_topology import Node, SentinelTopology
from tests.faults.receivers import ChainReceiver
from tests.faults.servers import PostgresCluster, RedisServer, postgres_bin
from tests.support import WorkerProcess, wait_until

if TYPE_CHECKING:
    from tests.faults.harness import Endpoint, Setup

TEST_REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
TEST_POSTGRES_URL = os.environ.get(
    "TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SCALE = max(1, int(os.environ.get("FAULTS_SCALE", "1")))  # make soak: FAULTS_SCALE=20
FERNET_KEY = "r0vNb3HkLmT4mB6JcS2t3h0o_dT1c2VhWw0k8Y1xN4E="
EVENT = "example.event"
# Short timeouts and leases, so a crashed worker's chains come back within seconds.
TIMINGS = {
    "DELIVERY_CONNECT_TIMEOUT": 2.0,
    "DELIVERY_TOTAL_TIMEOUT": 4.0,
    "DELIVERY_LEASE_SECONDS": 6,
    "DELIVERY_SWEEP_INTERVAL": 1,
    "DELIVERY_SWEEP_GRACE": 2,
}
# Sentinel finds a killed primary down after DOWN_AFTER_MS and promotes the replica
# within a second or two more: short enough for CI, long enough that a sentinel on a
# busy machine does not mistake a slow reply for a crash.
DOWN_AFTER_MS = 1000
FAILOVER_TIMEOUT_MS = 3000


class Run:
    """A scenario's world. ``needs`` may hold "redis" (a server of its own to kill),
    "sentinel" (a primary, a replica and three sentinels of its own, the app and workers
    reaching Redis through them) and "postgres" (a private cluster to restart); SQLite
    runs always get their own Redis."""

    def __init__(self, setup: Setup, directory: Path, needs: set[str]) -> None:
        self.setup, self.directory = setup, directory
        directory.mkdir(parents=True)
        self.cleanup = ExitStack()  # undone in reverse by close(), even after a failure
        self.held: Any = None  # the connection of lock_log_writes, while it holds
        try:
            self._start(needs)
        except BaseException:
            self.cleanup.close()
            raise

    def _start(self, needs: set[str]) -> None:
        """Start the servers, the app, the receiver; each registers how it is undone."""
        setup, directory = self.setup, self.directory
        self.redis_server: RedisServer | None = None
        self.topology: SentinelTopology | None = None
        if "sentinel" in needs:
            self.topology = SentinelTopology(
                directory / "sentinel",
                down_after_ms=DOWN_AFTER_MS,
                failover_timeout_ms=FAILOVER_TIMEOUT_MS,
                binary=setup.redis_binary,
            )
            self.cleanup.callback(self.topology.stop)
            self.topology.start()
        elif "redis" in needs or setup.database == "sqlite":
            self.redis_server = RedisServer(setup.redis_binary, directory / "redis")
            self.cleanup.callback(self.redis_server.kill)
            self.redis_server.start()
        else:
            self.cleanup.callback(_flush_shared_redis)
        self.postgres: PostgresCluster | None = None
        if "postgres" in needs:
            bindir = postgres_bin()
            assert setup.database == "postgresql" and bindir, "a private cluster needs PostgreSQL"
            self.postgres = PostgresCluster(bindir)
            self.cleanup.callback(self.postgres.destroy)
            self.postgres.start()
        self.config = self._config()
        self.app = create_app(self.config)
        self.cleanup.callback(self._close_app)
        url = self.config["SQLALCHEMY_DATABASE_URI"]
        self.reader: Engine = create_engine(url, pool_pre_ping=True)
        self.cleanup.callback(self.reader.dispose)
        self.receiver = ChainReceiver().start()
        self.cleanup.callback(self.receiver.close)
        self.cleanup.callback(self.receiver.release)
        self.workers = WorkerProcess(self.config)
        self.cleanup.callback(self.workers.stop_all)
        self.expected: dict[tuple[int, int], str] = {}  # (publication, subscription) -> path
        self.events = 0
        self.paths: dict[int, str] = {}  # subscription id -> endpoint path
        self.elsewhere: set[str] = set()  # endpoints not on our receiver: arrivals unknown
        self.refused = 0  # publications refused at publish
        self.fallen: list[Node] = []  # Sentinel primaries failed so far (killed or stopped)

    def _config(self) -> dict[str, Any]:
        if self.postgres is not None:
            url = self.postgres.url
        elif self.setup.database == "postgresql":
            url = TEST_POSTGRES_URL
        else:
            url = f"sqlite:///{self.directory / 'faults.db'}"
        return TIMINGS | {
            "TESTING": True,
            "INSTANCE_PATH": str(self.directory / "instance"),
            "SQLALCHEMY_DATABASE_URI": url,
            "REDIS_URL": self._redis_url(),
            "TOKEN_ENCRYPTION_KEYS": [FERNET_KEY],
            "DELIVERY_ALLOWED_NETWORKS": ["127.0.0.0/8", "::1/128"],
        }

    def _redis_url(self) -> str:
        if self.topology is not None:
            return self.topology.url()  # redis+sentinel://, the workers' REDIS_URL too
        return self.redis_server.url if self.redis_server else TEST_REDIS_URL

    def prepare(self, endpoints: list[Endpoint], runtime: dict[str, Any]) -> None:
        """A fresh schema, a clean Redis, the endpoints subscribed, runtime settings set."""
        if self.config["REDIS_URL"] == TEST_REDIS_URL:
            _flush_shared_redis()
        with self.app.app_context():
            db.drop_all()
            db.create_all()
            for endpoint in endpoints:
                url = endpoint.url or self.receiver.route_per_chain(
                    endpoint.path, *endpoint.replies
                )
                if endpoint.url:
                    self.elsewhere.add(endpoint.path)
                if endpoint.held:
                    self.receiver.hold(endpoint.path)
                sub = subscriptions.create(EVENT, url, "faults-token")
                self.paths[sub.subscription_id] = endpoint.path
            for key, value in runtime.items():
                settings.set(key, value)
            db.session.remove()

    def redis(self) -> redis.Redis:
        """A client of the scenario's Redis (through Sentinel, its primary of the moment)."""
        if self.topology is not None:
            return broker.new_client(self.app)
        return redis.Redis.from_url(self.config["REDIS_URL"], socket_timeout=5)

    def start_worker(self, ready: bool = False) -> None:
        """Start a worker; with ``ready``, wait until its feeder polls Redis."""
        self.workers.start(log=self.directory / f"worker-{len(self.workers.procs)}.log")
        if ready:
            with self.redis() as conn:
                wait_until(lambda: conn.exists(FEEDERS_KEY), timeout=60, interval=0.1)

    def redis_version(self) -> str:
        """The version of the scenario's Redis server."""
        with self.redis() as conn:
            return str(conn.info("server")["redis_version"])

    def scheduled_retries(self) -> int:
        """Retries waiting in Redis for their time (RQ's scheduled registry)."""
        with self.redis() as conn:
            return ScheduledJobRegistry(RETRY_QUEUE, connection=conn).count

    def kill_workers(self) -> None:
        """SIGKILL every running worker and its scheduler."""
        for proc in self.workers.alive():
            self.workers.kill(proc)

    def publish(self, events: list[dict[str, Any]] | int) -> None:
        """Publish ``example.event``: a count of events ``{"n": i}`` in one batch, or these
        arguments one by one; a publication refused (``PublishError``) is counted."""
        with self.app.app_context():
            if isinstance(events, int):
                batch = [(EVENT, {"n": self.events + i}, 0) for i in range(events)]
                ids = publishing.publish_many(batch)
            else:
                ids = [pid for args in events if (pid := self._publish_one(args)) is not None]
            outbox.flush(self.app)
        self.events += len(ids)
        for pid in ids:
            for sub, path in self.paths.items():
                self.expected[(pid, sub)] = path

    def _publish_one(self, args: dict[str, Any]) -> int | None:
        try:
            return publishing.publish(EVENT, args)
        except publishing.PublishError:
            self.refused += 1
            return None

    def count(self, query: Any) -> int | None:
        """A count read on the reader engine; None while the database is unreachable."""
        try:
            with self.reader.connect() as conn:
                return int(conn.execute(query).scalar_one())
        except SQLAlchemyError:
            return None

    def logged(self, success: bool | None = None) -> int:
        """Log rows committed so far (only successes or failures, if asked)."""
        query = select(func.count()).select_from(DeliveryLog)
        if success is not None:
            query = query.where(DeliveryLog.success.is_(success))
        return self.count(query) or 0

    def wait_final(self, deadline: float) -> float | None:
        """Wait until every expected chain is final; return when that was (monotonic)."""
        final = (ChainState.DELIVERED, ChainState.DEAD)
        done = select(func.count()).select_from(Delivery).where(Delivery.state.in_(final))
        publications = (
            select(func.count())
            .select_from(Publication)
            .where(Publication.state == PublicationState.PENDING)
        )
        while time.monotonic() < deadline:
            if (self.count(done) or 0) >= len(self.expected) and self.count(publications) == 0:
                return time.monotonic()
            time.sleep(0.2)
        return None

    def wait_quiet(self, quiet: float) -> None:
        """Wait until no request has arrived for ``quiet`` s (late duplicates counted)."""
        seen = -1
        while (now := len(self.receiver.received())) != seen:
            seen = now
            time.sleep(quiet)

    def worker_logs(self, lines: int = 40) -> str:
        """The last lines of every worker's output, for a failure's report."""
        tails = []
        for log in sorted(self.directory.glob("worker-*.log")):
            tails.append(
                f"--- {log}\n" + "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
            )
        return "\n".join(tails)

    def close(self) -> None:
        """Stop everything this run started (workers first), and leave shared servers clean."""
        if self.held is not None:
            self.held.close()
        self.cleanup.close()

    def _close_app(self) -> None:
        outbox.close(self.app)
        with self.app.app_context():
            db.session.remove()
            if self.setup.database == "postgresql" and self.postgres is None:
                db.drop_all()  # the shared test database
            db.engine.dispose()


def _flush_shared_redis() -> None:
    redis.Redis.from_url(TEST_REDIS_URL).flushdb()
