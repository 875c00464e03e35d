"""A local Azure Event Grid topic and Entra ID token endpoint, checking every request as Azure does.

Event Grid cannot run here, so the eventgrid sink is tested against these two servers,
which speak the real HTTP APIs and are proved faithful by driving them with the official
SDK (azure-eventgrid's EventGridPublisherClient, azure-identity's ClientSecretCredential)::

    with FakeEntra({"app-id": "s3cret"}) as entra:
        with FakeTopic(entra=entra, senders=("app-id",)) as topic:  # senders: the role
            outcome = sink.deliver(...)  # to f"http://:{topic.keys[0]}@{topic.host}/api/events"
            assert topic.events == [...]  # every CloudEvent accepted, as JSON
            assert entra.token_requests == 1

``FakeTopic`` refuses, with Event Grid's status and ``{"error": {"code", "message"}}`` body:
another path (404), a missing or other api-version (400), a missing or wrong
``aeg-sas-key`` or bearer token (401), a token whose app may not send (403), a content
type other than ``application/cloudevents-batch+json`` (400), a body that is not a
non-empty JSON array of CloudEvents 1.0 with ``id``, ``source``, ``type`` (400), and an
event or batch over 1 MB (413). ``script`` holds answers to give first (429, 503...),
each once. ``FakeEntra`` serves the OpenID configuration and the client-credentials
grant of one tenant, checking tenant, client, secret, grant type and scope, and issues
opaque bearer tokens of ``lifetime`` seconds. Both serve http, or https with ``tls``
(a (cert, key) pair, from ``tests.tls.issue``), as azure-identity only talks to https.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import socket
import ssl
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs

from werkzeug.test import EnvironBuilder
from werkzeug.wrappers import Request, Response

MAX_BYTES = 1024 * 1024  # a whole batch, so any one event too
API_VERSION = "2018-01-01"
SCOPE = "https://eventgrid.azure.net/.default"
BATCH = "application/cloudevents-batch+json"


class _Refusal(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


class _HTTPServer(ThreadingHTTPServer):
    """http.server with keep-alive (as Azure; werkzeug's server closes every connection)."""

    daemon_threads = True

    def __init__(self, handle: Callable[[Request], Response]) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.handle_request_object = handle
        self.open: set[socket.socket] = set()

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that hung up (or a socket ``close`` shut) is no error of the fake's."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    """Turns each request into a werkzeug ``Request`` for the fake, and writes its ``Response``."""

    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection ends at the latest then
    server: _HTTPServer

    def setup(self) -> None:
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()  # here, not in the accepting thread
        self.server.open.add(self.request)
        super().setup()

    def finish(self) -> None:
        self.server.open.discard(self.request)
        super().finish()

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def _serve(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        path, _, query = self.path.partition("?")
        headers = [(k, v) for k, v in self.headers.items() if k.lower() != "content-length"]
        builder = EnvironBuilder(
            path=path, query_string=query, method=self.command, headers=headers, data=body
        )
        environ = builder.get_environ()
        environ.update(REMOTE_ADDR=self.client_address[0], REMOTE_PORT=str(self.client_address[1]))
        response = self.server.handle_request_object(Request(environ))
        payload = response.get_data()
        self.send_response(response.status_code)
        for name, value in response.headers.items():
            if name.lower() != "content-length":
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet: the tests read ``requests``, not a log."""


class _Server:
    """A fake's server on a spare loopback port: http, or https with ``tls`` (cert, key)."""

    def __init__(self, handle: Callable[[Request], Response], tls: tuple[str, str] | None):
        self._server = _HTTPServer(handle)
        if tls:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(*tls)
            self._server.socket = context.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self.port = self._server.server_address[1]
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"{'https' if tls else 'http'}://{self.host}"
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def close(self) -> None:
        """Stop serving and end every connection, idle keep-alives included."""
        self._server.shutdown()
        self._server.server_close()
        for sock in list(self._server.open):
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)

    def __enter__(self) -> Any:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes
    peer: tuple[str, int]  # the client's address: one per connection it opened


def _error(status: int, code: str, message: str) -> Response:
    body = {"error": {"code": code, "message": message}}
    return Response(json.dumps(body), status, content_type="application/json; charset=utf-8")


@dataclass
class FakeEntra(_Server):
    """One tenant's token endpoint: ``clients`` maps client ids to their secrets."""

    clients: dict[str, str]
    tenant: str = "contoso.onmicrosoft.com"
    lifetime: int = 3599
    tls: tuple[str, str] | None = None
    script: deque[tuple[int, dict]] = field(default_factory=deque)
    token_requests: int = 0
    issued: dict[str, tuple[str, float]] = field(default_factory=dict)  # token: (client, expiry)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        _Server.__init__(self, self._handle, self.tls)

    def client_of(self, token: str) -> str | None:
        """The app a valid (unexpired) token was issued to, or None."""
        client, expiry = self.issued.get(token, ("", 0.0))
        return client if time.time() < expiry else None

    def _handle(self, request: Request) -> Response:
        prefix = f"/{self.tenant}/"
        if not request.path.startswith(prefix):
            return _aad(400, "invalid_request", f"AADSTS90002: Tenant '{request.path}' not found.")
        if request.method == "GET" and request.path.endswith("/.well-known/openid-configuration"):
            return self._openid_configuration()
        if request.method == "POST" and request.path == f"{prefix}oauth2/v2.0/token":
            with self._lock:
                self.token_requests += 1
                scripted = self.script.popleft() if self.script else None
            if scripted:
                return Response(
                    json.dumps(scripted[1]), scripted[0], content_type="application/json"
                )
            return self._token(request)
        return _aad(404, "invalid_request", f"no such endpoint {request.path}")

    def _openid_configuration(self) -> Response:
        base = f"{self.url}/{self.tenant}"
        config = {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
        }
        return Response(json.dumps(config), content_type="application/json")

    def _token(self, request: Request) -> Response:
        """The client-credentials grant, checked as Entra ID checks it."""
        if request.mimetype != "application/x-www-form-urlencoded":
            return _aad(400, "invalid_request", "AADSTS900144: the request body must be a form")
        form = request.form
        if form.get("grant_type") != "client_credentials":
            return _aad(400, "unsupported_grant_type", "AADSTS70003: unsupported grant type")
        client = form.get("client_id", "")
        if client not in self.clients:
            return _aad(
                400, "unauthorized_client", f"AADSTS700016: Application '{client}' not found"
            )
        if form.get("client_secret") != self.clients[client]:
            return _aad(401, "invalid_client", "AADSTS7000215: Invalid client secret provided.")
        if form.get("scope") != SCOPE:
            return _aad(400, "invalid_scope", f"AADSTS70011: scope {form.get('scope')!r} invalid")
        token = f"eyFake.{secrets.token_urlsafe(24)}"
        self.issued[token] = (client, time.time() + self.lifetime)
        answer = {"token_type": "Bearer", "expires_in": self.lifetime, "access_token": token}
        return Response(
            json.dumps({**answer, "ext_expires_in": self.lifetime}),
            200,
            content_type="application/json",
        )


def _aad(status: int, error: str, description: str) -> Response:
    body = {"error": error, "error_description": f"{description}\r\nTrace ID: fake\r\n"}
    return Response(json.dumps(body), status, content_type="application/json; charset=utf-8")


@dataclass
class FakeTopic(_Server):
    """One Event Grid topic (CloudEvents 1.0 input schema) at ``/api/events``."""

    keys: tuple[str, str] = ("key1-" + "A" * 40, "key2-" + "B" * 40)
    entra: FakeEntra | None = None
    senders: tuple[str, ...] = ()  # apps with the EventGrid Data Sender role
    tls: tuple[str, str] | None = None
    script: deque[tuple[int, dict[str, str], bytes]] = field(default_factory=deque)
    events: list[dict] = field(default_factory=list)
    requests: list[Seen] = field(default_factory=list)
    refusals: list[tuple[int, str, str]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._lock = threading.Lock()
        _Server.__init__(self, self._handle, self.tls)

    def _handle(self, request: Request) -> Response:
        body = request.get_data()
        seen = Seen(
            request.method,
            request.path,
            parse_qs(request.query_string.decode()),
            dict(request.headers),
            body,
            (request.environ["REMOTE_ADDR"], int(request.environ["REMOTE_PORT"])),
        )
        with self._lock:
            self.requests.append(seen)
            scripted = self.script.popleft() if self.script else None
        if scripted:
            status, headers, content = scripted
            return Response(content, status, headers=headers, content_type="application/json")
        try:
            events = self._check(request, seen)
        except _Refusal as refusal:
            self.refusals.append((refusal.status, refusal.code, refusal.message))
            return _error(refusal.status, refusal.code, refusal.message)
        with self._lock:
            self.events.extend(events)
        return Response(b"", 200)

    def _check(self, request: Request, seen: Seen) -> list[dict]:
        """The accepted events, or a _Refusal, checked in the order Event Grid checks."""
        if seen.path != "/api/events" or seen.method != "POST":
            raise _Refusal(404, "NotFound", f"{seen.method} {seen.path} was not found.")
        version = seen.query.get("api-version")
        if version != [API_VERSION]:
            raise _bad(f"The api-version {version} is missing or not supported.")
        self._check_auth(request)
        if len(seen.body) > MAX_BYTES:
            message = f"The maximum size for the input event array is {MAX_BYTES} bytes."
            raise _Refusal(413, "RequestEntityTooLarge", message)
        charset = request.mimetype_params.get("charset", "utf-8").lower()
        if request.mimetype != BATCH or charset != "utf-8":
            raise _bad(f"Content-Type {request.content_type!r}: the topic takes {BATCH}.")
        return _cloud_events(seen.body)

    def _check_auth(self, request: Request) -> None:
        """An access key of the topic, or a valid token of an app with the sender role."""
        key = request.headers.get("aeg-sas-key")
        bearer = request.headers.get("Authorization", "")
        if key is not None:
            if key not in self.keys:
                host = request.host.upper()
                raise _unauthorized(f"The request authorization key is not authorized for {host}.")
            return
        if not bearer.startswith("Bearer ") or self.entra is None:
            raise _unauthorized("The request carries no aeg-sas-key nor bearer token.")
        client = self.entra.client_of(bearer.removeprefix("Bearer "))
        if client is None:
            raise _unauthorized("The bearer token is invalid or expired.")
        if client not in self.senders:
            message = f"The principal '{client}' lacks the role EventGrid Data Sender."
            raise _Refusal(403, "Forbidden", message)


def _bad(message: str) -> _Refusal:
    return _Refusal(400, "BadRequest", message)


def _unauthorized(message: str) -> _Refusal:
    return _Refusal(401, "Unauthorized", message)


def _cloud_events(body: bytes) -> list[dict]:
    """The CloudEvents 1.0 of a batch; a _Refusal for anything Event Grid refuses."""
    try:
        events = json.loads(body.decode("utf-8"))
    except ValueError as exc:
        raise _bad(f"The request body is not valid JSON: {exc}") from None
    if not isinstance(events, list) or not events:
        raise _bad("The request body must be a non-empty JSON array of events.")
    for index, event in enumerate(events):
        _check_event(index, event)
    return events


def _check_event(index: int, event: Any) -> None:
    """One CloudEvent 1.0 and its required attributes (its size is in the batch's)."""
    if not isinstance(event, dict):
        raise _bad(f"Event {index} is not a JSON object.")
    if event.get("specversion") != "1.0":
        raise _bad(f"Event {index}: 'specversion' must be '1.0'.")
    for name in ("id", "source", "type"):
        if not isinstance(event.get(name), str) or not event[name]:
            raise _bad(f"Event {index}: required property '{name}' was not found or is empty.")
    if "data" in event and "data_base64" in event:
        raise _bad(f"Event {index} has both 'data' and 'data_base64'.")
    if not isinstance(event.get("datacontenttype", ""), str):
        raise _bad(f"Event {index}: 'datacontenttype' must be a string.")
