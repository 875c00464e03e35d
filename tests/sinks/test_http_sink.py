"""The http sink against a real server on localhost: statuses, timeouts, redirects, limits."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import signal
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from flask import Flask

from app import sinks
from app.sinks import DeliveryRequest, Envelope, HttpSink
from app.sinks.registry import BUILTIN
from app.sinks.signing import body_bytes
from tests.receiver import Receiver, Reply
from tests.support import wait_until


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


@pytest.fixture
def sink(make_sink) -> HttpSink:
    return make_sink()


@pytest.fixture
def make_sink() -> Iterator:
    """HttpSink(**settings), closed (its thread and connections) after the test."""
    made: list[HttpSink] = []

    def make(**settings) -> HttpSink:
        made.append(HttpSink(**settings))
        return made[-1]

    yield make
    for one in made:
        one.close()


def request(url: str, event_id: str | None = None) -> DeliveryRequest:
    event = Envelope(event_id or str(uuid.uuid4()), "1", "customer.created", {"id": 7})
    return DeliveryRequest(url, ("token",), event)


def unused_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_2xx_is_success_with_body_and_timing(receiver, sink):
    url = receiver.route("/hook", Reply(201, "accepted"))
    outcome = sink.deliver(request(url))
    assert (outcome.success, outcome.status_code, outcome.response) == (True, 201, "accepted")
    assert outcome.duration_ms >= 0 and not outcome.gone


def test_empty_body_is_recorded_as_the_reason_phrase(receiver, sink):
    outcome = sink.deliver(request(receiver.route("/hook", Reply(204))))
    assert outcome.success and outcome.response == "No Content"


def test_receiver_gets_exact_body_and_signed_headers(receiver, sink):
    req = request(receiver.route("/hook"))
    sink.deliver(req)
    got = receiver.wait_for(1, "/hook")[0]
    assert (got.method, got.body) == ("POST", body_bytes(req))
    assert got.headers["content-type"] == "application/cloudevents+json"
    assert got.headers["content-length"] == str(len(got.body))
    assert got.headers["x-magento-signature"] == (
        hmac.new(b"token", got.body, hashlib.sha256).hexdigest()
    )
    assert got.headers["webhook-id"] == req.event.id
    assert got.headers["webhook-signature"].startswith("v1,")
    assert "cookie" not in got.headers


@pytest.mark.parametrize("status", [500, 502, 503, 408, 429])
def test_server_trouble_and_throttling_are_retried(receiver, sink, status):
    outcome = sink.deliver(request(receiver.route("/hook", Reply(status, "busy"))))
    assert (outcome.success, outcome.retryable, outcome.gone) == (False, True, False)
    assert (outcome.status_code, outcome.response) == (status, "busy")


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_client_errors_are_permanent(receiver, sink, status):
    outcome = sink.deliver(request(receiver.route("/hook", Reply(status))))
    assert (outcome.success, outcome.retryable, outcome.gone) == (False, False, False)
    assert outcome.status_code == status


def test_410_means_gone(receiver, sink):
    outcome = sink.deliver(request(receiver.route("/hook", Reply(410))))
    assert (outcome.success, outcome.retryable, outcome.gone) == (False, False, True)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120),
        (" 0 ", 0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", None),
        ("soon", None),
        ("-5", None),
    ],
)
def test_only_a_numeric_retry_after_is_kept(receiver, sink, header, expected):
    url = receiver.route("/hook", Reply(503, headers={"Retry-After": header}))
    assert sink.deliver(request(url)).retry_after == expected


def test_connection_refused_is_retried(sink):
    outcome = sink.deliver(request(f"http://127.0.0.1:{unused_port()}/hook"))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, None)
    assert outcome.response.startswith("connection refused")


def test_a_slow_endpoint_times_out_and_is_retried(receiver, make_sink):
    sink = make_sink(total_timeout=0.5)
    started = time.monotonic()
    outcome = sink.deliver(request(receiver.route("/slow", Reply(delay=2.0))))
    assert time.monotonic() - started < 1.5
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, None)
    assert outcome.response == "timed out after 0.5 s" and outcome.duration_ms < 1500


def test_a_body_that_trickles_in_forever_is_cut_at_the_total_timeout(make_sink):
    port = trickling_server()
    started = time.monotonic()
    outcome = make_sink(total_timeout=1.0).deliver(request(f"http://127.0.0.1:{port}/"))
    assert 0.9 < time.monotonic() - started < 2.0
    assert (outcome.success, outcome.retryable, outcome.response) == (
        False,
        True,
        "timed out after 1.0 s",
    )


def trickling_server() -> int:
    """Answer 200 then send one byte every 50 ms for 5 s: each read is quick, the whole isn't."""
    server = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        conn, _ = server.accept()
        with conn, server, contextlib.suppress(OSError):  # the sink hangs up first
            conn.recv(65536)
            conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n")
            for _ in range(100):
                time.sleep(0.05)
                conn.sendall(b"x")

    threading.Thread(target=serve, daemon=True).start()
    return server.getsockname()[1]


def redirect_chain(receiver: Receiver, hops: int, status: int = 307) -> str:
    """Route /r0 -> /r1 -> ... -> /final and return the first URL."""
    for i in range(hops):
        target = "/final" if i == hops - 1 else f"/r{i + 1}"
        receiver.route(f"/r{i}", Reply(status, headers={"Location": target}))
    receiver.route("/final", Reply(200, "arrived"))
    return receiver.url + "/r0"


