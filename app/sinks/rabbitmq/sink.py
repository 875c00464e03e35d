"""The rabbitmq sink: publish the CloudEvent to an AMQP 0-9-1 exchange, confirmed (issue 15).

The recipient (``app.sinks.rabbitmq.recipient``) names the broker, the vhost, the
credentials, the exchange and the routing key. The message is persistent, mandatory and
published on a channel in confirm mode: an attempt succeeds only when the broker
confirms it. CloudEvents binds to AMQP 1.0 only, so for 0-9-1 the event goes in
structured mode: the body is the CloudEvent's JSON (what the log stores), with the
content type ``application/cloudevents+json; charset=utf-8`` and the event id as
``message_id``. Connections are pooled (``app.sinks.rabbitmq.pool``) and every attempt,
connecting included, ends by ``DELIVERY_TOTAL_TIMEOUT``.
"""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

import pika
from pika import exceptions as amqp
from pika.adapters.utils.connection_workflow import (
    AMQPConnectorPhaseErrorBase,
    AMQPConnectorStackTimeout,
)

from app.net.deadline import DeadlineExceeded, Exchange, Watchdog
from app.sinks.addresses import Network, networks
from app.sinks.base import DeliveryRequest, Envelope, Outcome, SinkType
from app.sinks.rabbitmq.pool import Link, LinkPool, RefusedAddress
from app.sinks.rabbitmq.recipient import RecipientError, Target, address, parse, recipient_error

CONTENT_TYPE = "application/cloudevents+json; charset=utf-8"
# Reply codes that the same message will meet again: a wrong name, login or permission, a
# message the broker will never take. Others (320 forced close, 541 internal error...) retry.
PERMANENT_CODES = frozenset({311, 402, 403, 404, 406, 530, 540})
_BROKER_CLOSE = re.compile(r"ConnectionClosedByBroker: \((\d+)\) '(.*)'", re.DOTALL)
_TIMEOUTS = (DeadlineExceeded, AMQPConnectorStackTimeout, socket.timeout)


class RabbitMqSink:
    """Publishes with publisher confirms over pooled connections, shared by every thread."""

    name = "rabbitmq"

    def __init__(
        self, total_timeout: float = 15.0, allowed: tuple[Network, ...] = (), pool_size: int = 32
    ) -> None:
        if total_timeout <= 0:
            raise ValueError(f"total_timeout must be positive, got {total_timeout!r}")
        self.total_timeout = total_timeout
        self._watchdog = Watchdog("rabbitmq-deadline")
        self.pool = LinkPool(allowed, self._watchdog, pool_size, blocked_timeout=total_timeout)

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Publish the event to ``request.recipient``; every failure becomes an Outcome."""
        started = time.monotonic()
        try:
            target = parse(request.recipient)
            body = message_body(request.event)
        except RecipientError as exc:  # saved before this check existed, or edited in the DB
            outcome = Outcome(False, False, f"not a rabbitmq recipient: {exc}")
        except (TypeError, ValueError) as exc:
            outcome = Outcome(False, False, f"cannot serialise the event: {exc}")
        else:
            properties = pika.BasicProperties(
                content_type=CONTENT_TYPE,
                delivery_mode=pika.DeliveryMode.Persistent,
                message_id=request.event.id,
            )
            deadline = started + self.total_timeout
            with self._watchdog.watch(deadline) as exchange:
                outcome = self._publish(target, body, properties, exchange)
        return replace(outcome, duration_ms=round((time.monotonic() - started) * 1000))

    def close(self) -> None:
        """Close the pooled connections and stop the watchdog."""
        self.pool.close()
        self._watchdog.close()

    def _publish(
        self, target: Target, body: bytes, properties: pika.BasicProperties, exchange: Exchange
    ) -> Outcome:
        """Borrow a link, publish and wait for the confirm; the link goes back unless it broke."""
        try:
            link = self.pool.borrow(target, exchange)
        except Exception as exc:
            return self._failure(exc, target, exchange)
        try:
            self._send(link, target, body, properties)
        except (amqp.UnroutableError, amqp.NackError) as exc:  # the channel is still sound
            self.pool.give_back(target, link, exchange)
            return self._failure(exc, target, exchange)
        except Exception as exc:
            self.pool.discard(link)
            return self._failure(exc, target, exchange)
        self.pool.give_back(target, link, exchange)
        where = f"exchange {target.exchange!r}, routing key {target.routing_key!r}"
        return Outcome(True, False, f"confirmed by the broker ({where})")

    @staticmethod
    def _send(link: Link, target: Target, body: bytes, properties: pika.BasicProperties) -> None:
        """Publish one mandatory message; returns once confirmed, raises on return or nack."""
        assert link.channel is not None  # borrow() always opens one
        link.channel.basic_publish(
            target.exchange, target.routing_key, body, properties, mandatory=True
        )

    def _failure(self, exc: Exception, target: Target, exchange: Exchange) -> Outcome:
        """The outcome of a failed attempt: a timeout if the deadline passed, else by cause."""
        if exchange.expired or isinstance(_root(exc), _TIMEOUTS):
            return Outcome(False, True, f"timed out after {self.total_timeout} s")
        return failure(exc, target)


def message_body(event: Envelope) -> bytes:
    """The structured-mode CloudEvent: compact UTF-8 JSON of exactly what the log stores."""
    return json.dumps(event.to_dict(), separators=(",", ":"), ensure_ascii=False).encode()


def failure(exc: BaseException, target: Target) -> Outcome:
    """Judge a failed publish: the broker's refusals by reply code, network trouble retries."""
    if isinstance(exc, amqp.UnroutableError):
        returned = exc.messages[0].method if exc.messages else None
        why = f"{returned.reply_code} {returned.reply_text}" if returned else "returned"
        text = (
            f"unroutable ({why}): no queue is bound to exchange {target.exchange!r}"
            f" for routing key {target.routing_key!r}"
        )
        return Outcome(False, False, text)
    if isinstance(exc, amqp.NackError):
        text = "the broker refused the message (basic.nack): a queue it routes to is full"
        return Outcome(False, True, f"{text} (x-overflow=reject-publish) or unavailable")
    if isinstance(exc, amqp.ChannelClosedByBroker):
        return _closed_by_broker("channel", exc.reply_code, exc.reply_text)
    if isinstance(exc, amqp.ConnectionClosedByBroker):
        return _closed_by_broker("connection", exc.reply_code, exc.reply_text)
    if isinstance(exc, amqp.ProbableAuthenticationError | amqp.ProbableAccessDeniedError):
        return _refused_login(exc, target)
    if isinstance(exc, amqp.AuthenticationError | RefusedAddress):
        return Outcome(False, False, str(exc))
    return Outcome(False, True, _network_error(exc, target))


