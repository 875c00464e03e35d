"""The http sink against hostile receivers: one total deadline, capped bytes, no leaked sockets."""

from __future__ import annotations

import socket
import sys
import threading
import time
import tracemalloc
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import select

from app import settings
from app.delivery import publishing
from app.extensions import db
from app.models import DeliveryLog
from app.sinks import DeliveryRequest, Envelope, HttpSink
from app.sinks.addresses import networks
from app.sinks.transport import InvalidHeader, Transport
from app.usecases import subscriptions
from tests.sinks import hostile
from tests.support import wait_until

TIMEOUT = 2.0  # the sink's total timeout in these tests
SLACK = 1.5  # what a loaded machine may add to it
CAP = 65536  # DELIVERY_MAX_RESPONSE_BYTES


@pytest.fixture
def sink() -> Iterator[HttpSink]:
    """The production http sink (SSRF guard included), with loopback v4 allowed and 2 s in all."""
    allowed = networks(["127.0.0.0/8"])
    s = HttpSink(total_timeout=TIMEOUT, max_response_bytes=CAP, allowed=allowed)
    yield s
    s.close()


def request(url: str, data: object = None) -> DeliveryRequest:
    event = Envelope(str(uuid.uuid4()), "1", "customer.created", data or {"id": 7})
    return DeliveryRequest(url, ("token",), event)


def timed(sink: HttpSink, url: str, data: object = None):
    """Deliver once; return the outcome and the seconds it took."""
    started = time.monotonic()
    outcome = sink.deliver(request(url, data))
    return outcome, time.monotonic() - started


def traced(sink: HttpSink, url: str):
    """Deliver once; return the outcome, the seconds and the peak of Python's allocations."""
    tracemalloc.start()
    try:
        outcome, elapsed = timed(sink, url)
        return outcome, elapsed, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def assert_timed_out(outcome, elapsed: float) -> None:
    assert TIMEOUT - 0.1 <= elapsed < TIMEOUT + SLACK, elapsed
    assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, None)
    assert outcome.response == f"timed out after {TIMEOUT} s"


@pytest.mark.parametrize(
    "behaviour",
    ["never_answer", "never_read", "trickle_status", "trickle_headers", "trickle_body"],
)
def test_a_stalling_or_trickling_receiver_is_cut_at_the_total_timeout(sink, behaviour):
    """A byte a second never lets a per-read timeout fire; the total deadline still does."""
    with hostile.serve(behaviour, interval=1.0) as server:
        outcome, elapsed = timed(sink, server.url)
        assert_timed_out(outcome, elapsed)
        server.wait_hung_up()
        assert server.client_sockets() == 0  # closed, not back in the pool


def test_a_tls_handshake_that_trickles_is_cut_at_the_total_timeout(sink):
    with hostile.serve("trickle_tls", interval=0.5) as server:
        outcome, elapsed = timed(sink, server.url.replace("http:", "https:"))
        assert_timed_out(outcome, elapsed)
        server.wait_hung_up()
        assert server.client_sockets() == 0


def test_a_request_body_the_receiver_never_reads_is_cut_at_the_total_timeout(sink):
    """8 MB into a 4 KiB receive buffer: sending itself stalls, and is cut."""
    with hostile.serve("never_read") as server:
        outcome, elapsed = timed(sink, server.url, {"blob": "x" * 8_000_000})
        assert_timed_out(outcome, elapsed)
        assert server.client_sockets() == 0


def test_the_deadline_spans_redirect_hops(sink):
    """Quick 307s then a trickle: the clock started at the first hop, not the last."""
    with (
        hostile.serve("trickle_headers", interval=1.0) as slow,
        hostile.serve("redirect", location=slow.url) as bounce,
    ):
        outcome, elapsed = timed(sink, bounce.url)
        assert_timed_out(outcome, elapsed)
        assert len(bounce.peers[0].requests) == 1
        slow.wait_hung_up()


def test_many_trickling_deliveries_share_one_sender_thread(sink):
    """No thread per request: 24 concurrent stalls all end on time, on one thread."""
    before = sum(t.name == "http-sender" for t in threading.enumerate())
    with hostile.serve("trickle_headers", interval=1.0) as server, ThreadPoolExecutor(24) as pool:
        started = time.monotonic()
        futures = [pool.submit(sink.deliver, request(server.url)) for _ in range(24)]
        time.sleep(TIMEOUT / 2)
        senders = sum(t.name == "http-sender" for t in threading.enumerate())
        outcomes = [f.result() for f in futures]
        assert time.monotonic() - started < TIMEOUT + SLACK + 1.0
        assert all(o.response == f"timed out after {TIMEOUT} s" for o in outcomes)
        server.wait_hung_up(count=24)
    assert senders == before + 1  # this sink's, started by its first delivery


