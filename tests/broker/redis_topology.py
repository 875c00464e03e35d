"""Starts a real Redis Sentinel topology for tests: a primary, replicas and three sentinels.

Every process is a ``redis-server`` of this test's own, on a spare loopback port with its
files in a temporary directory; ``stop`` ends them all. Sentinels watch the service
``mymaster`` with a 1 s down-after and a small failover timeout, so killing the primary
promotes a replica within a few seconds::

    with SentinelTopology(tmp_path).start() as topology:
        app_config["REDIS_URL"] = topology.url()
        old = topology.kill_primary()          # SIGKILL, as a crash
        new, seconds = topology.wait_for_failover(old)
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import redis

T = TypeVar("T")
SERVICE = "mymaster"
HOST = "127.0.0.1"


@dataclass
class Node:
    """One redis-server process: a data node or a sentinel."""

    name: str
    port: int
    directory: Path
    config: Path
    sentinel: bool = False
    password: str | None = None
    process: subprocess.Popen[bytes] | None = None

    def client(self, timeout: float = 1.0, db: int = 0) -> redis.Redis:
        """A plain client of this node, without retries (a probe must see failures)."""
        return redis.Redis(
            HOST,
            self.port,
            db=db,
            password=self.password,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=None,
        )

    def log_tail(self, lines: int = 20) -> str:
        """The end of the node's log, for failure messages."""
        log = self.directory / "redis.log"
        return "\n".join(log.read_text().splitlines()[-lines:]) if log.exists() else "(no log)"


