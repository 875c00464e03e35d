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

import threading
import time
from collections.abc import Callable
from typing import Any

import paho.mqtt.client as paho
from paho.mqtt.enums import MQTTErrorCode
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from app.sinks.addresses import Network
from app.sinks.mqtt.client import (
    Broker,
    ForbiddenBroker,
    GuardedClient,
    describe,
    network_error,
    new_client,
    packet_size,
    retryable,
)

KEEPALIVE = 60
DEFAULT_INFLIGHT = 20  # paho's, for a broker that announces no Receive Maximum


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
        self._closed = False
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
        size, limit = packet_size(topic, payload, properties), self.max_packet
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
        """Disconnect and stop the network thread, once, whoever asks (no-op if never opened)."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
        self._fail(LinkError("the connection was closed", True))
        self._client.disconnect()
        self._client.loop_stop()

    def _make_client(self, allowed: tuple[Network, ...]) -> GuardedClient:
        client = new_client(self.broker, allowed)
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
        except ForbiddenBroker as exc:
            self._fail(LinkError(str(exc), False))
            return
        except OSError as exc:  # refused, DNS, TLS, timed out
            self._fail(LinkError(network_error(exc), True))
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