def test_a_healthy_delivery_after_timeouts_reuses_the_pool(sink, receiver):
    with hostile.serve("trickle_body", interval=1.0) as server:
        assert not timed(sink, server.url)[0].success
    url = receiver.route("/ok")
    outcomes = [sink.deliver(request(url)) for _ in range(3)]
    assert all(o.success for o in outcomes)


def test_a_200_mb_body_is_read_up_to_the_cap_only(sink):
    with hostile.serve("huge_body") as server:
        outcome, elapsed = timed(sink, server.url)
        assert outcome.success and outcome.status_code == 200 and elapsed < TIMEOUT
        assert outcome.response == "x" * CAP
        server.wait_hung_up()
        assert server.peers[0].sent < 64 * 1024 * 1024  # the rest was never asked for
        assert server.client_sockets() == 0


@pytest.mark.parametrize("layers", [1, 2])
def test_a_gzip_bomb_is_never_decompressed(sink, layers):
    """1 GiB of zeros gzipped once (~1 MiB) or twice (~2 KiB) is kept as the bytes that came."""
    with hostile.serve("gzip_bomb", layers=layers) as server:
        wire = hostile.gzip_bomb(1024**3, layers)
        outcome, elapsed, peak = traced(sink, server.url)
        assert outcome.success and elapsed < TIMEOUT
        assert outcome.response == wire[:CAP].decode("utf-8", errors="surrogateescape")
        assert peak < 4 * 1024 * 1024, peak  # the cap, not the bomb
        sink.close()  # the two-layer answer was read whole: its connection was pooled
        server.wait_hung_up()


def test_endless_headers_are_cut_at_libcurls_limit_quickly(sink):
    """No header-count limit of ours: libcurl refuses response headers past 300 KiB."""
    with hostile.serve("endless_headers") as server:
        outcome, elapsed, peak = traced(sink, server.url)
        assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, None)
        assert outcome.response.startswith("connection failed: "), outcome.response
        assert elapsed < TIMEOUT and peak < 4 * 1024 * 1024, (elapsed, peak)
        server.wait_hung_up()
        assert server.client_sockets() == 0


def test_a_redirect_loop_is_permanent_and_quick(sink):
    with hostile.serve("redirect_loop") as server:
        outcome, elapsed = timed(sink, server.url)
        assert (outcome.success, outcome.retryable) == (False, False) and elapsed < TIMEOUT
        assert "Exceeded 5 redirects" in outcome.response
        assert sum(len(p.requests) for p in server.peers) == 6


@pytest.mark.parametrize(
    ("behaviour", "says"),
    [
        ("not_http", "connection failed"),
        ("reset_headers", "connection reset"),
        ("reset_body", "connection reset"),
    ],
)
def test_garbage_and_resets_are_retryable_failures(sink, behaviour, says):
    with hostile.serve(behaviour) as server:
        outcome, elapsed = timed(sink, server.url)
        assert (outcome.success, outcome.retryable, outcome.status_code) == (False, True, None)
        assert outcome.response.startswith(says), outcome.response
        assert elapsed < TIMEOUT
        assert server.client_sockets() == 0


def test_nul_bytes_and_invalid_utf8_are_kept_byte_for_byte(sink):
    with hostile.serve("nul_bytes") as server:
        outcome, _ = timed(sink, server.url)
    assert outcome.success and outcome.status_code == 200
    assert outcome.response == hostile.NUL_BODY.decode("utf-8", errors="surrogateescape")
    assert outcome.response.encode("utf-8", errors="surrogateescape") == hostile.NUL_BODY


def test_a_nul_byte_in_a_header_keeps_the_status_and_says_the_body_was_not_read(sink):
    """libcurl stops at the malformed header (RFC 9110 §5.5); the 200 still counts, so the
    receiver that accepted the event does not get it again."""
    with hostile.serve("nul_header") as server:
        outcome, _ = timed(sink, server.url)
        server.wait_hung_up()
        assert server.client_sockets() == 0
    assert (outcome.success, outcome.status_code) == (True, 200)
    assert outcome.response == "(the answer had a NUL byte in a header; its body was not read)"


class SocketAudit:
    """Every socket the http transport opens for libcurl to dial (``socket.__new__`` audit
    events on its thread): libcurl connects in C, but only with a socket the guard made."""

    def __init__(self) -> None:
        self.opened: list[int] = []
        self.on = False
        sys.addaudithook(self._hook)  # hooks cannot be removed: ``on`` gates it

    def _hook(self, event: str, args: tuple) -> None:
        if (
            self.on
            and event == "socket.__new__"
            and threading.current_thread().name == "http-sender"
        ):
            self.opened.append(args[1])  # the address family


