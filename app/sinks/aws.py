"""What the AWS sinks share: one lazily built boto3 client each, and AWS errors as Outcomes.

A client is built on the first delivery, not at app start, so a missing region or
credentials never stops the app: it shows up as a failed, permanent delivery.
botocore retries nothing (one attempt per delivery): our own schedule decides retries.
botocore's timeouts bound one socket read each, so every call also runs under one total
deadline (``app.net.deadline``), kept by one watchdog thread per sink.
"""

from __future__ import annotations

import functools
import json
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    NoCredentialsError,
    PartialCredentialsError,
)
from botocore.exceptions import ConnectionError as AwsConnectionError

from app.net.deadline import DeadlineExceeded, Watchdog, watched_pool
from app.sinks.base import Envelope, Outcome

if TYPE_CHECKING:
    from boto3.session import Session

DEFAULT_REGION = "us-east-1"
# Codes that mean "AWS is busy or briefly broken": the same call can succeed later.
TRANSIENT_CODES = frozenset(
    {
        "InternalError",
        "InternalFailure",
        "InternalServerError",
        "RequestTimeout",
        "RequestTimeoutException",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "TooManyRequestsException",
        "RequestThrottledException",
        "RequestLimitExceeded",
        "SlowDown",
    }
)


class AwsClient:
    """One boto3 client for one service, built once on first use and then shared.

    boto3 clients are thread-safe; building one (from a Session, which is not) happens
    under a lock. ``config`` is ``app.config``: ``AWS_REGION``, ``AWS_ENDPOINT_URL``,
    ``DELIVERY_CONNECT_TIMEOUT``, ``DELIVERY_TOTAL_TIMEOUT`` (the deadline of a whole
    call, see ``call``) and ``DELIVERY_CONCURRENCY`` (connection pool size). ``session``
    replaces the default boto3 session, whose credentials come from the standard AWS chain.
    """

    def __init__(
        self, service: str, config: Mapping[str, Any], session: Session | None = None
    ) -> None:
        self.service = service
        self.region = config.get("AWS_REGION") or DEFAULT_REGION
        self.endpoint_url = config.get("AWS_ENDPOINT_URL") or None
        self.connect_timeout = float(config.get("DELIVERY_CONNECT_TIMEOUT", 5.0))
        self.total_timeout = float(config.get("DELIVERY_TOTAL_TIMEOUT", 15.0))
        self.pool_size = max(10, int(config.get("DELIVERY_CONCURRENCY", 0)))
        if self.connect_timeout <= 0 or self.total_timeout <= 0:
            timeouts = f"{self.connect_timeout!r}/{self.total_timeout!r}"
            raise ValueError(f"AWS timeouts must be positive, got {timeouts}")
        self._session = session
        self._client: Any = None
        self._lock = threading.Lock()
        self._watchdog = Watchdog(f"{service}-deadline")

    def get(self) -> Any:
        """Return the client, building it on the first call (raises BotoCoreError if it can't)."""
        client = self._client
        if client is None:
            with self._lock:
                if self._client is None:
                    self._client = self._build()
                client = self._client
        return client

    def call(self, operation: str, **params: Any) -> Any:
        """Run ``operation`` (e.g. ``"send_message"``) within ``DELIVERY_TOTAL_TIMEOUT``.

        The deadline covers connect, TLS, sending and the whole response; once it passes
        the socket is shut down and ``DeadlineExceeded`` raised, whatever botocore made
        of the cut answer.
        """
        client = self.get()
        with self._watchdog.watch(time.monotonic() + self.total_timeout) as exchange:
            try:
                result = getattr(client, operation)(**params)
            except Exception as exc:
                if exchange.expired:
                    raise self._late() from exc
                raise
        if exchange.expired:
            raise self._late()
        return result

    def _late(self) -> DeadlineExceeded:
        return DeadlineExceeded(f"timed out after {self.total_timeout} s")

    def _build(self) -> Any:
        """Make the client; boto3 is imported here so the app starts without loading it."""
        import boto3
        from botocore.config import Config

        session = self._session or boto3.session.Session()
        settings = Config(
            connect_timeout=self.connect_timeout,
            read_timeout=self.total_timeout,
            retries={"total_max_attempts": 1, "mode": "standard"},
            max_pool_connections=self.pool_size,
        )
        client = session.client(
            self.service, region_name=self.region, endpoint_url=self.endpoint_url, config=settings
        )
        # botocore shares this dict with its PoolManager: pools made from now on are watched.
        client._endpoint.http_session._pool_classes_by_scheme.update(_watched_aws_pools())
        return client


@functools.cache
def _watched_aws_pools() -> dict[str, type]:
    """botocore's own pool classes, with the deadline watch mixed in (built once)."""
    from botocore import awsrequest as aws

    return {
        "http": watched_pool(aws.AWSHTTPConnectionPool, aws.AWSHTTPConnection, "WatchedAWSPool"),
        "https": watched_pool(
            aws.AWSHTTPSConnectionPool, aws.AWSHTTPSConnection, "WatchedAWSTLSPool"
        ),
    }


def cloudevent_json(event: Envelope) -> str:
    """The structured CloudEvent as compact JSON (ASCII-only, so any AWS body accepts it)."""
    return json.dumps(event.to_dict(), separators=(",", ":"))


def error_json(code: str, message: str) -> str:
    """The ``{"code", "message"}`` text a failed AWS call is logged as, as the original did."""
    return json.dumps({"code": code, "message": message})


def http_status(response: Mapping[str, Any]) -> int | None:
    """The HTTP status of a boto3 response or error response."""
    return response.get("ResponseMetadata", {}).get("HTTPStatusCode")


def elapsed_ms(started: float) -> int:
    """Milliseconds since ``started`` (a ``time.monotonic()`` reading)."""
    return round((time.monotonic() - started) * 1000)


def failure(exc: Exception, label: str, retryable_codes: frozenset[str] = frozenset()) -> Outcome:
    """Judge an exception from an AWS call: busy or unreachable AWS retries, the rest doesn't.

    ``label`` names the service in messages; ``retryable_codes`` are the sink's own
    transient error codes, matched against both the code and SQS's ``QueryErrorCode``.
    """
    if isinstance(exc, DeadlineExceeded):
        return Outcome(False, True, str(exc))
    if isinstance(exc, NoCredentialsError | PartialCredentialsError):
        return Outcome(False, False, f"{label} connection is not configured.")
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        codes = {error.get("Code", ""), error.get("QueryErrorCode", "")}
        status = http_status(exc.response)
        retryable = bool(codes & (TRANSIENT_CODES | retryable_codes)) or (
            status is not None and (status == 429 or status >= 500)
        )
        text = error_json(error.get("Code", ""), error.get("Message", ""))
        return Outcome(False, retryable, text, status)
    text = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, AwsConnectionError | HTTPClientError):  # refused, DNS, TLS, timeouts
        return Outcome(False, True, text)
    if isinstance(exc, BotoCoreError | TypeError | ValueError):  # bad region, parameters, data
        return Outcome(False, False, text)
    return Outcome(False, True, text)  # unknown: as a raising sink is treated, try again