class SentinelTopology:
    """A primary, ``replicas`` replicas and ``sentinels`` sentinels on loopback."""

    def __init__(
        self,
        directory: Path,
        replicas: int = 1,
        sentinels: int = 3,
        down_after_ms: int = 1000,
        failover_timeout_ms: int = 3000,
        binary: str = "redis-server",
        password: str | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.password = password  # the data nodes'; the sentinels need none
        self.binary = shutil.which(binary) or binary
        self.down_after_ms = down_after_ms
        self.failover_timeout_ms = failover_timeout_ms
        ports = _spare_ports(1 + replicas + sentinels)
        self.data = [self._node(f"redis{i}", port) for i, port in enumerate(ports[: 1 + replicas])]
        self.sentinels = [
            self._node(f"sentinel{i}", port, sentinel=True)
            for i, port in enumerate(ports[1 + replicas :])
        ]

    def start(self, timeout: float = 30.0) -> SentinelTopology:
        """Start the data nodes, wait for the replicas to sync, then start the sentinels."""
        try:
            primary = self.data[0]
            for node in self.data:
                self._write_data_config(node, None if node is primary else primary.port)
                self._launch(node)
            for node in self.data[1:]:
                _wait(lambda n=node: _replication(n).get("master_link_status") == "up", timeout)
            for node in self.sentinels:
                self._write_sentinel_config(node, primary.port)
                self._launch(node)
            _wait(self._sentinels_agree, timeout, "the sentinels to find each other")
        except BaseException:
            self.stop()
            raise
        return self

    def url(self, db: int = 0) -> str:
        """The ``redis+sentinel://`` URL of this topology."""
        return f"redis+sentinel://{self.sentinel_hosts()}/{SERVICE}/{db}"

    def sentinel_hosts(self) -> str:
        """The sentinels as ``REDIS_SENTINELS`` lists them."""
        return ",".join(f"{HOST}:{node.port}" for node in self.sentinels)

    def primary(self) -> Node:
        """The data node a live sentinel names as primary now."""
        for sentinel in self.sentinels:
            if sentinel.process is None or sentinel.process.poll() is not None:
                continue
            try:
                _, port = sentinel.client().sentinel_get_master_addr_by_name(SERVICE)
            except redis.RedisError:
                continue
            return self.node(int(port))
        raise RuntimeError("no sentinel answers")

    def node(self, port: int) -> Node:
        """The data node on ``port``."""
        return next(node for node in self.data if node.port == port)

    def kill_primary(self) -> Node:
        """SIGKILL the current primary, as a crash would; return it."""
        primary = self.primary()
        self.kill(primary)
        return primary

    def kill(self, node: Node) -> None:
        """SIGKILL one node and reap it."""
        if node.process is not None and node.process.poll() is None:
            node.process.send_signal(signal.SIGKILL)
            node.process.wait(10)

    def restart(self, node: Node) -> None:
        """Start a killed node again on its port (the sentinels make it a replica)."""
        self._launch(node)

    def wait_for_failover(self, old: Node, timeout: float = 60.0) -> tuple[Node, float]:
        """Wait until every live sentinel names a new primary that answers as one.

        Returns that node and the seconds waited.
        """
        started = time.monotonic()

        def promoted() -> Node | None:
            ports = set()
            for sentinel in self.sentinels:
                if sentinel.process is not None and sentinel.process.poll() is None:
                    try:  # a sentinel busy failing over may be slow to answer: ask again
                        addr = sentinel.client().sentinel_get_master_addr_by_name(SERVICE)
                    except redis.RedisError:
                        return None
                    ports.add(int(addr[1]))
            if len(ports) != 1 or old.port in ports:
                return None
            new = self.node(ports.pop())
            return new if _role(new) == "master" else None

        new = _wait(promoted, timeout, f"a failover away from port {old.port}")
        return new, time.monotonic() - started

    def stop(self) -> None:
        """SIGKILL every process of the topology (nothing here is worth a final save)."""
        for node in self.sentinels + self.data:
            self.kill(node)

    def __enter__(self) -> SentinelTopology:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _node(self, name: str, port: int, sentinel: bool = False) -> Node:
        directory = self.directory / name
        directory.mkdir(parents=True, exist_ok=True)
        password = None if sentinel else self.password
        return Node(name, port, directory, directory / f"{name}.conf", sentinel, password)

    def _write_data_config(self, node: Node, primary_port: int | None) -> None:
        lines = [
            *_common(node),
            'save ""',
            "appendonly no",
            "repl-diskless-sync yes",
            "repl-diskless-sync-delay 0",
        ]
        if self.password:
            lines += [f"requirepass {self.password}", f"masterauth {self.password}"]
        if primary_port is not None:
            lines.append(f"replicaof {HOST} {primary_port}")
        node.config.write_text("\n".join(lines) + "\n")

    def _write_sentinel_config(self, node: Node, primary_port: int) -> None:
        lines = [
            *_common(node),
            f"sentinel monitor {SERVICE} {HOST} {primary_port} {len(self.sentinels) // 2 + 1}",
            f"sentinel down-after-milliseconds {SERVICE} {self.down_after_ms}",
            f"sentinel failover-timeout {SERVICE} {self.failover_timeout_ms}",
            f"sentinel parallel-syncs {SERVICE} 1",
        ]
        if self.password:
            lines.append(f"sentinel auth-pass {SERVICE} {self.password}")
        node.config.write_text("\n".join(lines) + "\n")

    def _launch(self, node: Node, timeout: float = 15.0) -> None:
        """Start ``node``'s process and wait until it answers as itself on its port."""
        cmd = [self.binary, str(node.config)] + (["--sentinel"] if node.sentinel else [])
        node.process = subprocess.Popen(
            cmd, cwd=node.directory, stdout=subprocess.DEVNULL, start_new_session=True
        )

        def answers() -> bool:
            if node.process.poll() is not None:
                raise RuntimeError(f"{node.name} exited:\n{node.log_tail()}")
            try:
                return node.client().info("server")["process_id"] == node.process.pid
            except redis.RedisError:
                return False

        _wait(answers, timeout, f"{node.name} on port {node.port}")

    def _sentinels_agree(self) -> bool:
        """Every sentinel sees the others, every replica, and the same primary."""
        for node in self.sentinels:
            try:
                state = node.client().sentinel_master(SERVICE)
            except redis.RedisError:
                return False
            if state["num-other-sentinels"] < len(self.sentinels) - 1:
                return False
            if state["num-slaves"] < len(self.data) - 1:
                return False
        return True


def _common(node: Node) -> list[str]:
    """Config lines every node shares: its loopback port, its own directory and log."""
    return [
        f"port {node.port}",
        f"bind {HOST}",
        "daemonize no",
        f"dir {node.directory}",
        f"logfile {node.directory / 'redis.log'}",
    ]


def _replication(node: Node) -> dict[str, Any]:
    """The node's INFO replication, or {} while it does not answer."""
    try:
        return node.client().info("replication")
    except redis.RedisError:
        return {}


def _role(node: Node) -> str | None:
    return _replication(node).get("role")


def _spare_ports(count: int) -> list[int]:
    """Ports the kernel just handed out and freed: unused, and unlikely to be taken soon."""
    sockets = []
    try:
        for _ in range(count):
            s = socket.socket()
            s.bind((HOST, 0))
            sockets.append(s)
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def _wait(check: Callable[[], T], timeout: float, what: str = "the topology") -> T:
    """Poll ``check`` until it returns something truthy; RuntimeError after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out after {timeout} s waiting for {what}")
