"""HTTP clients side by side: CPU per signed webhook POST, and POSTs per second, on loopback.

usage: python bench/senders.py [--posts 20000] [--concurrency 32] [--only NAME ...]

Every candidate sends the same ``--posts`` signed JSON bodies (about 600 bytes, as a
delivery's) to 20 endpoint paths of ``bench/receiver.py``, ``--concurrency`` at a time
over keep-alive connections, with the duties a delivery has: an HMAC signature per
body, no redirects followed, no decompression, at most 64 KiB of answer read, and a
10 s limit per POST. Each runs in a process of its own, so the CPU seconds it reports
(user + system, all its threads, from ``getrusage``) are the client's alone; the
receiver, in its own process, counts what arrived and checks every signature. A run
whose receipts or good signatures fall short of ``--posts`` is marked as failed.

Which limit each client can put on a POST differs, and it matters: a deadline over the
whole exchange (connect, send, every read) is what a delivery needs, since a receiver
that trickles its answer must not hold a sender past it. The table says which kind
each candidate gives. Candidates whose package is not installed are skipped, saying so.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import io
import json
import os
import resource
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.harness import SECRET, Procs, ReceiverClient, cpu_model

ENDPOINTS = 20
LIMIT_S = 10.0
CAP = 64 * 1024
KEY = SECRET.encode()
Work = list[tuple[str, bytes]]


def bodies(group: str, posts: int) -> Work:
    """``posts`` (path, body) pairs: one group per candidate, spread over the endpoints."""
    filler = "x" * 420  # a delivery's body is a few hundred bytes of event data
    work = []
    for n in range(posts):
        data = {"t": time.time(), "n": n, "sku": f"SKU-{n % 97}", "note": filler}
        body = json.dumps({"event": "bench.sender", "data": data}).encode()
        work.append((f"/{group}/ep{n % ENDPOINTS}", body))
    return work


def headers(body: bytes) -> dict[str, str]:
    """A delivery's headers, signed as the http sink signs them."""
    return {
        "content-type": "application/json",
        "user-agent": "async-events",
        "x-magento-signature": hmac.new(KEY, body, hashlib.sha256).hexdigest(),
    }


# Each candidate: send every (path, body) of ``work`` to ``url``; return the 200s.


def urllib3_threads(url: str, work: Work, concurrency: int) -> int:
    """The sender before issue 17: urllib3's pool on threads, one thread per send."""
    import urllib3

    pool = urllib3.PoolManager(maxsize=concurrency, retries=False)
    timeout = urllib3.Timeout(connect=LIMIT_S, read=LIMIT_S)

    def post(path: str, body: bytes) -> bool:
        sent = pool.urlopen("POST", url + path, body=body, headers=headers(body), timeout=timeout)
        return sent.status == 200

    return _threads(work, concurrency, post)


def app_transport(url: str, work: Work, concurrency: int) -> int:
    """What the http sink does now: app.sinks.transport, ``concurrency`` exchanges in flight."""
    from app.sinks.transport import Answer, Transport

    transport = Transport(0, LIMIT_S, LIMIT_S, CAP, max_connections=concurrency)
    items: Iterator[tuple[str, bytes]] = iter(work)
    finished = threading.Event()
    counts = {"ok": 0, "left": len(work)}
    lock = threading.Lock()

    def send() -> None:
        item = next(items, None)
        if item is not None:
            path, body = item
            deadline = time.monotonic() + LIMIT_S
            transport.start(url + path, body, headers(body), deadline, done)

    def done(result: object) -> None:
        with lock:
            counts["ok"] += isinstance(result, Answer) and result.status == 200
            counts["left"] -= 1
            if not counts["left"]:
                finished.set()
        send()

    for _ in range(concurrency):
        send()
    finished.wait()
    transport.close()
    return counts["ok"]


def httpcore_threads(url: str, work: Work, concurrency: int) -> int:
    """httpcore's sync pool on threads (httpx's core)."""
    import httpcore

    pool = httpcore.ConnectionPool(max_connections=concurrency)
    limits = {"timeout": {"connect": LIMIT_S, "read": LIMIT_S, "write": LIMIT_S, "pool": LIMIT_S}}

    def post(path: str, body: bytes) -> bool:
        sent = pool.request(
            "POST", url + path, headers=_pairs(body), content=body, extensions=limits
        )
        return sent.status == 200

    return _threads(work, concurrency, post)


def pyreqwest_threads(url: str, work: Work, concurrency: int) -> int:
    """pyreqwest's blocking client (Rust reqwest and hyper) on threads."""
    from pyreqwest.client import SyncClientBuilder

    client = _reqwest(SyncClientBuilder(), concurrency)

    def post(path: str, body: bytes) -> bool:
        sent = client.post(url + path).headers(headers(body)).body_bytes(body).build().send()
        sent.bytes()
        return sent.status == 200

    return _threads(work, concurrency, post)


