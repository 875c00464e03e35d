"""The mqtt sink: publish the CloudEvent to an MQTT 5 topic, acknowledged by the broker.

The recipient is ``mqtt[s]://[user[:password]@]host[:port]/topic/levels[?qos=1|2]``. The
event goes in the CloudEvents MQTT binding's MQTT 5 binary mode: ``datacontenttype`` as
the Content Type property, every other context attribute as a User Property of the same
name, and the data, as JSON, as the payload. QoS 1 waits for the PUBACK, QoS 2 for the
PUBREC and PUBCOMP; an attempt succeeds only on a reason code below 0x80 (0x10, no
matching subscribers, is a success: the broker took the message). Connections are pooled
in ``app.sinks.mqtt.link``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from app.models.recipients import split
from app.sinks.addresses import networks
from app.sinks.base import DeliveryRequest, Envelope, Outcome, SinkType
from app.sinks.mqtt.client import Broker, describe, retryable
from app.sinks.mqtt.link import Link, LinkError, LinkPool, LinkTimeout

SCHEMES = {"mqtt": (False, 1883), "mqtts": (True, 8883)}
EXPECTED = "mqtt[s]://[user[:password]@]host[:port]/topic/levels[?qos=1|2]"


@dataclass(frozen=True)
class Target:
    """A parsed recipient: the broker (and account), the topic and the QoS to publish at."""

    broker: Broker
    topic: str
    qos: int


class MqttSink:
    """Delivers through one pooled, thread-safe MQTT 5 connection per broker and account."""

    name = "mqtt"

    def __init__(
        self,
        connect_timeout: float = 5.0,
        total_timeout: float = 15.0,
        allowed_networks: tuple = (),
    ) -> None:
        if connect_timeout <= 0 or total_timeout <= 0:
            timeouts = f"{connect_timeout!r}/{total_timeout!r}"
            raise ValueError(f"MQTT timeouts must be positive, got {timeouts}")
        self.total_timeout = total_timeout
        make = partial(Link, allowed=tuple(allowed_networks), connect_timeout=connect_timeout)
        self._pool = LinkPool(make)

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Publish the event to ``request.recipient``; every failure becomes an Outcome."""
        started = time.monotonic()
        outcome = self._publish(request, started + self.total_timeout)
        return replace(outcome, duration_ms=round((time.monotonic() - started) * 1000))

    def close(self) -> None:
        """Disconnect every pooled connection."""
        self._pool.close()

    def __enter__(self) -> MqttSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _publish(self, request: DeliveryRequest, deadline: float) -> Outcome:
        """Publish and judge the acknowledgement; the broker's name, never its credentials."""
        try:
            target = parse(request.recipient)
            payload, properties = binary_message(request.event)
        except (TypeError, ValueError) as exc:
            return Outcome(False, False, f"cannot publish the event: {exc}")
        link = self._pool.get(target.broker)
        try:
            code = link.publish(target.topic, payload, target.qos, properties, deadline)
        except LinkTimeout as exc:
            late = f"timed out after {self.total_timeout} s waiting for the broker's {exc.what}"
            return Outcome(False, True, f"{target.broker}: {late}")
        except LinkError as exc:
            return Outcome(False, exc.retryable, f"{target.broker}: {exc}")
        except ValueError as exc:  # paho refused the message itself (e.g. too large)
            return Outcome(False, False, f"{target.broker}: {exc}")
        except Exception as exc:  # never raise: as a raising sink is treated, try again
            return Outcome(False, True, f"{target.broker}: {type(exc).__name__}: {exc}")
        return _acknowledged(code, target)


def _acknowledged(code: ReasonCode, target: Target) -> Outcome:
    """Success below 0x80; else the broker's reason, retryable when it may pass."""
    text = json.dumps(
        {"topic": target.topic, "qos": target.qos, "reason_code": code.value, "reason": str(code)}
    )
    if not code.is_failure:
        return Outcome(True, False, text)
    refused = (
        f"{target.broker}: the broker refused the message to {target.topic!r}: {describe(code)}"
    )
    return Outcome(False, retryable(code), refused)


def binary_message(event: Envelope) -> tuple[bytes, Properties]:
    """The payload and PUBLISH properties of the CloudEvents MQTT 5 binary mode."""
    attributes = event.attributes()
    properties = Properties(PacketTypes.PUBLISH)
    properties.ContentType = attributes.pop("datacontenttype")
    properties.PayloadFormatIndicator = 1  # UTF-8 text: JSON
    properties.UserProperty = list(attributes.items())
    payload = json.dumps(event.data, separators=(",", ":"), ensure_ascii=False)
    return payload.encode("utf-8"), properties


def parse(recipient: str) -> Target:
    """The broker, topic and QoS a recipient names; ValueError saying what is wrong."""
    try:
        parts = urlsplit(recipient)
        port = parts.port
    except ValueError:
        raise ValueError("it is not a URL with a valid host and port") from None
    if parts.scheme not in SCHEMES:
        raise ValueError("the scheme must be mqtt or mqtts")
    if not parts.hostname:
        raise ValueError("it names no host")
    if "#" in recipient:  # a URL fragment, or the wildcard meant literally
        raise ValueError("the topic may not hold the wildcards + or #, nor the URL a #fragment")
    if port == 0:
        raise ValueError("the port must be 1 to 65535")
    tls, default_port = SCHEMES[parts.scheme]
    user = unquote(parts.username) if parts.username is not None else None
    password = unquote(parts.password) if parts.password is not None else None
    broker = Broker(parts.hostname, port or default_port, tls, user, password)
    return Target(broker, _topic(unquote(parts.path[1:])), _qos(parts.query))


def _topic(topic: str) -> str:
    """``topic`` if one may publish to it; ValueError if not."""
    if not topic:
        raise ValueError("it names no topic (the path is the topic)")
    if "+" in topic or "#" in topic:
        raise ValueError("the topic may not hold the wildcards + or #")
    if topic.startswith("$"):
        raise ValueError("topics starting with $ are the broker's own")
    if "\x00" in topic or len(topic.encode("utf-8")) > 65535:
        raise ValueError("the topic must be at most 65535 bytes of UTF-8 without NUL")
    return topic


def _qos(query: str) -> int:
    """The QoS the query asks for (1 by default); ValueError for anything but ``qos=1|2``."""
    try:
        asked = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError:
        asked = {"": []}
    if set(asked) - {"qos"} or asked.get("qos", ["1"]) not in (["1"], ["2"]):
        raise ValueError("the only query parameter is qos, 1 or 2")
    return int(asked.get("qos", ["1"])[0])


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not an MQTT topic URL (its password not shown), or None."""
    try:
        parse(recipient)
    except ValueError as exc:
        shown = split(recipient)[0]
        return f"recipient_url {shown!r} is not {EXPECTED}, as the mqtt sink needs: {exc}"
    return None


def address(recipient: str) -> tuple[str, int]:
    """The host and port a valid recipient's broker listens on."""
    broker = parse(recipient).broker
    return broker.host, broker.port


def build(config: Mapping[str, Any]) -> MqttSink:
    """Build the MQTT sink from the ``DELIVERY_*`` settings; it connects on first delivery."""
    return MqttSink(
        connect_timeout=config.get("DELIVERY_CONNECT_TIMEOUT", 5.0),
        total_timeout=config.get("DELIVERY_TOTAL_TIMEOUT", 15.0),
        allowed_networks=networks(config.get("DELIVERY_ALLOWED_NETWORKS") or []),
    )


SINK_TYPE = SinkType("mqtt", "MQTT", build, recipient_error, address)
