"""The pubsub sink: publish the event to a Google Cloud Pub/Sub topic (seed-spec §4.4).

The subscription's recipient is the topic's resource name, ``projects/<project>/topics/
<topic>``, optionally followed by ``?ordering_key=<key>`` (every message gets that key)
or ``?ordered=1`` (the key is ``<store>/<event name>``, the CloudEvent's source and type).
The message is the CloudEvent in binary mode of the CloudEvents Pub/Sub binding: the data
as UTF-8 JSON, the context attributes as ``ce-*`` attributes, ``datacontenttype`` as
``content-type``. The chain UUID is ``ce-id``. docs/sink-pubsub.md has the details.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl

from app.sinks.base import DeliveryRequest, Envelope, Outcome, SinkType
from app.sinks.pubsub.client import PublishError, PubSubClient

MAX_ORDERING_KEY_BYTES = 1024
EXPECTED = (
    "projects/<project-id>/topics/<topic>, optionally with ?ordering_key=<key> or ?ordered=1; "
    "a project id is 6 to 30 lowercase letters, digits or hyphens, starting with a letter and "
    "not ending with a hyphen (or domain.com:<project-id>); a topic is 3 to 255 letters, "
    "digits or - _ . ~ + %, starting with a letter and not with 'goog'"
)
_PROJECT = re.compile(r"([a-z0-9][a-z0-9.-]*[a-z0-9]:)?[a-z][a-z0-9-]{4,28}[a-z0-9]")
_TOPIC = re.compile(r"(?!goog)[A-Za-z][A-Za-z0-9._~+%-]{2,254}")
# Pub/Sub busy or briefly broken: the 5xx-like statuses but UNIMPLEMENTED, and 429's
# RESOURCE_EXHAUSTED. The rest (NOT_FOUND, PERMISSION_DENIED, ...) will not heal by retrying.
RETRYABLE = frozenset(
    {"UNAVAILABLE", "DEADLINE_EXCEEDED", "RESOURCE_EXHAUSTED", "INTERNAL", "ABORTED", "UNKNOWN"}
    | {"DATA_LOSS", "CANCELLED"}
)
REASONS = {
    "NOT_FOUND": "the topic, or its project, does not exist",
    "PERMISSION_DENIED": "the credentials may not publish to this topic (roles/pubsub.publisher)",
    "UNAUTHENTICATED": "the credentials are missing or were refused",
    "INVALID_ARGUMENT": "Pub/Sub refuses this message (too large, or a bad attribute or key)",
    "FAILED_PRECONDITION": "the topic cannot take this message (e.g. its schema or KMS key)",
    "UNAVAILABLE": "Pub/Sub is unavailable or could not be reached",
    "DEADLINE_EXCEEDED": "no answer within the total timeout",
    "RESOURCE_EXHAUSTED": "a quota or the publish rate is exhausted for now",
}


@dataclass(frozen=True)
class Target:
    """A parsed recipient: the topic, and how to pick each message's ordering key."""

    topic: str
    ordering_key: str = ""
    ordered: bool = False

    def key_for(self, event: Envelope) -> str:
        """The ordering key of ``event``'s message ("" for none)."""
        if self.ordered:
            return f"{event.source}/{event.type}"
        return self.ordering_key


class PubSubSink:
    """Publishes through one shared, thread-safe ``PubSubClient``, one RPC per delivery."""

    name = "pubsub"

    def __init__(self, client: PubSubClient, total_timeout: float = 15.0) -> None:
        if total_timeout <= 0:
            raise ValueError(f"DELIVERY_TOTAL_TIMEOUT must be positive, got {total_timeout!r}")
        self.client, self.total_timeout = client, total_timeout

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Publish the event to the topic ``request.recipient``; every failure is an Outcome."""
        started = time.monotonic()
        try:
            target = parse(request.recipient)
            deadline = started + self.total_timeout
            message_id = self.client.publish(target.topic, message(request.event, target), deadline)
            outcome = Outcome(True, False, json.dumps({"messageId": message_id}), 200)
        except PublishError as exc:
            outcome = self._failure(exc)
        except (ValueError, TypeError) as exc:  # a bad recipient, data that cannot be encoded
            outcome = Outcome(False, False, f"{type(exc).__name__}: {exc}")
        except Exception as exc:  # never raise; unknown: as a raising sink is treated, retry
            outcome = Outcome(False, True, f"{type(exc).__name__}: {exc}")
        return replace(outcome, duration_ms=round((time.monotonic() - started) * 1000))

    def _failure(self, exc: PublishError) -> Outcome:
        """A failed publish as an Outcome: retryable only when Pub/Sub is busy or unreachable."""
        reason = REASONS.get(exc.code, "")
        if exc.code == "DEADLINE_EXCEEDED":
            reason = f"{reason} ({self.total_timeout} s)"
        text = json.dumps({"code": exc.code, "reason": reason, "message": exc.message})
        return Outcome(False, exc.code in RETRYABLE, text, exc.status)


def message(event: Envelope, target: Target) -> dict[str, Any]:
    """The Pub/Sub message of ``event``: binary mode of the CloudEvents Pub/Sub binding."""
    attributes = {f"ce-{name}": value for name, value in event.attributes().items()}
    attributes["content-type"] = attributes.pop("ce-datacontenttype")
    data = json.dumps(event.data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return {"data": data, "attributes": attributes, "ordering_key": target.key_for(event)}


def parse(recipient: str) -> Target:
    """The topic and ordering of ``recipient``; ValueError saying what is wrong with it."""
    path, _, query = recipient.partition("?")
    parts = path.split("/")
    if len(parts) != 4 or parts[0] != "projects" or parts[2] != "topics":
        raise ValueError("it is not projects/<project-id>/topics/<topic>")
    if not _PROJECT.fullmatch(parts[1]):
        raise ValueError(f"{parts[1]!r} is not a project id")
    if not _TOPIC.fullmatch(parts[3]):
        raise ValueError(f"{parts[3]!r} is not a topic name")
    return Target(path, **_ordering(query))


def _ordering(query: str) -> dict[str, Any]:
    """``ordering_key`` or ``ordered`` from the recipient's query string, checked."""
    if not query:
        return {}
    try:
        params = parse_qsl(query, keep_blank_values=True, strict_parsing=True)
    except ValueError:
        raise ValueError(f"?{query} is not a query string") from None
    if len(params) != 1 or params[0][0] not in ("ordering_key", "ordered"):
        raise ValueError("the query may only be ?ordering_key=<key> or ?ordered=1")
    name, value = params[0]
    if name == "ordered":
        if value != "1":
            raise ValueError("ordered may only be 1")
        return {"ordered": True}
    if not 1 <= len(value.encode("utf-8", "surrogatepass")) <= MAX_ORDERING_KEY_BYTES:
        raise ValueError(f"an ordering key is 1 to {MAX_ORDERING_KEY_BYTES} bytes")
    return {"ordering_key": value}


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not a Pub/Sub topic for this sink, or None if it is one."""
    try:
        parse(recipient)
    except ValueError as exc:
        return (
            f"recipient_url {recipient!r} is not a Pub/Sub topic for the pubsub sink ({exc}); "
            f"expected {EXPECTED}"
        )
    return None


def build(config: Mapping[str, Any]) -> PubSubSink:
    """Build the Pub/Sub sink; its client (and the google libraries) wait for a delivery."""
    return PubSubSink(PubSubClient(config), float(config.get("DELIVERY_TOTAL_TIMEOUT", 15.0)))


SINK_TYPE = SinkType("pubsub", "Google Cloud Pub/Sub", build, recipient_error)
