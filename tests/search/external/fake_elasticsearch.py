"""A fake search cluster on 127.0.0.1, answering as one engine and checking every request.

Neither Elasticsearch nor OpenSearch can be installed here, so this is the one fake the
house style allows (a boundary that cannot run locally). It is a real HTTP(S) server on
an ephemeral port, speaking the part of the REST API our backend uses, as the engine
named by ``engine`` (a profile of ``fake_es_engines``: Elasticsearch 8 or 9, OpenSearch
2 or 3, or an unsupported release for the handshake). It answers with that engine's
root body, headers, media-type refusals and error shapes; ``fake_es_cluster`` keeps
the state and ``fake_es_checks`` / ``fake_es_media`` / ``fake_es_dialects`` say what a
request must look like. Every departure, and every request the engine would refuse, is
recorded in ``violations``, which the tests assert empty. ``auth`` requires basic
credentials (a ``(user, password)`` pair) or an API key (the encoded string after
``ApiKey``); ``tls`` serves HTTPS from a certificate signed by ``ca_certs``. ``stop()``
makes the port refuse connections and ``start()`` brings the same port back;
``unavailable`` answers 503, as a cluster without a master does. ``search_seconds``
makes each search take that much longer (``count_seconds`` each count); a search's
``timeout`` then stops it with partial hits and ``timed_out: true`` unless
``honours_timeout`` is off. ``max_clause_count`` is the cluster's maxClauseCount.
``searches`` keeps every search body it was sent. ``trickle = (suffix, seconds)`` sends
the answer to each request whose path ends with ``suffix`` one byte at a time, status
line and headers included, as a cluster behind a choked proxy does.
"""

from __future__ import annotations

import base64
import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import urllib3

from app.search.external.config import ClusterConfig
from tests.search.external import fake_es_media as media
from tests.search.external.fake_es_cluster import Cluster, FakeError
from tests.search.external.fake_es_engines import OPENSEARCH, PROFILES
from tests.search.external.fake_es_replies import Reply, error, unauthorized
from tests.search.external.fake_es_routes import Routes, Slow
from tests.search.external.fake_es_server import Server, handler
from tests.search.external.fake_es_tls import certificates

REAL_CLUSTER = os.environ.get("ELASTICSEARCH_URL") or os.environ.get("OPENSEARCH_URL") or ""


@contextmanager
def cluster(
    prefix: str, engine: str = "elasticsearch-9", **options: Any
) -> Iterator[tuple[str, FakeElasticsearch | None]]:
    """``(url, fake)`` for a test: the real cluster at ``ELASTICSEARCH_URL`` or
    ``OPENSEARCH_URL`` when set (fake None), else a fake of ``engine`` started here,
    which must end without violations."""
    if REAL_CLUSTER:
        yield REAL_CLUSTER, None
        return
    server = FakeElasticsearch(prefix, engine, **options).start()
    try:
        yield server.url, server
    finally:
        server.stop()
    assert server.violations == [], server.violations


def real_engine(url: str) -> str | None:
    """The profile name (``opensearch-2``…) of the cluster at ``url``, None if it does not
    answer its root endpoint as one of ours would."""
    config = ClusterConfig.from_config({"ELASTICSEARCH_URL": url})
    if config is None or config.problem:
        return None
    headers = {"Accept": "application/json", **config.authorization()}
    try:
        answer = urllib3.request("GET", config.url, headers=headers, timeout=5)
        version = answer.json()["version"]
        return f"{version.get('distribution', 'elasticsearch')}-{version['number'].split('.')[0]}"
    except (urllib3.exceptions.HTTPError, ValueError, KeyError, TypeError):
        return None


