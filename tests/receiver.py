"""A real HTTP server on localhost that records what it receives and answers as scripted."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit


@dataclass
class Reply:
    """One scripted answer; a 301/302/307 with a Location header makes a redirect."""

    status: int = 200
    body: bytes | str = b"ok"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to sleep before answering


@dataclass
class Received:
    """One request as it arrived; header names are lower-cased."""

    path: str
    method: str
    headers: dict[str, str]
    body: bytes
    at: float  # time.time() on arrival

    def json(self) -> Any:
        """Return the body parsed as JSON."""
        return json.loads(self.body)


class Receiver:
    """ThreadingHTTPServer (daemon threads, HTTP/1.1 keep-alive) on 127.0.0.1, ephemeral port.

    Each request is handled in its own thread, so a slow route does not block others::

        with Receiver() as receiver:  # or Receiver().start() ... receiver.close()
            url = receiver.route("/hook", Reply(503), Reply(200))  # fails once, then succeeds
            ...
            [first, second] = receiver.wait_for(2, "/hook")
    """

    def __init__(self) -> None:
        self.url = ""
        self._routes: dict[str, list[Reply]] = {}
        self._received: list[Received] = []
        self._changed = threading.Condition()
        self._server: _Server | None = None

    def start(self) -> Receiver:
        """Bind an ephemeral port and serve in a background thread."""
        self._server = _Server(("127.0.0.1", 0), _handler_for(self))
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        # A short poll interval keeps close(), called after every test, fast.
        serve = self._server.serve_forever
        threading.Thread(target=serve, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def route(self, path: str, *replies: Reply) -> str:
        """Script ``path``: replies are used in order and the last repeats. Returns its URL."""
        with self._changed:
            self._routes[path] = list(replies) or [Reply()]
        return self.url + path

    def received(self, path: str | None = None) -> list[Received]:
        """Return what arrived so far, optionally only for ``path`` (query ignored)."""
        with self._changed:
            return [r for r in self._received if path is None or _path(r.path) == path]

    def wait_for(
        self, count: int, path: str | None = None, timeout: float = 10.0
    ) -> list[Received]:
        """Wait until ``count`` requests (for ``path``) arrived; AssertionError on timeout."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while len(got := self.received(path)) < count:
                left = deadline - time.monotonic()
                if left <= 0:
                    seen = [(r.method, r.path) for r in got]
                    raise AssertionError(f"wanted {count} requests for {path!r}, got {seen}")
                self._changed.wait(left)
        return got

    def close(self) -> None:
        """Stop serving and free the port; idle keep-alive threads die with the process."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Receiver:
        return self.start() if self._server is None else self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _record(self, received: Received) -> Reply:
        """Store a request and pick its scripted reply."""
        with self._changed:
            self._received.append(received)
            self._changed.notify_all()
            replies = self._routes.get(_path(received.path))
            if not replies:
                return Reply()
            return replies.pop(0) if len(replies) > 1 else replies[0]


class _Server(ThreadingHTTPServer):
    """One daemon thread per connection, and a backlog deep enough for a burst of clients."""

    daemon_threads = True
    request_queue_size = 128  # the default 5 resets connections when many threads connect


def _path(target: str) -> str:
    """Return the path of a request target, without its query."""
    return urlsplit(target).path


def _handler_for(receiver: Receiver) -> type[BaseHTTPRequestHandler]:
    """Build a handler class bound to ``receiver``."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real webhook endpoints do
        timeout = 30  # drop idle keep-alive connections eventually

        def _serve(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            headers = {k.lower(): v for k, v in self.headers.items()}
            got = Received(self.path, self.command, headers, body, time.time())
            reply = receiver._record(got)
            time.sleep(reply.delay)
            data = reply.body.encode() if isinstance(reply.body, str) else reply.body
            data = b"" if reply.status in (204, 304) else data  # these never carry a body
            out = {"content-type": "text/plain", "content-length": str(len(data))}
            out |= {k.lower(): v for k, v in reply.headers.items()}
            self.send_response(reply.status)
            for name, value in out.items():
                self.send_header(name, value)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(data)

        def handle(self) -> None:
            # The client hanging up is expected after a timeout or a capped read.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                super().handle()

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

        def log_message(self, format: str, *args: Any) -> None:
            """Keep test output quiet."""

    return Handler
