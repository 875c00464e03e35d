"""One way to send a REST request to either engine, through that engine's own client.

``connect`` picks the client by the detected engine: the ``elasticsearch`` client for
Elasticsearch, with the media types of the server's own major (its compatibility
mode: see ``engines``), and ``opensearch-py`` for OpenSearch. Both are driven through
their low-level ``perform_request``, so the index, bulk, alias and search requests
are the same JSON on every engine and only what really differs lives in ``engines``.

Errors come out as ours, whichever client raised them: ``ClusterError`` (the cluster
answered with an error status), ``ClusterTimedOut`` (no answer within the request's
timeout) and ``ClusterUnreachable`` (no connection, TLS failed, or an answer we could
not read). Their messages never carry a secret.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol

import elastic_transport
import elasticsearch
import opensearchpy
from urllib3.exceptions import ReadTimeoutError

from app.search.external.config import ClusterConfig
from app.search.external.engines import Engine
from app.search.external.handshake import auth_headers


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
        if config.api_key:
            options["api_key"] = config.api_key
        elif config.username and config.password:
            options["basic_auth"] = (config.username, config.password)
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
        body, headers = _payload(self.engine, body, lines)
        client = self.client if timeout is None else self.client.options(request_timeout=timeout)
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
        options["headers"] = auth_headers(config) if config.api_key else {}
        if config.username and config.password and not config.api_key:
            options["http_auth"] = (config.username, config.password)
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
        body, headers = _payload(self.engine, body, lines)
        try:
            return self.client.transport.perform_request(
                method, path, params=params, body=body, headers=headers, timeout=timeout
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
