"""The broker sinks' benchmark: deliveries/s through RabbitMQ, NATS or MQTT, confirmed and logged.

``python bench/delivery.py --sink rabbitmq|nats|mqtt`` subscribes the bench's S
subscriptions through that sink to the broker on this machine (``--broker-url`` points
elsewhere), starts the workers suspended, publishes K events in batches of 100, resumes
the workers and waits until every delivery has its successful log row. The rate is
deliveries over the span from the resume to the last row committed, so connecting and
warming up count against it. A consumer on the broker counts what arrived: every
delivery must be there, once (a broker confirmed each before its row was written).
"""

from __future__ import annotations

import threading
import time
import uuid
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import create_engine, text

from bench import scenarios

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

    from bench.fixture import Bench

BATCH = 100


class Target(Protocol):
    """Where one broker sink's bench deliveries go, and how many got there."""

    sink: str

    def recipient(self, n: int) -> str:
        """The recipient of the bench's ``n``-th subscription."""
        ...

    def received(self) -> int:
        """How many messages the broker holds or handed to our consumer."""
        ...

    def close(self) -> None:
        """Delete what the bench made on the broker."""
        ...


class RabbitTarget:
    """One durable queue bound to one direct exchange; the count is the queue's depth."""

    sink = "rabbitmq"

    def __init__(self, url: str) -> None:
        import pika

        self.url = url.rstrip("/")
        self.name = f"bench-{uuid.uuid4().hex[:8]}"
        self.conn = pika.BlockingConnection(pika.URLParameters(f"{self.url}/%2F"))
        self.channel = self.conn.channel()
        self.channel.exchange_declare(self.name, "direct", durable=True)
        self.channel.queue_declare(self.name, durable=True)
        self.channel.queue_bind(self.name, self.name, routing_key="bench")

    def recipient(self, n: int) -> str:
        return f"{self.url}/%2F?exchange={self.name}&routing_key=bench"

    def received(self) -> int:
        declared = self.channel.queue_declare(self.name, durable=True, passive=True)
        return int(declared.method.message_count)

    def close(self) -> None:
        self.channel.queue_delete(self.name)
        self.channel.exchange_delete(self.name)
        self.conn.close()


class NatsTarget:
    """One JetStream stream over ``bench.<id>.>``; the count is the stream's messages."""

    sink = "nats"

    def __init__(self, url: str) -> None:
        import asyncio

        import nats

        self.url = url.rstrip("/")
        self.name = f"BENCH_{uuid.uuid4().hex[:8]}"
        self.prefix = f"bench.{self.name.lower()}"
        self.loop = asyncio.new_event_loop()
        self.nc = self.loop.run_until_complete(nats.connect(self.url))
        self.js = self.nc.jetstream()
        self.loop.run_until_complete(
            self.js.add_stream(name=self.name, subjects=[f"{self.prefix}.>"])
        )

    def recipient(self, n: int) -> str:
        return f"{self.url}/{self.prefix}.s{n}"

    def received(self) -> int:
        info = self.loop.run_until_complete(self.js.stream_info(self.name))
        return int(info.state.messages)

    def close(self) -> None:
        self.loop.run_until_complete(self.js.delete_stream(self.name))
        self.loop.run_until_complete(self.nc.close())
        self.loop.close()


class MqttTarget:
    """A subscriber to ``bench/<id>/#`` that counts what the broker hands it.

    It subscribes at QoS 0: at QoS 1, Mosquitto queues at most 1,000 unacknowledged
    messages per subscriber and drops the rest once a Python consumer falls behind the
    workers, which measured the consumer, not the sink (whose QoS 1 PUBACKs count).
    """

    sink = "mqtt"

    def __init__(self, url: str) -> None:
        from urllib.parse import urlsplit

        import paho.mqtt.client as mqtt

        self.url = url.rstrip("/")
        self.prefix = f"bench/{uuid.uuid4().hex[:8]}"
        self.count = 0
        self.lock = threading.Lock()
        subscribed = threading.Event()
        parts = urlsplit(self.url)
        self.client = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
        self.client.on_message = self._on_message
        self.client.on_subscribe = lambda *_: subscribed.set()
        self.client.connect(parts.hostname or "127.0.0.1", parts.port or 1883)
        self.client.loop_start()
        self.client.subscribe(f"{self.prefix}/#", qos=0)
        if not subscribed.wait(10):
            raise SystemExit(f"MQTT: no SUBACK from {self.url}")

    def _on_message(self, *_: object) -> None:
        with self.lock:
            self.count += 1

    def recipient(self, n: int) -> str:
        return f"{self.url}/{self.prefix}/s{n}"

    def received(self) -> int:
        with self.lock:
            return self.count

    def close(self) -> None:
        self.client.loop_stop()
        self.client.disconnect()


TARGETS = {"rabbitmq": RabbitTarget, "nats": NatsTarget, "mqtt": MqttTarget}
DEFAULT_URLS = {
    "rabbitmq": "amqp://guest:guest@127.0.0.1:5672",
    "nats": "nats://127.0.0.1:4222",
    "mqtt": "mqtt://127.0.0.1:1883",
}


def target(sink: str, url: str = "") -> Target:
    """The bench target of ``sink``, on the broker at ``url`` (this machine's by default)."""
    return TARGETS[sink](url or DEFAULT_URLS[sink])


def run(bench: Bench, events: list[str], publishes: int) -> float:
    """Publish ``publishes`` events to suspended workers, resume them, time the drain."""
    expected = publishes * bench.fanout
    workers = bench.fleet.start_workers(suspended=True)
    with bench.app.app_context():
        scenarios.publish_batched(events, publishes, 0, BATCH)
    engine = create_engine(bench.app.config["SQLALCHEMY_DATABASE_URI"])
    started = time.time()
    bench.fleet.resume()
    rows, last_row = _drain(engine, expected)
    engine.dispose()
    rate = rows / (last_row - started) if last_row > started else 0.0
    arrived = _arrivals(bench.target, expected)
    print(
        f"{bench.target.sink}: {rows} successful log rows of {expected} in "
        f"{last_row - started:.2f} s from the resume: {rate:.0f} deliveries/s committed; "
        f"{arrived} messages on the broker"
    )
    if rows != expected or arrived != expected:
        print(f"  ! expected {expected} rows and messages, got {rows} and {arrived}")
    bench.fleet.stop_workers(workers)
    return rate


def _arrivals(target: Target, expected: int, quiet: float = 3.0) -> int:
    """What reached the broker's side, once it stops growing for ``quiet`` s (or is all)."""
    count, since = target.received(), time.monotonic()
    while count < expected and time.monotonic() - since < quiet:
        time.sleep(0.2)
        now = target.received()
        if now > count:
            count, since = now, time.monotonic()
    return count


_SUCCESSES = text("SELECT count(*) FROM async_event_subscriber_log WHERE success")


def _drain(engine: Engine, expected: int, stall: float = 60.0) -> tuple[int, float]:
    """Poll successful log rows until ``expected``, or no progress for ``stall`` s."""
    rows, last_row, since = 0, time.time(), time.monotonic()
    while rows < expected:
        time.sleep(0.1)
        with engine.connect() as conn:
            now_rows = int(conn.execute(_SUCCESSES).scalar_one())
        if now_rows > rows:
            rows, last_row, since = now_rows, time.time(), time.monotonic()
        elif time.monotonic() - since > stall:
            print(f"  ! {rows}/{expected} logged, no progress for {stall:.0f} s")
            break
    return rows, last_row