def aiohttp_asyncio(url: str, work: Work, concurrency: int) -> int:
    """aiohttp (C HTTP parser) on the standard asyncio loop."""
    return asyncio.run(_aiohttp(url, work, concurrency))


def aiohttp_uvloop(url: str, work: Work, concurrency: int) -> int:
    """aiohttp on uvloop (libuv)."""
    import uvloop

    return uvloop.run(_aiohttp(url, work, concurrency))


async def _aiohttp(url: str, work: Work, concurrency: int) -> int:
    import aiohttp

    connector = aiohttp.TCPConnector(limit=concurrency, limit_per_host=concurrency)
    async with aiohttp.ClientSession(connector=connector, auto_decompress=False) as session:

        async def post(path: str, body: bytes) -> bool:
            async with (
                asyncio.timeout(LIMIT_S),
                session.post(
                    url + path, data=body, headers=headers(body), allow_redirects=False
                ) as sent,
            ):
                read = 0
                while read < CAP and (chunk := await sent.content.read(CAP - read)):
                    read += len(chunk)
                return sent.status == 200

        return await _tasks(work, concurrency, post)


def httpcore_asyncio(url: str, work: Work, concurrency: int) -> int:
    """httpcore's async pool on asyncio."""
    return asyncio.run(_httpcore(url, work, concurrency))


async def _httpcore(url: str, work: Work, concurrency: int) -> int:
    import httpcore

    async with httpcore.AsyncConnectionPool(max_connections=concurrency) as pool:

        async def post(path: str, body: bytes) -> bool:
            async with asyncio.timeout(LIMIT_S):
                sent = await pool.request("POST", url + path, headers=_pairs(body), content=body)
                return sent.status == 200

        return await _tasks(work, concurrency, post)


def pyreqwest_asyncio(url: str, work: Work, concurrency: int) -> int:
    """pyreqwest's async client (Rust, its own runtime thread) driven from asyncio."""
    return asyncio.run(_pyreqwest(url, work, concurrency))


async def _pyreqwest(url: str, work: Work, concurrency: int) -> int:
    from pyreqwest.client import ClientBuilder

    async with _reqwest(ClientBuilder(), concurrency) as client:

        async def post(path: str, body: bytes) -> bool:
            request = client.post(url + path).headers(headers(body)).body_bytes(body).build()
            sent = await request.send()
            await sent.bytes()
            return sent.status == 200

        return await _tasks(work, concurrency, post)


def pycurl_multi(url: str, work: Work, concurrency: int) -> int:
    """libcurl's multi interface: one thread, ``concurrency`` easy handles, C all the way."""
    import pycurl

    multi = pycurl.CurlMulti()
    idle = []
    for _ in range(concurrency):
        handle = pycurl.Curl()
        handle.setopt(pycurl.TIMEOUT_MS, int(LIMIT_S * 1000))  # the whole transfer
        handle.setopt(pycurl.NOSIGNAL, 1)
        handle.setopt(pycurl.FOLLOWLOCATION, 0)
        handle.setopt(pycurl.MAXFILESIZE, CAP)
        idle.append(handle)
    items: Iterator[tuple[str, bytes]] = iter(work)
    left, ok = len(work), 0
    while left:
        while idle and (item := next(items, None)) is not None:
            handle, (path, body) = idle.pop(), item
            handle.answer = io.BytesIO()
            handle.setopt(pycurl.URL, url + path)
            handle.setopt(pycurl.POSTFIELDS, body)
            handle.setopt(pycurl.HTTPHEADER, [f"{k}: {v}" for k, v in headers(body).items()])
            handle.setopt(pycurl.WRITEDATA, handle.answer)
            multi.add_handle(handle)
        while multi.perform()[0] == pycurl.E_CALL_MULTI_PERFORM:
            pass
        queued = 1
        while queued:
            queued, done, failed = multi.info_read()
            for handle in done:
                ok += handle.getinfo(pycurl.RESPONSE_CODE) == 200
            for handle in [*done, *(f[0] for f in failed)]:
                multi.remove_handle(handle)
                idle.append(handle)
                left -= 1
        if left:
            multi.select(0.5)
    return ok


CANDIDATES: dict[str, tuple[Callable[[str, Work, int], int], str]] = {
    "urllib3 threads (before)": (urllib3_threads, "per operation"),
    "app transport (now)": (app_transport, "whole exchange"),
    "httpcore threads": (httpcore_threads, "per operation"),
    "pyreqwest threads": (pyreqwest_threads, "whole exchange"),
    "aiohttp asyncio": (aiohttp_asyncio, "whole exchange"),
    "aiohttp uvloop": (aiohttp_uvloop, "whole exchange"),
    "httpcore asyncio": (httpcore_asyncio, "whole exchange"),
    "pyreqwest asyncio": (pyreqwest_asyncio, "whole exchange"),
    "pycurl multi": (pycurl_multi, "whole exchange"),
}
NEEDS = {"httpcore": "httpcore", "pyreqwest": "pyreqwest", "aiohttp": "aiohttp"}
NEEDS.update({"uvloop": "uvloop", "pycurl": "pycurl"})


