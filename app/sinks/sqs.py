"""The sqs sink: send the CloudEvent as one message to an SQS queue (seed-spec §4.4).

The subscription's recipient is the queue URL. The body is the structured CloudEvent;
one over the size limit is refused before anything is sent, as it could never fit.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import replace
from typing import Any
from urllib.parse import urlsplit

from app.sinks.aws import AwsClient, cloudevent_json, elapsed_ms, failure, http_status
from app.sinks.base import DeliveryRequest, Outcome, SinkType

MAX_MESSAGE_BYTES = 256 * 1024  # the original's limit (and SQS's before 2025)
# SQS's own transient codes, in both spellings: JSON shape name and query-compatible code.
RETRYABLE_CODES = frozenset(
    {
        "RequestThrottled",
        "KmsThrottled",
        "KmsDisabled",  # as the original: the key can be re-enabled before retries run out
        "KMS.ThrottlingException",
        "KMS.DisabledException",
    }
)
_QUEUE_PATH = re.compile(r"/[A-Za-z0-9_-]{1,64}/[A-Za-z0-9_-]{1,80}(\.fifo)?")


class SqsSink:
    """Delivers through one shared, thread-safe SQS client."""

    name = "sqs"

    def __init__(self, client: AwsClient, max_message_bytes: int = MAX_MESSAGE_BYTES) -> None:
        if max_message_bytes < 1:
            raise ValueError(f"max_message_bytes must be >= 1, got {max_message_bytes!r}")
        self.client, self.max_message_bytes = client, max_message_bytes

    def deliver(self, request: DeliveryRequest) -> Outcome:
        """Send the event to the queue ``request.recipient``; every failure becomes an Outcome."""
        started = time.monotonic()
        try:
            outcome = self._send(request.recipient, cloudevent_json(request.event))
        except Exception as exc:  # never raise: a failure is an Outcome
            outcome = failure(exc, "SQS", RETRYABLE_CODES)
        return replace(outcome, duration_ms=elapsed_ms(started))

    def _send(self, queue_url: str, body: str) -> Outcome:
        """Refuse an oversized body, else send it and report the message id."""
        size, limit = len(body.encode("utf-8")), self.max_message_bytes
        if size > limit:
            return Outcome(False, False, f"the event is {size} bytes; SQS takes at most {limit}")
        response = self.client.call("send_message", QueueUrl=queue_url, MessageBody=body)
        text = json.dumps({"MessageId": response.get("MessageId")})
        return Outcome(True, False, text, http_status(response))


def recipient_error(recipient: str) -> str | None:
    """Say why ``recipient`` is not a queue URL, or None if it is one.

    Any http(s) host is accepted, not only ``sqs.<region>.amazonaws.com``, so local
    stand-ins (moto, LocalStack) work; the path must be ``/<account>/<queue name>``.
    """
    try:
        parts = urlsplit(recipient)
    except ValueError:  # e.g. an unclosed IPv6 bracket
        parts = urlsplit("")
    if (
        parts.scheme in ("http", "https")
        and parts.hostname
        and _QUEUE_PATH.fullmatch(parts.path)
        and not parts.query
        and not parts.fragment
    ):
        return None
    return (
        f"recipient_url {recipient!r} is not an SQS queue URL "
        "(https://sqs.<region>.amazonaws.com/<account>/<queue>), as the sqs sink needs"
    )


def build(config: Mapping[str, Any]) -> SqsSink:
    """Build the SQS sink; its client (and boto3) waits for the first delivery."""
    return SqsSink(AwsClient("sqs", config))


SINK_TYPE = SinkType("sqs", "AWS SQS", build, recipient_error)