_AUDIT = SocketAudit()


@pytest.fixture
def sockets() -> Iterator[list[int]]:
    _AUDIT.opened.clear()
    _AUDIT.on = True
    yield _AUDIT.opened
    _AUDIT.on = False


@pytest.mark.parametrize(
    ("target", "refused", "why"),
    [
        ("http://169.254.169.254/latest/meta-data/", "169.254.169.254", "a cloud metadata address"),
        ("http://[fd00:ec2::254]/latest/", "fd00:ec2::254", "a cloud metadata address"),
        ("http://10.1.2.3:8080/admin", "10.1.2.3", "a private address"),
        ("http://[::1]:{port}/hook", "::1", "a loopback address"),
    ],
)
def test_a_redirect_to_a_forbidden_address_is_refused_before_connecting(
    sink, sockets, target, refused, why
):
    """Only 127.0.0.0/8 is allowed: the hop is refused without a connect() to the target."""
    with hostile.serve("never_answer") as inside:
        location = target.format(port=inside.port)
        with hostile.serve("redirect", location=location) as bounce:
            outcome, elapsed = timed(sink, bounce.url)
        assert (outcome.success, outcome.retryable) == (False, False)
        assert outcome.response == f"refused to deliver to {refused}: {why}"
        assert sockets == [socket.AF_INET] and elapsed < TIMEOUT  # only the bounce was dialled
        assert inside.peers == []


def test_a_first_hop_to_a_forbidden_address_is_refused_before_connecting(sink, sockets):
    outcome, _ = timed(sink, "http://169.254.169.254/latest/meta-data/iam/")
    assert (outcome.success, outcome.retryable) == (False, False)
    assert outcome.response == "refused to deliver to 169.254.169.254: a cloud metadata address"
    assert sockets == []


@pytest.fixture
def config(config: dict) -> dict:
    """The shared test app, with the 2 s total timeout of these tests."""
    return {**config, "DELIVERY_TOTAL_TIMEOUT": TIMEOUT}


@pytest.mark.slow
def test_a_trickling_endpoint_times_out_while_a_healthy_one_is_served(ctx, receiver, worker):
    """A real worker: the trickler's attempts are logged as timeouts; the healthy one waits."""
    with hostile.serve("trickle_headers", interval=1.0) as slow:
        subscriptions.create("example.event", receiver.route("/healthy"), "t")
        settings.set("max_deaths", 0)  # one attempt per chain: ten chains, ten rows
        worker.start()
        publishing.publish("example.event", {"n": "warm-up"})
        receiver.wait_for(1, "/healthy", timeout=60)  # the worker is up (slow on a busy machine)
        slow_id = subscriptions.create("example.event", slow.url, "t").subscription_id
        published = time.time()
        for n in range(10):
            publishing.publish("example.event", {"n": n})
        healthy = receiver.wait_for(11, "/healthy", timeout=10)[1:]
        assert max(r.at for r in healthy) - published < TIMEOUT  # no wait for the trickler

        def timeouts() -> list[DeliveryLog]:
            query = select(DeliveryLog).where(DeliveryLog.subscription_id == slow_id)
            rows = db.session.scalars(query).all()
            db.session.commit()
            return rows if len(rows) >= 10 else []

        rows = wait_until(timeouts, timeout=20)
        assert {(r.success, r.retryable, r.response_data) for r in rows} == {
            (False, True, f"timed out after {TIMEOUT} s")
        }
        assert max(r.duration_ms for r in rows) < (TIMEOUT + SLACK) * 1000
        peers = slow.wait_hung_up(count=10)
        assert max(p.hung_up - p.accepted for p in peers) < TIMEOUT + SLACK


@pytest.mark.parametrize(
    "value", ["t\r\nX-Injected: 1", "t\nX-Injected: 1", "t\x00", "tök€n"], ids=repr
)
def test_a_header_that_would_inject_another_is_never_sent(value):
    """libcurl sends a header line as it is given: CR or LF would start one of the
    sender's own (an Event Grid token from a hostile token endpoint, say)."""
    transport = Transport(0, 1.0, 2.0, CAP)
    try:
        with hostile.serve("never_answer") as server:
            deadline = time.monotonic() + 2.0
            with pytest.raises(InvalidHeader, match="cannot be sent"):
                transport.post(server.url, b"{}", {"Authorization": f"Bearer {value}"}, deadline)
            assert server.peers == []  # not even a connection
    finally:
        transport.close()
