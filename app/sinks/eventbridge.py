"""The eventbridge sink: put the CloudEvent on an EventBridge bus (seed-spec §4.4).

The subscription's recipient is the bus: its name or its ARN. Each event becomes one
``PutEvents`` entry whose ``Detail`` is the structured CloudEvent and whose
``DetailType`` is the event name, so rules can match on either.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from app.sinks.aws import AwsClient, cloudevent_json, elapsed_ms, error_json, failure, http_status
from app.sinks.base import DeliveryRequest, Outcome, SinkType

DEFAULT_SOURCE = "async-events"
# A failed entry is worth retrying only for these (the original read the wrong variable).
RETRYABLE_ENTRY_ERRORS = frozenset({"InternalFailure", "ThrottlingException"})
_BUS_NAME = re.compile(r"[A-Za-z0-9/_.-]{1,256}")
# The account is not checked for digits: the original README's own example is
# arn:aws:events:ap-southeast-2:ACCOUNT_ID:rule/BUS_NAME, and it must stay valid.
_BUS_ARN = re.compile(
    r"arn:aws[a-z-]*:events:[a-z0-9-]+:[A-Za-z0-9_-]+:(event-bus|rule)/[A-Za-z0-9/_.-]{1,256}"
)


class EventBridgeSink:
    """Delivers through one shared, thread-safe EventBridge client."""

    name = "eventbridge"

    def __init__(self, client: AwsClient, source: str = DEFAULT_SOURCE) -> None:
        if not source:
            raise ValueError("EVENTBRIDGE_SOURCE must not be empty")
        self.client, self.source = client, source

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Put the event on the bus ``request.recipient``; every failure becomes an Outcome."""
        started = time.monotonic()
        try:
            entry = {
                "Source": self.source,
                "DetailType": request.event.type,
                "Detail": cloudevent_json(request.event),
                "EventBusName": request.recipient,
            }
            response = self.client.call("put_events", Entries=[entry])
            outcome = entry_outcome(response)
        except Exception as exc:  # never raise: a failure is an Outcome
            outcome = failure(exc, "EventBridge")
        return replace(outcome, duration_ms=elapsed_ms(started))


def entry_outcome(response: Mapping[str, Any]) -> Outcome:
    """A 200 answer can still hold a failed entry: look at the entry, not just the call."""
    status = http_status(response)
    entry = (response.get("Entries") or [{}])[0]  # one entry was sent
    if response.get("FailedEntryCount", 0) > 0 or "ErrorCode" in entry:
        code = entry.get("ErrorCode", "")
        text = error_json(code, entry.get("ErrorMessage", ""))
        return Outcome(False, code in RETRYABLE_ENTRY_ERRORS, text, status)
    return Outcome(True, False, json.dumps({"EventId": entry.get("EventId")}), status)


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not an event bus name or ARN, or None if it is one."""
    if _BUS_NAME.fullmatch(recipient) or _BUS_ARN.fullmatch(recipient):
        return None
    return (
        f"recipient_url {recipient!r} is not an EventBridge bus name or ARN "
        "(arn:aws:events:<region>:<account>:event-bus/<name>), as the eventbridge sink needs"
    )


def build(config: Mapping[str, Any]) -> EventBridgeSink:
    """Build the EventBridge sink; its client (and boto3) waits for the first delivery."""
    return EventBridgeSink(
        AwsClient("events", config), config.get("EVENTBRIDGE_SOURCE") or DEFAULT_SOURCE
    )


SINK_TYPE = SinkType("eventbridge", "AWS Event Bridge", build, recipient_error)
