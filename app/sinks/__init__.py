"""The sink registry: which delivery backends exist, built once per app from its config.

``FACTORIES`` is the plain registry: a name (the subscription's ``metadata``, as in
Magento's ``notifierClasses``) mapped to a function that builds that sink from
``app.config``. ``init_app`` calls each once and keeps the sinks, shared by every
thread, in ``app.extensions["sinks"]``. Nothing is built or connected at import.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask import Flask, current_app

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
    )


FACTORIES: dict[str, SinkFactory] = {
    "http": _http_sink,
    # Other sinks register here, importing their SDK inside the factory so the app
    # starts without it, e.g. "eventbridge": _eventbridge_sink, "sqs": _sqs_sink.
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
