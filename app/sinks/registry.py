"""The sink registry: the sinks we ship, and those other packages add through entry points.

A sink type (``SinkType``: a name, a label, a builder and a recipient check) comes from
one of two places:

- the sinks shipped here, one module each, listed in ``BUILTIN``;
- any installed package that declares an entry point in the group ``async_events.sinks``
  whose object is a ``SinkType``. No file of ours is edited to add one::

      # pyproject.toml of a package "acme-kafka-sink"
      [project.entry-points."async_events.sinks"]
      kafka = "acme_kafka_sink:SINK_TYPE"

``init_app`` builds every type's sink once per app and keeps the sinks, shared by every
thread, in ``app.extensions["sinks"]``. A plugin may not take a shipped sink's name, nor
one another plugin took: the app refuses to start and names both.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from importlib.metadata import entry_points

from flask import Flask, current_app, has_app_context

from app.sinks import eventbridge, eventgrid, http, mqtt, nats, pubsub, rabbitmq, sqs
from app.sinks.base import Sink, SinkType

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "async_events.sinks"
BUILTIN: tuple[SinkType, ...] = (
    http.SINK_TYPE,
    eventbridge.SINK_TYPE,
    sqs.SINK_TYPE,
    pubsub.SINK_TYPE,
    eventgrid.SINK_TYPE,
    rabbitmq.SINK_TYPE,
    nats.SINK_TYPE,
    mqtt.SINK_TYPE,
)


class SinkPluginError(RuntimeError):
    """An entry point that does not give a usable sink type; the app does not start."""


def sink_types() -> dict[str, SinkType]:
    """Every sink type: the shipped ones, then the installed plugins', by name."""
    types = {kind.name: kind for kind in BUILTIN}
    origin = dict.fromkeys(types, "shipped with Async Events")
    for name, kind, where in _plugins(entry_points(group=ENTRY_POINT_GROUP)):
        if name in types:
            raise SinkPluginError(f"sink {name!r} from {where} is already {origin[name]}")
        types[name], origin[name] = kind, f"from {where}"
    return types


def _plugins(found: Iterable) -> Iterable[tuple[str, SinkType, str]]:
    for point in found:
        where = f"entry point {point.name} = {point.value}"
        try:
            kind = point.load()
        except Exception as exc:
            raise SinkPluginError(f"{where} does not load: {exc}") from exc
        if not isinstance(kind, SinkType):
            raise SinkPluginError(f"{where} is a {type(kind).__name__}, not a SinkType")
        if kind.name != point.name:
            raise SinkPluginError(f"{where} names its sink {kind.name!r}, not {point.name!r}")
        yield kind.name, kind, where


def init_app(app: Flask) -> None:
    """Build every sink type's sink and keep the built ones in ``app.extensions``."""
    types = sink_types()
    built = {name: kind.build(app.config) for name, kind in types.items()}
    app.extensions["sink_types"] = types
    app.extensions["sinks"] = {name: sink for name, sink in built.items() if sink is not None}


def close(app: Flask) -> None:
    """Close ``app``'s sinks that hold threads or connections (the webhook sinks' libcurl
    loop, the brokers' pools): at a worker's shutdown, and when a test's app ends."""
    for sink in app.extensions.get("sinks", {}).values():
        closing = getattr(sink, "close", None)
        if callable(closing):
            try:
                closing()
            except Exception:
                log.exception("closing the %s sink failed", getattr(sink, "name", "?"))


def get_sink(name: str) -> Sink | None:
    """Return the current app's sink called ``name``, or None if there is no such sink."""
    return current_app.extensions["sinks"].get(name)


def sink_names() -> list[str]:
    """Return the names of the current app's sinks, sorted (for forms and validation)."""
    return sorted(current_app.extensions["sinks"])


def sink_label(name: str) -> str:
    """What the dashboard calls the sink ``name``."""
    kind = _types().get(name)
    return kind.label if kind else name


def validate_recipient(sink_name: str, recipient: str) -> str | None:
    """Say what is wrong with ``recipient`` for the sink ``sink_name``, or None if nothing.

    Only the form is checked, offline; where an http URL may point (the SSRF rule) is
    checked elsewhere. A sink type without a check accepts any recipient.
    """
    kind = _types().get(sink_name)
    check = kind.recipient_error if kind else None
    return check(recipient) if check else None


def recipient_address(sink_name: str, recipient: str) -> tuple[str, int] | None:
    """The host and port a valid ``recipient`` of ``sink_name`` connects to, if the sink says."""
    kind = _types().get(sink_name)
    return kind.address(recipient) if kind and kind.address else None


def _types() -> dict[str, SinkType]:
    """The current app's sink types; outside an app, the installed ones."""
    return current_app.extensions["sink_types"] if has_app_context() else sink_types()
