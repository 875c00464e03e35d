"""One pooled MQTT 5 connection per broker and account: connect, publish, wait for the ack.

paho-mqtt runs each connection's network loop in its own thread (``loop_start``), and many
delivery threads publish through one ``Link`` at once. A link that fails (refused, lost,
a refused CONNACK, a deadline passed on it) is never revived: paho's own reconnection is
off, and ``LinkPool`` replaces a failed link on the next delivery, so every new connection
passes the SSRF address check again. Each publish awaits its own ack (an event per packet
id, set by the PUBACK or PUBCOMP callback, or by the link failing) rather than
``MQTTMessageInfo.wait_for_publish``, which a lost connection cannot wake (it would sleep
to the deadline) and which does not tell the broker's reason code.
"""

from __future__ import annotations

import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt import _packet
from paho.mqtt.enums import CallbackAPIVersion, MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from app.sinks.addresses import Network, forbidden

KEEPALIVE = 60
DEFAULT_INFLIGHT = 20  # paho's, for a broker that announces no Receive Maximum
# Reason codes (CONNACK, PUBACK, PUBREC) that a later attempt would meet again: a bad or
# unauthorised login, a banned client, a malformed or invalid topic, payload or packet.
PERMANENT_CODES = frozenset(
    {0x81, 0x82, 0x84, 0x85, 0x86, 0x87, 0x8A, 0x8C, 0x90, 0x95, 0x99, 0x9A, 0x9B, 0x9D}
)


class LinkError(Exception):
    """A connection or a publish failed; ``retryable`` says whether a later attempt may work."""

    def __init__(self, message: str, retryable: bool) -> None:
        super().__init__(message)
        self.retryable = retryable


class LinkTimeout(LinkError):
    """The deadline passed while waiting for the broker's ``what`` (CONNACK, acknowledgement)."""

    def __init__(self, what: str) -> None:
        super().__init__(f"timed out waiting for the broker's {what}", True)
        self.what = what


class _Forbidden(OSError):
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


class _GuardedClient(paho.Client):
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
        for address in addresses:
            why = forbidden(address, self.allowed)
            if why:
                raise _Forbidden(f"refused to connect to {address}: {why}")

    def _handle_pubrec(self) -> MQTTErrorCode:
        packet = _packet.decode_pubrec(
            self._in_packet["command"], self._in_packet["packet"], self._protocol
        )
        if packet.reason.is_failure:
            with self._out_message_mutex:
                if packet.mid in self._out_messages:
                    return self._do_on_publish(packet.mid, packet.reason, packet.properties)
        return super()._handle_pubrec()


class _Ack:
    """The broker's answer to one publish: ``code`` is None if the link failed first."""

    __slots__ = ("code", "done")

    def __init__(self) -> None:
        self.code: ReasonCode | None = None
        self.done = threading.Event()


