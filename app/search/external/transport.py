"""One way to send a REST request to either engine, through that engine's own client.

``connect`` picks the client by the detected engine: the ``elasticsearch`` client for
Elasticsearch, with the media types of the server's own major (its compatibility
mode: see ``engines``), and ``opensearch-py`` for OpenSearch. Both are driven through
their low-level ``perform_request``, so the index, bulk, alias and search requests
are the same JSON on every engine and only what really differs lives in ``engines``.

Every request has one wall-clock deadline, its timeout, over the whole exchange: the
clients' own timeouts bound each socket read, so a cluster (or a proxy in front of it)
that trickles a byte per read would hold a grid page for ever. Both clients' urllib3
pools are watched (``app.net.deadline``), and the watchdog shuts the socket of a
request still running at its deadline.

Errors come out as ours, whichever client raised them: ``ClusterError`` (the cluster
answered with an error status), ``ClusterTimedOut`` (no whole answer within the
request's timeout) and ``ClusterUnreachable`` (no connection, TLS failed, or an answer
we could not read). Their messages never carry a secret.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, Protocol

import elastic_transport
import elasticsearch
import opensearchpy
from urllib3.exceptions import ReadTimeoutError

from app.net.deadline import Watchdog, watch_pool
from app.search.external.config import ClusterConfig
from app.search.external.engines import Engine


class ClusterUnreachable(RuntimeError):
    """No usable answer: connection refused, TLS failed, or unreadable."""


class ClusterTimedOut(ClusterUnreachable):
    """Sent, but no answer came within the request timeout."""


class ClusterError(RuntimeError):
    """The cluster answered with an error status."""

    def __init__(self, status: int, kind: str, reason: str, body: Any) -> None:
        super().__init__(f"{status} {kind}: {reason}")
        self.status, self.kind, self.reason, self.body = status, kind, reason, body


class Rest(Protocol):
    """What the backend needs of a cluster: one request, JSON (or NDJSON lines) in and out."""

    engine: Engine

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        lines: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> Any: ...


WATCHDOG = Watchdog("search-deadline")  # one thread per process, for every cluster request


def within(seconds: float, send: Callable[[], Any]) -> Any:
    """``send()``, cut at ``seconds`` from now: ClusterTimedOut if it ran out, whatever
    the cut looked like to the client (a peer that hung up, a short answer)."""
    with WATCHDOG.watch(time.monotonic() + seconds) as exchange:
        try:
            answer = send()
        except (ClusterError, ClusterUnreachable) as exc:
            if exchange.expired and not isinstance(exc, ClusterTimedOut):
                raise ClusterTimedOut(f"no whole answer within {seconds:g} s") from None
            raise
        if exchange.expired:  # a cut body can still parse, as a short answer
            raise ClusterTimedOut(f"no whole answer within {seconds:g} s")
        return answer


class _WatchedNode(elastic_transport.Urllib3HttpNode):
    """The elasticsearch client's urllib3 node, with its pool watched."""

    def __init__(self, config: elastic_transport.NodeConfig) -> None:
        super().__init__(config)
        watch_pool(self.pool)


class _WatchedConnection(opensearchpy.Urllib3HttpConnection):
    """opensearch-py's urllib3 connection, with its pool watched."""

    def _create_urllib3_pool(self) -> None:
        super()._create_urllib3_pool()
        watch_pool(self.pool)


def connect(config: ClusterConfig, engine: Engine) -> Rest:
    """The client for ``engine``; nothing connects until the first request."""
    if engine.product == "opensearch":
        return _OpenSearchRest(config, engine)
    return _ElasticRest(config, engine)


def _payload(
    engine: Engine, body: Any, lines: list[dict[str, Any]] | None
) -> tuple[Any, dict[str, str]]:
    """The body to send (NDJSON bytes for ``lines``) and the engine's media-type headers."""
    headers = {"accept": engine.media_type()}
    if lines is not None:
        body = b"".join(json.dumps(line).encode() + b"\n" for line in lines)
        headers["content-type"] = engine.media_type(ndjson=True)
    elif body is not None:
        headers["content-type"] = engine.media_type()
    return body, headers


