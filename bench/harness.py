"""The delivery benchmark's processes: receiver, workers, web server, and RSS sampling.

Every process is started here in its own session and stopped by its own id.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import psutil
import requests

ROOT = Path(__file__).resolve().parent.parent
SECRET = "bench-secret"
FERNET_KEY = "r0vNb3HkLmT4mB6JcS2t3h0o_dT1c2VhWw0k8Y1xN4E="  # a throwaway bench key
APP_WORKER = [sys.executable, "-m", "flask", "--app", "wsgi", "rq", "worker", "--with-scheduler"]


def environment(folder: Path, database_url: str, redis_url: str, events_xml: Path) -> None:
    """Point this process, and so every child, at the bench's own app setup."""
    os.environ.update(
        ASYNC_EVENTS_INSTANCE_PATH=str(folder / "instance"),
        ASYNC_EVENTS_DEFINITIONS=str(events_xml),
        DATABASE_URL=database_url,
        REDIS_URL=redis_url,
        TOKEN_ENCRYPTION_KEYS=FERNET_KEY,
        DELIVERY_ALLOWED_NETWORKS="127.0.0.0/8",
        PYTHONPATH=str(ROOT),
    )


class Procs:
    """Child processes of the bench, each in its own session, logs under ``folder``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(
        self, name: str, cmd: list[str], root: Path = ROOT, **kwargs: Any
    ) -> subprocess.Popen[bytes]:
        """Start ``cmd`` in the checkout ``root``, its output in ``<folder>/<name>.log``."""
        log = open(self.folder / f"{name}.log", "ab")  # noqa: SIM115 - lives with the child
        kwargs.setdefault("stdout", log)
        env = dict(os.environ, PYTHONPATH=str(root))
        proc = subprocess.Popen(
            cmd, cwd=root, stderr=log, start_new_session=True, env=env, **kwargs
        )
        self.procs.append(proc)
        return proc

    def stop(self, procs: list[subprocess.Popen[bytes]], grace: float = 5.0) -> None:
        """SIGTERM each process group, SIGKILL what is left after ``grace`` seconds."""
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        deadline = time.monotonic() + grace
        for proc in procs:
            try:
                proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()

    def stop_all(self) -> None:
        """Stop everything this bench started."""
        self.stop(self.procs, grace=2.0)


class ReceiverClient:
    """Starts ``bench/receiver.py`` and reads its counts."""

    def __init__(self, procs: Procs) -> None:
        cmd = [sys.executable, str(ROOT / "bench" / "receiver.py"), SECRET]
        self.proc = procs.start("receiver", cmd, stdout=subprocess.PIPE)
        assert self.proc.stdout is not None
        self.url = f"http://127.0.0.1:{int(self.proc.stdout.readline())}"
        self.session = requests.Session()

    def stats(self, group: str) -> dict[str, float]:
        """Counts and latencies of ``group``."""
        return self.session.get(f"{self.url}/stats/{group}", timeout=30).json()

    def count(self, group: str) -> dict[str, float]:
        """Receipts of ``group`` and the first and last arrival times, without latencies."""
        return self.session.get(f"{self.url}/count/{group}", timeout=30).json()

    def timeline(self, group: str) -> list[float]:
        """The p99 latency (ms) of ``group``'s events by second of publishing."""
        return self.session.get(f"{self.url}/timeline/{group}", timeout=30).json()

    def reset(self) -> None:
        """Forget every receipt."""
        self.session.post(f"{self.url}/reset", timeout=30)

    def wait(self, group: str, count: int, stall: float = 60.0) -> dict[str, float]:
        """Wait for ``count`` receipts in ``group``; give up after ``stall`` s without progress."""
        last, since = -1, time.monotonic()
        while True:
            got = self.stats(group)
            if got["count"] >= count:
                return got
            if got["count"] != last:
                last, since = got["count"], time.monotonic()
            elif time.monotonic() - since > stall:
                print(f"  ! {group}: {got['count']}/{count} received, no progress", flush=True)
                return got
            time.sleep(0.1)


class RssSampler(threading.Thread):
    """Samples the RSS of some process trees every ``interval`` s; keeps peaks and a series."""

    def __init__(self, pids: list[int], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pids, self.interval = pids, interval
        self.peak: dict[int, int] = dict.fromkeys(pids, 0)
        self.series: list[tuple[float, int]] = []  # (time, largest tree RSS)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(self.interval):
            sizes = {pid: _tree_rss(pid) for pid in self.pids}
            for pid, size in sizes.items():
                self.peak[pid] = max(self.peak[pid], size)
            self.series.append((time.monotonic(), max(sizes.values(), default=0)))

    def stop(self) -> None:
        """Stop sampling."""
        self.stopped.set()


def _tree_rss(pid: int) -> int:
    """RSS of a worker and its children (RQ's scheduler runs in a forked child)."""
    try:
        root = psutil.Process(pid)
        return sum(p.memory_info().rss for p in [root, *root.children(recursive=True)])
    except psutil.Error:
        return 0


def profile(procs: list[subprocess.Popen[bytes]], folder: Path, seconds: int) -> None:
    """py-spy each worker for ``seconds`` (in the background): collapsed stacks in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    spy = Path(sys.executable).parent / "py-spy"
    for proc in procs:
        out = folder / f"worker-{proc.pid}.txt"
        cmd = [str(spy), "record", "-p", str(proc.pid), "-d", str(seconds), "-r", "200", "--gil"]
        subprocess.Popen([*cmd, "--format", "raw", "-o", str(out)], stdout=subprocess.DEVNULL)


def cpu_seconds(pids: list[int]) -> float:
    """User plus system CPU seconds so far of ``pids`` and their children (a worker's
    scheduler child); a process gone is counted as 0."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            proc = psutil.Process(pid)
            for one in [proc, *proc.children(recursive=True)]:
                times = one.cpu_times()
                total += times.user + times.system
        except psutil.NoSuchProcess:
            continue
    return total


def cpu_model() -> str:
    """The CPU's model name, as lscpu says it."""
    try:
        lines = subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines()
    except OSError:
        return "?"
    return next((line.split(":", 1)[1].strip() for line in lines if "Model name" in line), "?")


def load() -> str:
    """The machine's load average over 1, 5 and 15 minutes."""
    return " ".join(f"{value:.2f}" for value in os.getloadavg())