def _closed_by_broker(what: str, code: int, text: str) -> Outcome:
    """The broker closed the channel or connection: retry unless the code says it is final."""
    text = f"the broker closed the {what}: {code} {text}"
    return Outcome(False, code not in PERMANENT_CODES, text)


def _refused_login(exc: BaseException, target: Target) -> Outcome:
    """pika's guess at a refused login or vhost: final only if the broker said so."""
    closed = _BROKER_CLOSE.search(str(exc))
    if closed is None:  # the link broke during the handshake: not the broker's answer
        return Outcome(False, True, f"connection lost while logging in: {exc}")
    code, text = int(closed.group(1)), closed.group(2)
    who = f"user {target.user!r} on vhost {target.vhost!r}"
    return Outcome(False, code not in PERMANENT_CODES, f"the broker refused {who}: {code} {text}")


def _network_error(exc: BaseException, target: Target) -> str:
    """Name what went wrong on the way to the broker, from pika's wrapped cause."""
    where, root = f"{target.host}:{target.port}", _root(exc)
    if isinstance(root, socket.gaierror):
        return f"DNS lookup failed for {target.host}: {root}"
    if isinstance(root, ssl.SSLError):
        return f"TLS error with {where}: {root}"
    if isinstance(root, ConnectionRefusedError):
        return f"connection refused by {where}"
    if isinstance(root, amqp.StreamLostError | ConnectionError):
        return f"connection to {where} lost: {root}"
    return f"{type(root).__name__} with {where}: {root}"


def _root(exc: BaseException) -> BaseException:
    """The cause pika wrapped a failed TCP connect in (refused, reset, timed out), else ``exc``."""
    cause = exc.args[0] if isinstance(exc, amqp.AMQPConnectionError) and exc.args else None
    return cause.exception if isinstance(cause, AMQPConnectorPhaseErrorBase) else exc


def build(config: Mapping[str, Any]) -> RabbitMqSink:
    """Build the sink from the ``DELIVERY_*`` and ``RABBITMQ_*`` settings; it connects later."""
    return RabbitMqSink(
        total_timeout=config.get("DELIVERY_TOTAL_TIMEOUT", 15.0),
        allowed=networks(config.get("DELIVERY_ALLOWED_NETWORKS") or []),
        pool_size=config.get("RABBITMQ_POOL_SIZE", 32),
    )


SINK_TYPE = SinkType("rabbitmq", "RabbitMQ (AMQP 0-9-1)", build, recipient_error, address)