class _ElasticRest:
    def __init__(self, config: ClusterConfig, engine: Engine) -> None:
        self.config, self.engine = config, engine
        options: dict[str, Any] = {"request_timeout": config.timeout, "max_retries": 1}
        options["node_class"] = _WatchedNode
        options["headers"] = config.authorization()
        if config.ca_certs:
            options["ca_certs"] = config.ca_certs
        if not config.verify_certs:
            options |= {"verify_certs": False, "ssl_show_warn": False}
        self.client = elasticsearch.Elasticsearch(config.url, **options)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        lines: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """See ``Rest.request``."""
        seconds = self.config.timeout if timeout is None else timeout
        body, headers = _payload(self.engine, body, lines)
        client = self.client.options(request_timeout=seconds)
        return within(seconds, lambda: self._send(client, method, path, params, body, headers))

    def _send(
        self, client: Any, method: str, path: str, params: Any, body: Any, headers: Any
    ) -> Any:
        try:
            return client.perform_request(
                method, path, params=params, headers=headers, body=body
            ).body
        except elasticsearch.ApiError as exc:
            raise _error(exc.status_code, exc.body, self.config) from None
        except elastic_transport.ConnectionTimeout as exc:
            read = any(isinstance(e, ReadTimeoutError) for e in (*exc.errors, exc.__cause__))
            kind = ClusterTimedOut if read else ClusterUnreachable
            raise kind(self.config.mask(f"no answer in time: {exc}")) from None
        except (elastic_transport.TransportError, elasticsearch.UnsupportedProductError) as exc:
            raise ClusterUnreachable(self.config.mask(str(exc))) from None


class _OpenSearchRest:
    def __init__(self, config: ClusterConfig, engine: Engine) -> None:
        self.config, self.engine = config, engine
        options: dict[str, Any] = {"timeout": config.timeout, "max_retries": 1}
        options["connection_class"] = _WatchedConnection
        options["headers"] = config.authorization()
        if config.url.startswith("https:"):
            options |= {"use_ssl": True, "verify_certs": config.verify_certs}
            options |= {"ssl_show_warn": False} if not config.verify_certs else {}
            if config.ca_certs:
                options["ca_certs"] = config.ca_certs
        self.client = opensearchpy.OpenSearch(hosts=[config.url], **options)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        lines: list[dict[str, Any]] | None = None,
        timeout: float | None = None,
    ) -> Any:
        """See ``Rest.request``."""
        seconds = self.config.timeout if timeout is None else timeout
        body, headers = _payload(self.engine, body, lines)
        return within(seconds, lambda: self._send(method, path, params, body, headers, seconds))

    def _send(
        self, method: str, path: str, params: Any, body: Any, headers: Any, seconds: float
    ) -> Any:
        try:
            return self.client.transport.perform_request(
                method, path, params=params, body=body, headers=headers, timeout=seconds
            )
        except opensearchpy.ConnectionTimeout as exc:
            kind = ClusterTimedOut if isinstance(exc.info, ReadTimeoutError) else ClusterUnreachable
            raise kind(self.config.mask(f"no answer in time: {exc}")) from None
        except opensearchpy.ConnectionError as exc:
            raise ClusterUnreachable(self.config.mask(str(exc))) from None
        except opensearchpy.TransportError as exc:
            status = exc.status_code if isinstance(exc.status_code, int) else 0
            if not status:
                raise ClusterUnreachable(self.config.mask(str(exc))) from None
            raise _error(status, exc.info, self.config) from None


def _error(status: int, body: Any, config: ClusterConfig) -> ClusterError:
    """A ClusterError from an error answer in either engine's shape (object or string)."""
    error = body.get("error", body) if isinstance(body, dict) else body
    if isinstance(error, dict):
        kind, reason = str(error.get("type", "error")), str(error.get("reason", ""))
        causes = error.get("root_cause") or []
        if causes and isinstance(causes[0], dict) and kind.endswith("phase_execution_exception"):
            kind, reason = str(causes[0].get("type", kind)), str(causes[0].get("reason", reason))
    else:
        kind, reason = "error", str(error)
    return ClusterError(status, kind, config.mask(reason), body)
