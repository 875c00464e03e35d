"""The fake cluster's HTTP side: one handler thread per connection, HTTP/1.0.

``handler(fake)`` serves each request with ``fake.answer``, in the engine's media type,
and sends the product header only to an authenticated client, as Elasticsearch does.
A request whose path ends with the suffix of ``fake.trickle`` is answered one byte per
interval, so only a wall-clock deadline over the whole exchange can cut it short.
"""

from __future__ import annotations

import json
import time
from contextlib import suppress
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from tests.search.external import fake_es_media as media

if TYPE_CHECKING:
    from tests.search.external.fake_elasticsearch import FakeElasticsearch


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that refuses the certificate or hangs up is a test's business."""


def handler(fake: FakeElasticsearch) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to ``fake``."""

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0: one request per connection, so stop() really cuts the client off.
        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            raw = self.rfile.read(length) if length else b""
            reply = fake.answer(self.command, self.path, self.headers, raw)
            if isinstance(reply.body, str):
                kind, data = "text/plain; charset=UTF-8", reply.body.encode()
            else:
                kind = media.response_type(fake.engine, self.headers)
                data = json.dumps(reply.body).encode()
            data = b"" if self.command == "HEAD" else data
            headers = list(reply.headers)
            if fake.engine.sends_product_header and reply.authenticated:
                headers.insert(0, ("X-Elastic-Product", "Elasticsearch"))
            headers += [("Content-Type", kind), ("Content-Length", str(len(data)))]
            # The client may have given up waiting (its timeout), as it should.
            with suppress(BrokenPipeError, ConnectionResetError):
                if fake.trickle and urlsplit(self.path).path.endswith(fake.trickle[0]):
                    self._trickle(reply.status, headers, data, fake.trickle[1])
                    return
                self.send_response(reply.status)
                for name, value in headers:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

        def _trickle(
            self, status: int, headers: list[tuple[str, str]], data: bytes, seconds: float
        ) -> None:
            lines = [f"HTTP/1.0 {status} {self.responses.get(status, ('',))[0]}"]
            lines += [f"{name}: {value}" for name, value in headers]
            whole = ("\r\n".join(lines) + "\r\n\r\n").encode() + data
            for byte in range(len(whole)):
                self.wfile.write(whole[byte : byte + 1])
                self.wfile.flush()
                time.sleep(seconds)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the tests read ``requests`` instead."""

    return Handler
