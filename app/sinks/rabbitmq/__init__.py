"""The rabbitmq sink: delivery to RabbitMQ (AMQP 0-9-1), one module per job.

``sink`` (publish, confirm, outcomes), ``recipient`` (the amqp:// URL) and ``pool`` (pooled,
SSRF-checked links under the deadline's watchdog). ``SINK_TYPE`` is what the registry lists;
the page is docs/sink-rabbitmq.md.

May import: ``app.sinks`` (the contract, the SSRF guard, the deadline) and pika; never the
delivery engine, which calls the sink, nor the database.
"""

from __future__ import annotations

from app.sinks.rabbitmq.sink import SINK_TYPE

__all__ = ["SINK_TYPE"]
