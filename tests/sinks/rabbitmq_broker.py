"""The real RabbitMQ the rabbitmq sink tests publish to: per-test routes, and reading back.

The broker (127.0.0.1:5672, guest/guest) is shared by the whole machine, so every test
declares its own uniquely named exchange and queue and deletes them afterwards; nothing
else on the broker is touched.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass, field
from typing import Any

import pika
import psutil
import pytest
from cloudevents.core.bindings.rabbitmq import RabbitMQMessage, from_rabbitmq_event
from cloudevents.core.v1.event import CloudEvent
from pika.adapters.blocking_connection import BlockingChannel

BROKER = ("127.0.0.1", 5672)


def admin_connection() -> pika.BlockingConnection:
    """A connection to set up and read back with; fails under CI, skips elsewhere, if none."""
    params = pika.ConnectionParameters(*BROKER, connection_attempts=1, socket_timeout=3)
    try:
        return pika.BlockingConnection(params)
    except pika.exceptions.AMQPError as exc:
        if os.environ.get("CI"):
            pytest.fail(f"RabbitMQ is not reachable at {BROKER} (CI needs it): {exc!r}")
        pytest.skip(f"RabbitMQ not reachable at {BROKER}")


@dataclass
class Route:
    """A test's own exchange, bound to its own queue with ``routing_key``."""

    channel: BlockingChannel
    exchange: str = field(default_factory=lambda: f"ae-test-{uuid.uuid4().hex}")
    queue: str = field(default_factory=lambda: f"ae-test-{uuid.uuid4().hex}")
    routing_key: str = "order.placed"

    def declare(self, queue_arguments: dict[str, Any] | None = None) -> Route:
        """Declare the exchange and the queue, and bind them."""
        self.channel.exchange_declare(self.exchange, "direct")
        self.channel.queue_declare(self.queue, arguments=queue_arguments)
        self.channel.queue_bind(self.queue, self.exchange, self.routing_key)
        return self

    def delete(self) -> None:
        """Remove what ``declare`` made."""
        self.channel.queue_delete(self.queue)
        self.channel.exchange_delete(self.exchange)

    def url(
        self,
        where: str = "127.0.0.1:5672",
        password: str = "guest",
        routing_key: str | None = None,
        exchange: str | None = None,
    ) -> str:
        """A recipient for this route, through ``where`` (a proxy, say)."""
        key = self.routing_key if routing_key is None else routing_key
        name = exchange or self.exchange
        return f"amqp://guest:{password}@{where}/%2F?exchange={name}&routing_key={key}"

    def received(self) -> list[tuple[pika.BasicProperties, bytes]]:
        """Consume every message now in the queue (acknowledging it)."""
        got = []
        while True:
            method, properties, body = self.channel.basic_get(self.queue, auto_ack=True)
            if method is None:
                return got
            got.append((properties, body))

    def events(self) -> list[CloudEvent]:
        """Every message now in the queue, read by the CloudEvents SDK's RabbitMQ binding."""
        return [
            from_rabbitmq_event(RabbitMQMessage(p.headers or {}, p.content_type, body))
            for p, body in self.received()
        ]


def connections_to(port: int) -> int:
    """How many TCP connections this process has open to 127.0.0.1:``port``."""
    return sum(
        1
        for conn in psutil.Process().net_connections(kind="tcp")
        if conn.raddr and conn.raddr.port == port and conn.status == psutil.CONN_ESTABLISHED
    )
