"""`make run`'s web process: the Procfile's line listens on loopback unless WEB_BIND says.

The line is run as `make run` runs it, by honcho, with gunicorn and the real app.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from http.client import HTTPConnection
from pathlib import Path

import pytest

from tests.support import ROOT

BIN = Path(sys.executable).parent
LISTENING = re.compile(r"Listening at: http://([\d.]+):(\d+)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def outside_address() -> str | None:
    """This host's own address on its default route, if it has one and it is not loopback.

    Connecting a UDP socket sends nothing; it only picks the source address.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: any routable address would do
        except OSError:
            return None
        address = probe.getsockname()[0]
    return None if address.startswith("127.") else address


@contextmanager
def procfile_web(tmp_path: Path, port: int, **env: str) -> Iterator[tuple[str, int]]:
    """Run the Procfile's web line under honcho; yield the address gunicorn says it bound."""
    environ = {
        **os.environ,
        "PATH": f"{BIN}:{os.environ['PATH']}",
        "ASYNC_EVENTS_INSTANCE_PATH": str(tmp_path / "instance"),
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.db'}",
        **env,
    }
    if "WEB_BIND" not in env:
        environ.pop("WEB_BIND", None)
    cmd = [str(BIN / "honcho"), "start", "--no-colour", "--port", str(port), "web"]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=environ, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, start_new_session=True,
    )  # fmt: skip
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: [lines.put(x) for x in proc.stdout], daemon=True).start()
    try:
        yield _bound_address(lines, proc)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(20)


def _bound_address(lines: queue.Queue[str], proc: subprocess.Popen[str]) -> tuple[str, int]:
    seen = []
    while True:
        try:
            line = lines.get(timeout=60)
        except queue.Empty:
            pytest.fail(f"gunicorn did not say where it listens:\n{''.join(seen)}")
        seen.append(line)
        if match := LISTENING.search(line):
            return match[1], int(match[2])
        assert proc.poll() is None or not lines.empty(), "".join(seen)


def answers(host: str, port: int) -> bool:
    """Whether the app answers at host:port (directly: no proxy from the environment)."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"http://{host}:{port}/", timeout=5) as reply:
            return reply.status == 200
    except OSError:
        return False


def wait_answers(host: str, port: int, seconds: float = 60.0) -> bool:
    """Whether the app answers within ``seconds``: gunicorn's workers boot after it binds."""
    deadline = time.monotonic() + seconds
    while not answers(host, port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


@pytest.mark.slow
def test_make_run_listens_on_loopback_only(tmp_path: Path) -> None:
    port = free_port()
    with procfile_web(tmp_path, port) as bound:
        assert bound == ("127.0.0.1", port)
        assert wait_answers("127.0.0.1", port)
        outside = outside_address()
        if outside is not None:
            assert not answers(outside, port)


@pytest.mark.slow
def test_web_bind_opens_it_to_the_network(tmp_path: Path) -> None:
    port = free_port()
    with procfile_web(tmp_path, free_port(), WEB_BIND=f"0.0.0.0:{port}") as bound:
        assert bound == ("0.0.0.0", port)
        assert wait_answers(outside_address() or "127.0.0.1", port)


def _get(host: str, port: int, path: str, headers: dict[str, str]) -> tuple[int, str]:
    connection = HTTPConnection(host, port, timeout=10)
    try:
        connection.request("GET", path, headers=headers)
        reply = connection.getresponse()
        reply.read()
        return reply.status, reply.getheader("Content-Type", "")
    finally:
        connection.close()


@pytest.mark.slow
def test_the_web_server_lets_the_app_answer_up_to_its_own_limits(tmp_path: Path) -> None:
    """gunicorn refuses, with its own HTML, request lines past 4 KiB and header lines
    past 8 KiB by default: the app's limits (API_MAX_QUERY_BYTES, API_MAX_HEADER_BYTES)
    and its JSON answers would never be reached. The Procfile raises gunicorn's limits
    above the app's, so the app decides, and answers in JSON."""
    port = free_port()
    path = "/rest/V1/async_event_logs?q="
    limit = 7 * 1024  # the default API_MAX_QUERY_BYTES
    with procfile_web(tmp_path, port):
        assert wait_answers("127.0.0.1", port)
        within = path + "a" * (limit - len(path) + 1)  # the query string is "q=aaa..."
        assert _get("127.0.0.1", port, within, {}) == (401, "application/json")
        beyond = within + "a" * 100
        assert _get("127.0.0.1", port, beyond, {}) == (414, "application/json")
        one_big_header = {"X-Pad": "p" * 60_000}
        assert _get("127.0.0.1", port, path + "x", one_big_header) == (401, "application/json")
        too_many_bytes = {"X-Pad": "p" * 40_000, "X-More": "m" * 40_000}
        assert _get("127.0.0.1", port, path + "x", too_many_bytes) == (431, "application/json")