class Link:
    """One MQTT 5 connection, opened by its first user, shared by every thread after."""

    def __init__(
        self, broker: Broker, allowed: tuple[Network, ...], connect_timeout: float
    ) -> None:
        self.broker, self.connect_timeout = broker, connect_timeout
        self._cond = threading.Condition()
        self._state = "new"  # then "connecting", "up"; or "failed", for good
        self._error: LinkError | None = None
        self._acks: dict[int, _Ack] = {}  # by packet id, until its publisher has read it
        self.max_packet: int | None = None
        self._client = self._make_client(allowed)

    @property
    def failed(self) -> bool:
        """True once the link is of no more use."""
        return self._state == "failed"

    def publish(
        self, topic: str, payload: bytes, qos: int, properties: Properties, deadline: float
    ) -> ReasonCode:
        """Publish and return the broker's (PUBACK or PUBCOMP) reason code; LinkError if none."""
        self._ready(deadline)
        size, limit = _packet_size(topic, payload, properties), self.max_packet
        if limit is not None and size > limit:
            raise LinkError(f"the message is {size} bytes; the broker takes at most {limit}", False)
        info = self._client.publish(topic, payload, qos, properties=properties)
        if info.rc != MQTTErrorCode.MQTT_ERR_SUCCESS:
            raise self._fail(LinkError(f"publish failed: {paho.error_string(info.rc)}", True))
        with self._cond:  # the ack may be in already: the callback then made the entry
            if self._error is not None:
                raise self._error
            ack = self._acks.setdefault(info.mid, _Ack())
        return self._acknowledgement(info.mid, ack, deadline)

    def close(self) -> None:
        """Disconnect and stop the network thread (a no-op on a link that never connected)."""
        self._fail(LinkError("the connection was closed", True))
        self._client.disconnect()
        self._client.loop_stop()

    def _make_client(self, allowed: tuple[Network, ...]) -> _GuardedClient:
        client = _GuardedClient(
            CallbackAPIVersion.VERSION2,
            client_id=f"async-events-{uuid.uuid4().hex[:16]}",
            protocol=paho.MQTTv5,
            reconnect_on_failure=False,
        )
        client.allowed = allowed
        if self.broker.tls:
            client.tls_set()
        if self.broker.username is not None or self.broker.password is not None:
            client.username_pw_set(self.broker.username or "", self.broker.password)
        client.on_connect, client.on_disconnect = self._on_connect, self._on_disconnect
        client.on_publish = self._on_publish
        return client

    def _ready(self, deadline: float) -> None:
        """Connect if nobody has yet, then wait until the CONNACK has come (or failure)."""
        with self._cond:
            opener = self._state == "new"
            if opener:
                self._state = "connecting"
        if opener:
            self._open(deadline)
        self._wait(lambda: True if self._state == "up" else None, "CONNACK", deadline)

    def _open(self, deadline: float) -> None:
        """Dial the broker and send CONNECT; a failure fails the link."""
        left = deadline - time.monotonic()
        self._client.connect_timeout = max(min(self.connect_timeout, left), 0.001)
        try:
            self._client.connect(self.broker.host, self.broker.port, KEEPALIVE, clean_start=True)
        except _Forbidden as exc:
            self._fail(LinkError(str(exc), False))
            return
        except OSError as exc:  # refused, DNS, TLS, timed out
            self._fail(LinkError(_network_error(exc), True))
            return
        self._client.loop_start()

    def _wait(self, result: Callable[[], Any], what: str, deadline: float) -> Any:
        """Wait for ``result()`` (seen under the lock); LinkError on failure or at the deadline."""
        with self._cond:
            while True:
                got = result()
                if got is not None:
                    return got
                if self._error is not None:
                    raise self._error
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
        self.close()  # a broker that is this late is hung: the next delivery dials again
        raise LinkTimeout(what)

    def _acknowledgement(self, mid: int, ack: _Ack, deadline: float) -> ReasonCode:
        """Wait for the ack of ``mid`` alone: one event each, so an ack wakes one thread."""
        if not ack.done.wait(max(deadline - time.monotonic(), 0)):
            self.close()  # a broker that is this late is hung: the next delivery dials again
            raise LinkTimeout("acknowledgement")
        with self._cond:
            self._acks.pop(mid, None)
        if ack.code is None:
            raise self._error or LinkError("the connection was closed", True)
        return ack.code

    def _fail(self, error: LinkError) -> LinkError:
        """Mark the link failed with ``error`` (the first failure wins) and wake every waiter."""
        with self._cond:
            if self._error is None:
                self._state, self._error = "failed", error
                self._cond.notify_all()
                for ack in self._acks.values():
                    ack.done.set()
            return self._error

    def _on_connect(
        self, client: Any, _data: Any, _flags: Any, code: ReasonCode, props: Any
    ) -> None:
        if code.is_failure:
            self._fail(
                LinkError(f"the broker refused the connection: {describe(code)}", retryable(code))
            )
            return
        # paho neither honours the broker's Receive Maximum (exceeding it is a disconnect)
        # nor lets its setter change the limit once connected; nothing is in flight yet.
        client._max_inflight_messages = getattr(props, "ReceiveMaximum", DEFAULT_INFLIGHT)
        self.max_packet = getattr(props, "MaximumPacketSize", None)
        with self._cond:
            if self._state == "connecting":
                self._state = "up"
                self._cond.notify_all()

    def _on_disconnect(self, _c: Any, _d: Any, _f: Any, code: ReasonCode, _p: Any) -> None:
        # Always retryable: the reason may be another delivery's doing, not this one's.
        self._fail(LinkError(f"the connection was lost: {describe(code)}", True))

    def _on_publish(self, _c: Any, _d: Any, mid: int, code: ReasonCode, _p: Any) -> None:
        with self._cond:
            ack = self._acks.setdefault(mid, _Ack())
        ack.code = code
        ack.done.set()


class LinkPool:
    """The live link per broker; a failed one is replaced (and closed) when next asked for."""

    def __init__(self, make: Callable[[Broker], Link]) -> None:
        self._make = make
        self._links: dict[Broker, Link] = {}
        self._lock = threading.Lock()

    def get(self, broker: Broker) -> Link:
        """The live link to ``broker``, a new (not yet connected) one if there is none."""
        stale = None
        with self._lock:
            link = self._links.get(broker)
            if link is None or link.failed:
                stale, link = link, self._make(broker)
                self._links[broker] = link
        if stale is not None:
            stale.close()
        return link

    def close(self) -> None:
        """Close every link."""
        with self._lock:
            links, self._links = list(self._links.values()), {}
        for link in links:
            link.close()


def _packet_size(topic: str, payload: bytes, properties: Properties) -> int:
    """The PUBLISH packet's size: fixed header, topic, packet id, properties, payload."""
    body = 2 + len(topic.encode("utf-8")) + 2 + len(properties.pack()) + len(payload)
    length_bytes = next((n for n in (1, 2, 3, 4) if body < 128**n), 5)
    return 1 + length_bytes + body


def _network_error(exc: OSError) -> str:
    """Name a connect failure without any credentials (paho's errors carry none)."""
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, socket.gaierror):
        return f"DNS lookup failed: {exc}"
    if isinstance(exc, TimeoutError):
        return "connect timed out"
    return f"connection failed: {type(exc).__name__}: {exc}"
