"""The sink registry: which delivery backends exist, built once per app from its config.

``FACTORIES`` is the plain registry: a name (the subscription's ``metadata``, as in
Magento's ``notifierClasses``) mapped to a function that builds that sink from
``app.config``. ``init_app`` calls each once and keeps the sinks, shared by every
thread, in ``app.extensions["sinks"]``. Nothing is built or connected at import.

May import: ``app.db``, ``app.broker``, ``app.settings`` and ``app.models``; never the
delivery engine, which calls the sinks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, current_app

from app.sinks import eventbridge, sqs
from app.sinks.addresses import guarded_manager, networks
from app.sinks.aws import AwsClient
from app.sinks.base import DeliveryRequest, Envelope, Outcome, Sink
from app.sinks.http import HttpSink

__all__ = [
    "FACTORIES",
    "DeliveryRequest",
    "Envelope",
    "HttpSink",
    "Outcome",
    "Sink",
    "get_sink",
    "init_app",
    "sink_names",
    "validate_recipient",
]

# Builds a sink from app.config, or returns None when it isn't configured here
# (a cloud sink without credentials, say) so that sink is simply unavailable.
SinkFactory = Callable[[Mapping[str, Any]], Sink | None]


def _http_sink(config: Mapping[str, Any]) -> HttpSink:
    """Build the webhook sink from the ``DELIVERY_*`` settings."""
    return HttpSink(
        connect_timeout=config.get("DELIVERY_CONNECT_TIMEOUT", 5.0),
        total_timeout=config.get("DELIVERY_TOTAL_TIMEOUT", 15.0),
        max_redirects=config.get("DELIVERY_MAX_REDIRECTS", 5),
        max_response_bytes=config.get("DELIVERY_MAX_RESPONSE_BYTES", 65536),
        # One pooled connection per fan-out thread, so none is opened and thrown away.
        pool_maxsize=max(64, config.get("DELIVERY_CONCURRENCY", 0)),
        pool_factory=guarded_manager(networks(config.get("DELIVERY_ALLOWED_NETWORKS") or [])),
    )


def _eventbridge_sink(config: Mapping[str, Any]) -> eventbridge.EventBridgeSink:
    """Build the EventBridge sink; its client (and boto3) waits for the first delivery."""
    source = config.get("EVENTBRIDGE_SOURCE") or eventbridge.DEFAULT_SOURCE
    return eventbridge.EventBridgeSink(AwsClient("events", config), source)


def _sqs_sink(config: Mapping[str, Any]) -> sqs.SqsSink:
    """Build the SQS sink; its client (and boto3) waits for the first delivery."""
    return sqs.SqsSink(AwsClient("sqs", config))


FACTORIES: dict[str, SinkFactory] = {
    "http": _http_sink,
    # Other sinks register here. A cloud sink connects on its first delivery, never at
    # start, so missing credentials show as failed deliveries, not a failed start.
    "eventbridge": _eventbridge_sink,
    "sqs": _sqs_sink,
}


def init_app(app: Flask) -> None:
    """Build every configured sink and store them in ``app.extensions["sinks"]``."""
    sinks = {name: factory(app.config) for name, factory in FACTORIES.items()}
    app.extensions["sinks"] = {name: sink for name, sink in sinks.items() if sink is not None}


def get_sink(name: str) -> Sink | None:
    """Return the current app's sink called ``name``, or None if there is no such sink."""
    return current_app.extensions["sinks"].get(name)


def sink_names() -> list[str]:
    """Return the names of the current app's sinks, sorted (for forms and validation)."""
    return sorted(current_app.extensions["sinks"])


def _http_recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not an http(s) URL with a host, or None if it is one."""
    try:
        parts = urlsplit(recipient)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        ok = False
    if ok:
        return None
    return f"recipient_url {recipient!r} is not an http(s) URL, as the http sink needs"


RECIPIENT_CHECKS: dict[str, Callable[[str], str | None]] = {
    "http": _http_recipient_error,
    "eventbridge": eventbridge.recipient_error,
    "sqs": sqs.recipient_error,
}


def validate_recipient(sink_name: str, recipient: str) -> str | None:
    """Say what is wrong with ``recipient`` for the sink ``sink_name``, or None if nothing.

    Only the form is checked, offline; where an http URL may point (the SSRF rule) is
    checked elsewhere. A sink without a rule here accepts any recipient.
    """
    check = RECIPIENT_CHECKS.get(sink_name)
    return check(recipient) if check else None
