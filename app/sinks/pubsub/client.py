"""The Pub/Sub publisher the pubsub sink shares: one GAPIC client, built on first use.

One delivery is one ``Publish`` RPC on Google's generated (GAPIC) client, not on the
batching high-level client, so an attempt is a single request with a gRPC deadline:
the time left of the total timeout covers connecting, authenticating and the answer.
The client retries nothing (``retry=None``): our own schedule decides retries.

Credentials, in this order: ``PUBSUB_EMULATOR_HOST`` (a plain-text channel with no
credentials, as the official client does for the emulator); the key file
``PUBSUB_CREDENTIALS_FILE``; else Application Default Credentials (the file in
``GOOGLE_APPLICATION_CREDENTIALS``, gcloud's login, or the metadata server).
The google libraries are imported on the first delivery, so the app starts without them.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Mapping
from typing import Any

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # Pub/Sub refuses a larger Publish request
BUILD_RETRY_SECONDS = 30.0  # a client that could not be built is not tried again before
# gRPC waits up to 120 s between reconnects, failing every call meanwhile: after an outage
# the deliveries would keep failing, and dying, long after Pub/Sub is back.
CHANNEL_OPTIONS = [("grpc.max_reconnect_backoff_ms", 2000)]


class PublishError(Exception):
    """A publish that failed: the gRPC status name, the server's message, its HTTP status."""

    def __init__(self, code: str, message: str, status: int | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.code, self.message, self.status = code, message, status


class PubSubClient:
    """A thread-safe publisher: the GAPIC client is built once under a lock, then shared.

    gRPC channels are thread-safe and reconnect by themselves; a forked child builds its
    own, as a channel does not survive a fork. A client that could not be built (no
    usable credentials) answers the same error for ``BUILD_RETRY_SECONDS`` rather than
    looking for credentials again on every delivery.
    """

    def __init__(self, config: Mapping[str, Any], max_request_bytes: int = MAX_REQUEST_BYTES):
        self.emulator_host = config.get("PUBSUB_EMULATOR_HOST") or None
        self.credentials_file = config.get("PUBSUB_CREDENTIALS_FILE") or None
        self.max_request_bytes = max_request_bytes
        self._client: Any = None
        self._pid = 0
        self._failed: tuple[float, PublishError] | None = None
        self._lock = threading.Lock()

    def publish(self, topic: str, message: Mapping[str, Any], deadline: float) -> str:
        """Publish one message (``data``, ``attributes``, ``ordering_key``); its message id.

        ``deadline`` is a ``time.monotonic()`` reading the whole call must end by.
        Raises ``PublishError`` for every failure, a timeout included.
        """
        from google.api_core import exceptions
        from google.pubsub_v1 import PublishRequest

        client = self.get()
        request = PublishRequest(topic=topic, messages=[message])
        size, limit = PublishRequest.pb(request).ByteSize(), self.max_request_bytes
        if size > limit:
            why = f"the event makes a {size}-byte request; Pub/Sub takes at most {limit}"
            raise PublishError("INVALID_ARGUMENT", why)
        left = deadline - time.monotonic()
        if left <= 0:
            raise PublishError("DEADLINE_EXCEEDED", "no time left to publish", 504)
        try:
            response = client.publish(request=request, timeout=left, retry=None)
        except exceptions.GoogleAPICallError as exc:
            code = exc.grpc_status_code.name if exc.grpc_status_code else "UNKNOWN"
            raise PublishError(code, exc.message, int(exc.code) if exc.code else None) from exc
        return response.message_ids[0]

    def get(self) -> Any:
        """The GAPIC client, built on first use (raises ``PublishError`` if it cannot be)."""
        client = self._client
        if client is not None and self._pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._pid != os.getpid():
                self._client, self._pid = self._build_once(), os.getpid()
            return self._client

    def _build_once(self) -> Any:
        """Build the client, or raise the last build's error while it is fresh (lock held)."""
        now = time.monotonic()
        if self._failed and now - self._failed[0] < BUILD_RETRY_SECONDS:
            raise self._failed[1]
        try:
            client = self._build()
        except PublishError as exc:
            self._failed = (now, exc)
            raise
        self._failed = None
        return client

    def _build(self) -> Any:
        """A PublisherClient for the emulator, or for Google with the configured credentials."""
        import grpc
        from google.auth.exceptions import DefaultCredentialsError
        from google.pubsub_v1 import PublisherClient
        from google.pubsub_v1.services.publisher.transports import PublisherGrpcTransport

        if self.emulator_host:
            channel = grpc.insecure_channel(self.emulator_host, options=CHANNEL_OPTIONS)
            return PublisherClient(transport=PublisherGrpcTransport(channel=channel))

        def secure_channel(*args: Any, options: list, **kwargs: Any) -> grpc.Channel:
            options = [*options, *CHANNEL_OPTIONS]
            return PublisherGrpcTransport.create_channel(*args, options=options, **kwargs)

        try:
            transport = PublisherGrpcTransport(
                credentials=self._credentials(), channel=secure_channel, always_use_jwt_access=True
            )
        except DefaultCredentialsError as exc:
            raise PublishError("UNAUTHENTICATED", f"no usable credentials: {exc}") from exc
        return PublisherClient(transport=transport)

    def _credentials(self) -> Any:
        """The key file's service account; None lets the client find the default credentials.

        Only a service-account key is read from PUBSUB_CREDENTIALS_FILE, as Google advises
        for a file from configuration; other kinds go through GOOGLE_APPLICATION_CREDENTIALS.
        """
        if not self.credentials_file:
            return None
        from google.oauth2 import service_account

        try:
            return service_account.Credentials.from_service_account_file(self.credentials_file)
        except (OSError, ValueError) as exc:  # missing, unreadable, not JSON, not a key
            why = f"PUBSUB_CREDENTIALS_FILE is not a service-account key: {exc}"
            raise PublishError("UNAUTHENTICATED", why) from exc
