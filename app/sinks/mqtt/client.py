"""paho-mqtt's client as the mqtt sink needs it: guarded, judged, and made for one broker.

``GuardedClient`` dials only addresses the SSRF policy allows and reports a failing
PUBREC, which paho ignores. ``retryable`` and ``describe`` judge and name the MQTT 5
reason codes a broker answers with (CONNACK, PUBACK, PUBREC, PUBCOMP). Two private
parts of paho 2.2 are used, so its version is pinned: ``_create_socket_connection``
(the dial) and ``_handle_pubrec`` here, ``_max_inflight_messages`` in ``link``.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import paho.mqtt.client as paho
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from app.sinks.addresses import Network, refusal

# Reason codes (CONNACK, PUBACK, PUBREC) that a later attempt would meet again: a bad or
# unauthorised login, a banned client, a malformed or invalid topic, payload or packet.
PERMANENT_CODES = frozenset(
    {0x81, 0x82, 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C, 0x90, 0x95, 0x99, 0x9A, 0x9B, 0x9D}
)


class ForbiddenBroker(OSError):
    """The broker's address is one the SSRF policy forbids."""


@dataclass(frozen=True)
class Broker:
    """Where and as whom to connect: one pooled link each. The password is never shown."""

    host: str
    port: int
    tls: bool = False
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    def __str__(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


def retryable(code: ReasonCode) -> bool:
    """Whether a failure reason code from the broker may pass on a later attempt."""
    return code.value not in PERMANENT_CODES


def describe(code: ReasonCode) -> str:
    """A reason code as the log shows it, e.g. ``Not authorized (0x87)``."""
    return f"{code} (0x{code.value:02X})"


class GuardedClient(paho.Client):
    """paho's client, dialling only addresses the SSRF policy allows, and judging PUBRECs.

    The addresses are checked before dialling and the connected peer after it (so a DNS
    answer that changed in between cannot reach inside), before any byte, credentials
    included, is sent. paho ignores a PUBREC's reason code; a failing one ends the QoS 2
    flow here as a failed publish, as MQTT 5 says.
    """

    allowed: tuple[Network, ...] = ()

    def _create_socket_connection(self) -> socket.socket:
        infos = socket.getaddrinfo(self._host, self._port, type=socket.SOCK_STREAM)
        self._refuse(str(info[4][0]) for info in infos)
        sock = socket.create_connection((self._host, self._port), timeout=self._connect_timeout)
        try:
            self._refuse([sock.getpeername()[0]])
        except BaseException:
            sock.close()
            raise
        return sock

    def _refuse(self, addresses: Iterable[str]) -> None:
        message = refusal(addresses, self.allowed)
        if message:
            raise ForbiddenBroker(message)

    def _handle_pubrec(self) -> MQTTErrorCode:
        packet = _packet.decode_pubrec(
            self._in_packet["command"], self._in_packet["packet"], self._protocol
        )
        if packet.reason.is_failure:
            with self._out_message_mutex:
                if packet.mid in self._out_messages:
                    return self._do_on_publish(packet.mid, packet.reason, packet.properties)
        return super()._handle_pubrec()


def new_client(broker: Broker, allowed: tuple[Network, ...]) -> GuardedClient:
    """An MQTT 5 client for ``broker`` with a fresh id, its login and TLS, not connected.

    paho's reconnection is off: a lost connection is replaced, never revived.
    """
    client = GuardedClient(
        CallbackAPIVersion.VERSION2,
        client_id=f"async-events-{uuid.uuid4().hex[:16]}",
        protocol=paho.MQTTv5,
        reconnect_on_failure=False,
    )
    client.allowed = allowed
    if broker.tls:
        client.tls_set()
    if broker.username is not None or broker.password is not None:
        client.username_pw_set(broker.username or "", broker.password)
    return client


def packet_size(topic: str, payload: bytes, properties: Properties) -> int:
    """The PUBLISH packet's size: fixed header, topic, packet id, properties, payload."""
    body = 2 + len(topic.encode("utf-8")) + 2 + len(properties.pack()) + len(payload)
    length_bytes = next((n for n in (1, 2, 3, 4) if body < 128**n), 5)
    return 1 + length_bytes + body


def network_error(exc: OSError) -> str:
    """Name a connect failure without any credentials (paho's errors carry none)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {exc}"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    return f"connection failed: {type(exc).__name__}: {exc}"
