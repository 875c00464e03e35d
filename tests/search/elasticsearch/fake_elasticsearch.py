"""A fake Elasticsearch 9 on 127.0.0.1 that the official client accepts, checking every request.

Elasticsearch cannot be installed here, so this is the one fake the house style allows
(a boundary that cannot run locally). It is a real HTTP server on an ephemeral port,
speaking the part of the REST API our backend uses; ``fake_es_cluster`` answers as
Elasticsearch would and ``fake_es_checks`` says what a request must look like. Every
departure is recorded in ``violations``, which the tests assert empty. ``stop()`` makes
the port refuse connections and ``start()`` brings the same port back; ``unavailable``
answers 503 instead, as a cluster without a master does. ``search_seconds`` makes each
search take that much longer, as on a big index (``count_seconds`` each count, which
tracks every hit); a search's ``timeout`` then stops it with partial hits and
``timed_out: true``, as Elasticsearch does, unless ``honours_timeout`` is off (a
cluster too busy to stop in time). A query of more than ``max_clause_count`` leaves is
refused with Elasticsearch's 400. ``searches`` keeps every search body it was sent.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tests.search.elasticsearch.fake_es_cluster import Cluster, FakeError
from tests.search.elasticsearch.fake_es_routes import Routes, Slow

COMPAT = "compatible-with=9"
REAL_CLUSTER = os.environ.get("ELASTICSEARCH_URL", "")


@contextmanager
def cluster(prefix: str) -> Iterator[tuple[str, FakeElasticsearch | None]]:
    """``(url, fake)`` for a test: the real cluster at ``ELASTICSEARCH_URL`` when that is
    set (fake None), else a fake started here, which must end without violations."""
    if REAL_CLUSTER:
        yield REAL_CLUSTER, None
        return
    server = FakeElasticsearch(prefix).start()
    try:
        yield server.url, server
    finally:
        server.stop()
    assert server.violations == [], server.violations


class FakeElasticsearch:
    """One fake cluster for indices named ``{prefix}_async_event_*``."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.cluster = Cluster()
        self.routes = Routes(self)
        self.violations: list[str] = []
        self.requests: list[str] = []
        self.unavailable = False
        self.search_seconds = 0.0
        self.count_seconds = 0.0
        self.searches: list[dict[str, Any]] = []
        self.honours_timeout = True
        self.max_clause_count = 1024  # Elasticsearch's floor; it grows with the heap
        self.port = 0
        self._server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        """Where the client connects."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeElasticsearch:
        """Listen (again, on the same port after ``stop``)."""
        server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        server.daemon_threads = True
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

    def answer(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        """The status and JSON body for one request (after the time a slow search takes)."""
        status, body = self._answer(method, target, headers, raw)
        if isinstance(body, Slow):
            time.sleep(max(0.0, body.at - time.monotonic()))
            body = body.body
        return status, body

    def _answer(self, method: str, target: str, headers: Any, raw: bytes) -> tuple[int, Any]:
        url = urlsplit(target)
        parts = [unquote(p) for p in url.path.split("/") if p]
        params = {k: v[-1] for k, v in parse_qs(url.query).items()}
        with self.cluster.lock:
            self.requests.append(f"{method} {url.path}")
            if self.unavailable:
                return 503, _error(503, "master_not_discovered_exception", "fake is unavailable")
            if url.path != "/" and COMPAT not in headers.get("accept", ""):
                self.violate(f"Accept {headers.get('accept')!r} lacks {COMPAT}")
            if raw and COMPAT not in headers.get("content-type", ""):
                self.violate(f"Content-Type {headers.get('content-type')!r} lacks {COMPAT}")
            try:
                return 200, self.routes.dispatch(method, parts, params, raw)
            except FakeError as exc:
                return exc.status, _error(exc.status, exc.kind, exc.reason)


def _error(status: int, kind: str, reason: str) -> dict[str, Any]:
    cause = {"type": kind, "reason": reason}
    return {"error": {"root_cause": [cause], **cause}, "status": status}


def _handler(fake: FakeElasticsearch) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stop() really cuts the client off.
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            status, body = fake.answer(self.command, self.path, self.headers, raw)
            data = b"" if self.command == "HEAD" else json.dumps(body).encode()
            # The client may have given up waiting (its request_timeout), as it should.
            with suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("X-Elastic-Product", "Elasticsearch")
                self.send_header("Content-Type", f"application/vnd.elasticsearch+json;{COMPAT}")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``requests`` instead."""

    return Handler
