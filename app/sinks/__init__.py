"""Sinks: where a delivery goes (HTTP, AWS, Google, Azure, RabbitMQ, NATS, MQTT), and how.

``registry`` knows the sink types, the shipped ones and those other packages add
through the ``async_events.sinks`` entry point group, and builds each once per app from
its config. ``base`` is the contract: a sink gets a ``DeliveryRequest`` and answers an
``Outcome``, never raising for a failed delivery, and never touching the database. Each
sink honours one total deadline (libcurl's for the webhook sinks, ``app.net.deadline``'s
watchdog for the others); ``addresses`` is the SSRF guard. A sink that can send without
a thread of ours has ``start(request, done)`` as well: the http sink, on libcurl's loop.
The webhook and AWS sinks are modules (``http`` with ``transport`` and ``signing``;
``eventbridge`` and ``sqs`` on ``aws``); each broker and cloud sink is a package of its
own (``pubsub``, ``eventgrid``, ``rabbitmq``, ``nats``, ``mqtt``), whose ``sink`` module
is the sink and whose others hold its client, pool or wire protocol. Plugins add sinks
through entry points.

May import: ``app.db``, ``app.broker``, ``app.net``, ``app.settings`` and ``app.models``;
never the delivery engine, which calls the sinks.
"""

from __future__ import annotations

from app.sinks.base import DeliveryRequest, Envelope, Outcome, Sink, SinkType
from app.sinks.http import HttpSink
from app.sinks.registry import (
    close,
    get_sink,
    init_app,
    recipient_address,
    sink_label,
    sink_names,
    sink_types,
    validate_recipient,
)

__all__ = [
    "DeliveryRequest",
    "Envelope",
    "HttpSink",
    "Outcome",
    "Sink",
    "SinkType",
    "close",
    "get_sink",
    "init_app",
    "recipient_address",
    "sink_label",
    "sink_names",
    "sink_types",
    "validate_recipient",
]