class FakeElasticsearch:
    """One fake cluster for indices named ``{prefix}_async_event_*``."""

    def __init__(
        self,
        prefix: str,
        engine: str = "elasticsearch-9",
        auth: tuple[str, str] | str | None = None,
        tls: bool = False,
    ) -> None:
        if engine not in PROFILES:
            raise ValueError(f"engine {engine!r} is not one of {sorted(PROFILES)}")
        self.prefix, self.engine, self.auth, self.tls = prefix, PROFILES[engine], auth, tls
        if isinstance(auth, str) and self.engine.product == OPENSEARCH:
            raise ValueError("OpenSearch's security plugin takes no ApiKey (see fake_es_replies)")
        self.cluster = Cluster()
        self.routes = Routes(self)
        self.violations: list[str] = []
        self.requests: list[str] = []
        self.unavailable = False
        self.search_seconds = 0.0
        self.count_seconds = 0.0
        self.searches: list[dict[str, Any]] = []
        self.honours_timeout = True
        self.max_clause_count = 1024  # the floor; Elasticsearch's grows with the heap
        self.trickle: tuple[str, float] | None = None  # (path suffix, seconds per byte)
        self.port = 0
        self._server: Server | None = None

    @property
    def url(self) -> str:
        """Where the client connects."""
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def ca_certs(self) -> str:
        """The PEM file of the CA that signed the HTTPS certificate."""
        return str(certificates().ca)

    def start(self) -> FakeElasticsearch:
        """Listen (again, on the same port after ``stop``)."""
        server = Server(("127.0.0.1", self.port), handler(self))
        if self.tls:  # the handshake happens in the request's thread, on first read
            context = certificates().server_context()
            server.socket = context.wrap_socket(
                server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = server.server_address[1]
        self._server = server
        serve = server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop listening: connections are refused until ``start``."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def violate(self, problem: str) -> None:
        """Record a request that was not as intended."""
        self.violations.append(f"{self.requests[-1] if self.requests else '?'}: {problem}")

    def answer(self, method: str, target: str, headers: Any, raw: bytes) -> Reply:
        """The answer to one request (after the time a slow search takes)."""
        reply = self._answer(method, target, headers, raw)
        if isinstance(reply.body, Slow):
            time.sleep(max(0.0, reply.body.at - time.monotonic()))
            reply.body = reply.body.body
        return reply

    def _answer(self, method: str, target: str, headers: Any, raw: bytes) -> Reply:
        url = urlsplit(target)
        parts = [unquote(p) for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.cluster.lock:
            self.requests.append(f"{method} {url.path}")
            if not self._authorized(headers.get("authorization")):
                self.violate(f"refused by {self.engine.name}: credentials missing or wrong")
                return unauthorized(self.engine, target, headers.get("authorization"))
            refused = media.refusal(self.engine, headers, bool(raw))
            if refused is not None:
                self.violate(f"refused by {self.engine.name}: {json.dumps(refused.body)}")
                return refused
            for problem in media.client_problems(self.engine, parts, headers, bool(raw)):
                self.violate(problem)
            if self.unavailable:
                return Reply(503, self._no_master())
            try:
                return Reply(200, self.routes.dispatch(method, parts, params, raw))
            except FakeError as exc:
                body = exc.body or error(exc.status, exc.kind, exc.reason, exc.caused_by)
                return Reply(exc.status, body)

    def _authorized(self, header: str | None) -> bool:
        if self.auth is None:
            return True
        if isinstance(self.auth, str):
            return header == f"ApiKey {self.auth}"
        wanted = base64.b64encode(":".join(self.auth).encode()).decode()
        return header is not None and header.lower().startswith("basic ") and header[6:] == wanted

    def _no_master(self) -> dict[str, Any]:
        # OpenSearch 2.0 renamed "master" to "cluster manager", exceptions included
        # (https://github.com/opensearch-project/OpenSearch/issues/472); the exact
        # exception name on 2.x is from memory, not confirmed here.
        kind = "master_not_discovered_exception"
        if self.engine.product == OPENSEARCH and self.engine.major >= 2:
            kind = "cluster_manager_not_discovered_exception"
        return error(503, kind, "fake is unavailable")