@pytest.mark.parametrize("hops", [1, 5])
def test_redirects_are_followed_with_the_event(receiver, sink, hops):
    req = request(redirect_chain(receiver, hops))
    outcome = sink.deliver(req)
    assert (outcome.success, outcome.response) == (True, "arrived")
    final = receiver.wait_for(1, "/final")[0]
    assert (final.method, final.body) == ("POST", body_bytes(req))


def test_too_many_redirects_is_permanent(receiver, sink):
    outcome = sink.deliver(request(redirect_chain(receiver, 6)))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "TooManyRedirects" in outcome.response
    assert receiver.received("/final") == []


@pytest.mark.parametrize("status", [301, 302])
def test_a_redirect_that_drops_the_body_is_not_a_delivery(receiver, sink, status):
    outcome = sink.deliver(request(redirect_chain(receiver, 1, status)))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert "use 307/308" in outcome.response


def test_a_3xx_left_after_redirects_is_permanent(receiver, sink):
    outcome = sink.deliver(request(receiver.route("/hook", Reply(300, "choose"))))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, 300)


def test_a_large_response_is_truncated(receiver, sink, make_sink):
    url = receiver.route("/big", Reply(500, b"e" * 200_000))
    assert sink.deliver(request(url)).response == "e" * 65536
    outcome = make_sink(max_response_bytes=1000).deliver(request(url))
    assert outcome.response == "e" * 1000 and outcome.retryable


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "ftp://127.0.0.1/hook",
        "http://",
        "http://exa mple.com/",
        "http://[::1",
        "http://127.0.0.1/a\x00b",  # NUL: libcurl's C string would end there
        "http://127.0.0.1/a\rb",
        "http://127.0.0.1:99999/",
        "http://\ud800.example/",  # a lone surrogate in the host
        "file:///etc/passwd",
        "gopher://127.0.0.1:6379/_INFO",
    ],
    ids=repr,
)
def test_an_invalid_url_is_permanent(sink, url):
    outcome = sink.deliver(request(url))
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, False, None)


def test_many_threads_share_one_sink(receiver, sink):
    url = receiver.route("/hook", Reply(200, delay=0.2))
    ids = [str(uuid.uuid4()) for _ in range(40)]
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=40) as pool:
        outcomes = list(pool.map(lambda i: sink.deliver(request(url, i)), ids))
    assert all(o.success for o in outcomes)
    assert time.monotonic() - started < 4.0  # in parallel: 40 x 0.2 s would take 8 s
    assert sorted(r.headers["webhook-id"] for r in receiver.wait_for(40, "/hook")) == sorted(ids)


def test_an_unsigned_request_is_refused_without_sending(receiver, sink):
    req = request(receiver.route("/hook"))
    outcome = sink.deliver(DeliveryRequest(req.recipient, (), req.event))
    assert (outcome.success, outcome.retryable) == (False, False)
    assert receiver.received() == []


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"connect_timeout": 0}, "connect_timeout"),
        ({"total_timeout": -1}, "total_timeout"),
        ({"max_redirects": -1}, "max_redirects"),
        ({"max_response_bytes": 0}, "max_response_bytes"),
        ({"max_connections": 0}, "max_connections"),
    ],
)
def test_bad_configuration_is_refused(kwargs, message):
    with pytest.raises(ValueError, match=message):
        HttpSink(**kwargs)


def test_the_app_registry_builds_the_http_sink_from_config():
    app = Flask(__name__)
    app.config.update(DELIVERY_TOTAL_TIMEOUT=3.0, DELIVERY_MAX_RESPONSE_BYTES=10)
    sinks.init_app(app)
    with app.app_context():
        assert sinks.sink_names() == sorted(kind.name for kind in BUILTIN)
        http = sinks.get_sink("http")
    assert isinstance(http, HttpSink) and http.total_timeout == 3.0
    assert http.max_response_bytes == 10


def test_closing_an_apps_sinks_ends_the_sender_thread_and_frees_its_descriptors(receiver):
    """A worker closes its sinks at shutdown, and each test's app at its end: a libcurl loop
    left running holds a thread, a pipe, an epoll and its keep-alive sockets."""
    app = Flask(__name__)
    app.config.update(DELIVERY_ALLOWED_NETWORKS=["127.0.0.0/8"])
    sinks.init_app(app)

    def senders() -> int:
        return sum(t.name == "http-sender" for t in threading.enumerate())

    fds, threads = len(os.listdir("/proc/self/fd")), senders()
    with app.app_context():
        http = sinks.get_sink("http")
    assert http.deliver(request(receiver.route("/hook"))).success
    assert senders() == threads + 1 and len(os.listdir("/proc/self/fd")) >= fds + 4
    sinks.close(app)
    assert senders() == threads
    # (the receiver, in this process, closes its side of the socket when it sees ours go)
    wait_until(lambda: len(os.listdir("/proc/self/fd")) <= fds, timeout=5)


def test_a_forked_child_sends_on_a_loop_of_its_own(receiver, sink):
    """RQ forks (its scheduler, a forking worker): the parent's loop thread is not in the
    child, which must start its own rather than queue work for a thread that is gone."""
    assert sink.deliver(request(receiver.route("/parent"))).success
    pid = os.fork()
    if pid == 0:  # the child: exit 0 only if its delivery succeeded
        ok = False
        try:
            signal.alarm(10)  # a child waiting on its parent's thread would hang: end it
            ok = sink.deliver(request(receiver.route("/child"))).success
        finally:
            os._exit(0 if ok else 1)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0
    receiver.wait_for(1, "/child")
    assert sink.deliver(request(receiver.route("/parent"))).success  # the parent's still runs
