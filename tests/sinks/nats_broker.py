"""The NATS side of the nats sink tests: streams on the shared broker, read back with nats-py.

nats-py (the official client, a test-only dependency) sets up and inspects JetStream
independently of the sink's own protocol code, so a test checks the sink against what
a real consumer sees. Each helper runs its own short asyncio loop and connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import socket
import ssl
import subprocess
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import nats
import pytest
from nats.js import JetStreamContext
from nats.js.api import DiscardPolicy, StreamConfig

NATS = ("127.0.0.1", 4222)
NATS_URL = "nats://127.0.0.1:4222"


def require_broker() -> None:
    """Skip (fail under CI=true) when the shared NATS is not listening."""
    try:
        socket.create_connection(NATS, timeout=1).close()
    except OSError:
        if os.environ.get("CI"):
            pytest.fail(f"NATS is not reachable at {NATS_URL} (CI needs it)")
        pytest.skip(f"NATS not reachable at {NATS_URL}")


def js_run(
    action: Callable[[JetStreamContext], Awaitable[Any]],
    url: str = NATS_URL,
    tls: ssl.SSLContext | None = None,
) -> Any:
    """Run ``action(jetstream)`` on a fresh connection to ``url`` (credentials in the URL)."""

    async def main() -> Any:
        conn = await nats.connect(url, allow_reconnect=False, connect_timeout=2, tls=tls)
        try:
            return await action(conn.jetstream())
        finally:
            await conn.close()

    return run_apart(main())


def run_apart(coroutine: Coroutine[Any, Any, Any]) -> Any:
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright keeps an event
    loop running in the main thread for the whole session, where ``asyncio.run`` refuses."""
    with ThreadPoolExecutor(1, thread_name_prefix="nats-test") as pool:
        return pool.submit(asyncio.run, coroutine).result()


@dataclass(frozen=True)
class Stream:
    """A stream made for one test, capturing ``subject`` (and only it)."""

    name: str
    subject: str
    url: str = NATS_URL
    tls: ssl.SSLContext | None = None

    def messages(self) -> list[Any]:
        """Every message in the stream, read through an ephemeral pull consumer."""

        async def fetch(js: JetStreamContext) -> list[Any]:
            count = (await js.stream_info(self.name)).state.messages
            if not count:
                return []
            sub = await js.pull_subscribe(self.subject, stream=self.name)
            got: list[Any] = []
            while len(got) < count:
                got += await sub.fetch(count - len(got), timeout=2)
            for msg in got:
                await msg.ack()
            return got

        return js_run(fetch, self.url, self.tls)

    def delete(self) -> None:
        """Delete the stream."""
        js_run(lambda js: js.delete_stream(self.name), self.url, self.tls)


def make_stream(url: str = NATS_URL, tls: ssl.SSLContext | None = None, **limits: Any) -> Stream:
    """A uniquely named stream on ``url`` with the given limits (``max_msgs``, ``discard``...)."""
    tag = uuid.uuid4().hex[:12]
    stream = Stream(f"TEST_{tag}", f"test.{tag}.events", url, tls)
    config = StreamConfig(name=stream.name, subjects=[stream.subject], **limits)
    js_run(lambda js: js.add_stream(config), url, tls)
    return stream


DISCARD_NEW = DiscardPolicy.NEW


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def own_server(store: Path, *options: str) -> Iterator[int]:
    """A private nats-server with JetStream and ``options`` (e.g. ``--user``), on a free port.

    For what the shared broker must not be reconfigured for, such as requiring a login.
    """
    binary = shutil.which("nats-server")
    if binary is None:
        if os.environ.get("CI"):
            pytest.fail("nats-server is not installed (CI needs it)")
        pytest.skip("nats-server is not installed")
    port = free_port()
    command = [binary, "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(store), *options]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_listening(port)
        yield port
    finally:
        process.terminate()
        process.wait(10)


def _wait_listening(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
