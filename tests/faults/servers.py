"""Servers the fault suite may kill: a redis-server and a PostgreSQL cluster of its own.

Never the shared ones (127.0.0.1:6379 and :5432): other tests run on them. Each server
here listens on a spare loopback port and lives in a directory of its own.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import redis

START_TIMEOUT = 20.0  # s a server may take to answer after it starts


def spare_port() -> int:
    """A loopback TCP port that nothing listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RedisServer:
    """A ``redis-server`` without persistence on a spare port: killed, it comes back empty."""

    def __init__(self, binary: str, directory: Path) -> None:
        self.binary, self.directory = binary, directory
        self.port = spare_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RedisServer:
        """Start (or start again, empty) on the same port; return once it answers PING."""
        self.directory.mkdir(parents=True, exist_ok=True)
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly"]
        args += ["no", "--dir", str(self.directory), "--logfile", str(self.directory / "log")]
        self.proc = subprocess.Popen([self.binary, *args], stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{self.binary} did not start; see {self.directory / 'log'}")
            time.sleep(0.02)
        return self

    def kill(self) -> None:
        """SIGKILL the server: every key, queued job and scheduled retry is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)

    def client(self) -> redis.Redis:
        """A fresh client of this server."""
        return redis.Redis.from_url(self.url, socket_timeout=5)

    def _answers(self) -> bool:
        try:
            with self.client() as conn:
                return bool(conn.ping())
        except redis.RedisError:
            return False


def postgres_bin() -> Path | None:
    """The newest local PostgreSQL's binaries (Debian's layout), or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in Path(path).parent.parent.name.split(".") if p.isdigit())


class PostgresCluster:
    """A private PostgreSQL cluster (initdb into a temp dir) that a test may stop and start.

    PostgreSQL refuses to run as root, so as root (CI) its commands run as the
    ``postgres`` user, who owns the directory.
    """

    def __init__(self, bindir: Path) -> None:
        self.bindir = bindir
        self.port = spare_port()
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"
        self.directory: Path | None = None

    def start(self) -> PostgresCluster:
        """Create the cluster on first use, then start it and wait until it accepts."""
        if self.directory is None:
            self.directory = Path(tempfile.mkdtemp(prefix="faults-pg-", dir="/tmp"))
            if os.geteuid() == 0:
                shutil.chown(self.directory, "postgres", "postgres")
            data = str(self.directory / "data")
            self._run("initdb", "-D", data, "-A", "trust", "-U", "postgres", "-E", "UTF8")
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._ctl("start", "-o", options, "-l", str(self.directory / "log"))
        return self

    def stop(self, mode: str = "fast") -> None:
        """``pg_ctl stop -m fast`` (sessions ended, clean shutdown) or ``immediate`` (a crash)."""
        self._ctl("stop", "-m", mode)

    def destroy(self) -> None:
        """Stop the cluster whatever its state, and delete its directory."""
        if self.directory is None:
            return
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            self._ctl("stop", "-m", "immediate")
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory = None

    def _ctl(self, command: str, *args: str) -> None:
        assert self.directory is not None
        self._run("pg_ctl", command, "-D", str(self.directory / "data"), "-w", *args)

    def _run(self, program: str, *args: str) -> None:
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        cmd = [*user, str(self.bindir / program), *args]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, timeout=120)