def _reqwest(builder, concurrency: int):
    builder = builder.max_connections(concurrency).timeout(timedelta(seconds=LIMIT_S))
    return builder.follow_redirects(False).gzip(False).build()


def _pairs(body: bytes) -> list[tuple[bytes, bytes]]:
    return [(k.encode(), v.encode()) for k, v in headers(body).items()]


def _threads(work: Work, concurrency: int, post: Callable[[str, bytes], bool]) -> int:
    items, oks = iter(work), []
    lock = threading.Lock()

    def loop() -> None:
        ok = 0
        while True:
            with lock:
                item = next(items, None)
            if item is None:
                break
            try:
                ok += post(*item)
            except Exception as exc:  # a failed POST counts as not sent; say why once
                print(f"  ! {type(exc).__name__}: {exc}", file=sys.stderr)
        oks.append(ok)

    with ThreadPoolExecutor(concurrency) as pool:
        for _ in range(concurrency):
            pool.submit(loop)
    return sum(oks)


async def _tasks(work: Work, concurrency: int, post) -> int:
    items = iter(work)

    async def loop() -> int:
        ok = 0
        for item in items:  # one thread: tasks share the iterator safely
            try:
                ok += await post(*item)
            except Exception as exc:
                print(f"  ! {type(exc).__name__}: {exc}", file=sys.stderr)
        return ok

    return sum(await asyncio.gather(*(loop() for _ in range(concurrency))))


def child(name: str, url: str, posts: int, concurrency: int) -> None:
    """Run one candidate and print its figures as one JSON line."""
    send, _ = CANDIDATES[name]
    group = _group(name)
    warm = bodies(group + "-warm", ENDPOINTS * 10)  # open the connections, load the code
    send(url, warm, concurrency)
    work = bodies(group, posts)
    before, started = resource.getrusage(resource.RUSAGE_SELF), time.perf_counter()
    ok = send(url, work, concurrency)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    print(json.dumps({"ok": ok, "wall": wall, "cpu": cpu}), flush=True)


def _group(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name)


def _missing(name: str) -> str | None:
    for word, module in NEEDS.items():
        if word in name:
            try:
                __import__(module)
            except ImportError:
                return module
    return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--posts", type=int, default=20_000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--only", nargs="*", help="candidates whose name contains any of these")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        return child(args.child, args.url, args.posts, args.concurrency)
    print(f"# {cpu_model()}, {os.cpu_count()} CPUs, Python {sys.version.split()[0]}")
    print(f"# {args.posts} POSTs, {args.concurrency} at a time, to {ENDPOINTS} endpoints")
    print(f"{'client':24} {'POSTs/s':>8} {'CPU µs/POST':>12} {'received':>9}  limit per POST")
    rows = []
    folder = Path(tempfile.mkdtemp(prefix="bench-senders-"))
    procs = Procs(folder)
    try:
        receiver = ReceiverClient(procs)
        for name, (_, limit) in CANDIDATES.items():
            if args.only and not any(word in name for word in args.only):
                continue
            if missing := _missing(name):
                print(f"{name:24} skipped: {missing} is not installed")
                continue
            cmd = [sys.executable, __file__, "--child", name, "--url", receiver.url]
            cmd += ["--posts", str(args.posts), "--concurrency", str(args.concurrency)]
            done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
            lines = done.stdout.strip().splitlines()
            if done.returncode or not lines:
                print(f"{name:24} failed: {done.stderr.strip()[-300:]}")
                continue
            got = json.loads(lines[-1])
            seen = receiver.stats(_group(name))
            good = seen["count"] - seen["bad"]
            mark = "" if got["ok"] == good == args.posts else "  FAILED: short"
            rate, cpu_us = args.posts / got["wall"], got["cpu"] / args.posts * 1e6
            print(f"{name:24} {rate:8.0f} {cpu_us:12.0f} {good:9}  {limit}{mark}", flush=True)
            rows.append((name, rate, cpu_us))
    finally:
        procs.stop_all()
    if rows:
        best = min(rows, key=lambda row: row[2])
        now = next((row for row in rows if "(now)" in row[0]), None)
        ratio = f" cpu_ratio_vs_now={now[2] / best[2]:.2f}" if now else ""
        print(f"least_cpu={_group(best[0])} cpu_us={best[2]:.0f} posts_per_s={best[1]:.0f}{ratio}")


if __name__ == "__main__":
    main()
