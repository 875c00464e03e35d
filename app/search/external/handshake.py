"""Which engine answers at the configured URL: one ``GET /``, read as each engine writes it.

OpenSearch writes ``version.distribution: "opensearch"``; Elasticsearch (7.14 and
later) sends ``X-Elastic-Product: Elasticsearch`` and no distribution. The request is
plain urllib3 with the configured credentials and TLS, because the elasticsearch client
would refuse OpenSearch's answer before we could read it. Every failure is a
``HandshakeFailed`` whose message says what to fix, with no secret in it.
"""

from __future__ import annotations

import json
import ssl
import time
from typing import Any

import certifi
import urllib3

from app.net.deadline import WATCHED_POOLS
from app.search.external.config import ClusterConfig
from app.search.external.engines import Engine, UnsupportedEngine
from app.search.external.transport import WATCHDOG

HANDSHAKE_LIMIT = 64 * 1024  # bytes of a root answer we read at most


class HandshakeFailed(RuntimeError):
    """The cluster could not be identified; the message says why (no secrets)."""


def detect(config: ClusterConfig, seconds: float) -> Engine:
    """The supported engine at ``config.url``, or HandshakeFailed / UnsupportedEngine."""
    if config.problem:
        raise HandshakeFailed(config.problem)
    try:
        status, headers, raw = _get_root(config, seconds)
    except urllib3.exceptions.HTTPError as exc:
        raise HandshakeFailed(config.mask(_network_reason(exc))) from None
    if status in (401, 403):
        raise HandshakeFailed(
            f"the cluster refused our credentials ({status}): check SEARCH_USERNAME and "
            "SEARCH_PASSWORD, or SEARCH_API_KEY, and the user's privileges"
        )
    if status != 200:
        raise HandshakeFailed(f"the cluster's root endpoint answered {status}, not 200")
    try:
        root = json.loads(raw)
        version = root["version"]
        number = str(version["number"])
    except (ValueError, KeyError, TypeError):
        raise HandshakeFailed("the URL does not answer as Elasticsearch or OpenSearch") from None
    if version.get("distribution") == "opensearch":
        return Engine("opensearch", number).check_supported()
    if headers.get("x-elastic-product") == "Elasticsearch":
        return Engine("elasticsearch", number).check_supported()
    raise UnsupportedEngine(
        f"the cluster (version {number}) is neither OpenSearch nor an Elasticsearch that "
        "sends X-Elastic-Product: use Elasticsearch 8 or 9, or OpenSearch 2 or 3"
    )


def _get_root(config: ClusterConfig, seconds: float) -> tuple[int, Any, bytes]:
    """Status, headers and body of ``GET /``, all within ``seconds`` of wall-clock time."""
    timeout = urllib3.Timeout(total=seconds)
    with (
        WATCHDOG.watch(time.monotonic() + seconds) as exchange,
        urllib3.PoolManager(ssl_context=ssl_context(config), retries=False) as pool,
    ):
        pool.pool_classes_by_scheme = WATCHED_POOLS
        try:
            answer = _read_root(pool, config, timeout)
        except urllib3.exceptions.HTTPError:
            if not exchange.expired:
                raise
        if exchange.expired:  # whatever the cut looked like, even a short answer
            raise urllib3.exceptions.TimeoutError("the deadline passed")
        return answer


def _read_root(
    pool: urllib3.PoolManager, config: ClusterConfig, timeout: urllib3.Timeout
) -> tuple[int, Any, bytes]:
    response = pool.request(
        "GET",
        config.url + "/",
        headers=config.authorization() | {"Accept": "application/json"},
        timeout=timeout,
        preload_content=False,
    )
    try:
        return response.status, response.headers, response.read(HANDSHAKE_LIMIT)
    finally:
        response.release_conn()


def ssl_context(config: ClusterConfig) -> ssl.SSLContext:
    """System and certifi roots, plus ``SEARCH_CA_CERTS``; no checks if verification is off."""
    context = ssl.create_default_context(cafile=certifi.where())
    if config.ca_certs:
        context.load_verify_locations(cafile=config.ca_certs)
    if not config.verify_certs:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _network_reason(exc: urllib3.exceptions.HTTPError) -> str:
    reason = getattr(exc, "reason", None) or exc
    if isinstance(reason, urllib3.exceptions.SSLError) or "CERTIFICATE" in str(reason):
        return f"TLS failed ({reason}): set SEARCH_CA_CERTS to the cluster's CA file"
    # urllib3's NewConnectionError is also a TimeoutError: ask about it first.
    if isinstance(reason, urllib3.exceptions.NewConnectionError | ConnectionRefusedError):
        return "connection refused or host unreachable"
    if isinstance(reason, urllib3.exceptions.TimeoutError | TimeoutError):
        return "no answer in time (ELASTICSEARCH_TIMEOUT)"
    return f"cannot reach the cluster: {reason}"
