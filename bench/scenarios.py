"""The delivery benchmark's phases: publishing, draining a backlog, paced latency, stall, soak.

The workers they measure are started by the caller (``bench/delivery.py``). Nothing here
imports the app at module level: its config is read from the environment at import,
which the bench sets first.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

import requests
from flask import Flask

from bench.harness import ReceiverClient, RssSampler


def publish_inprocess(events: list[str], count: int, offset: int = 0) -> float:
    """Publish ``count`` events with ``publish()`` one by one; return events/s."""
    from app.delivery import publishing  # the app reads its config at import

    started = time.perf_counter()
    for n in range(offset, offset + count):
        publishing.publish(events[n % len(events)], {"t": time.time(), "n": n})
    return count / (time.perf_counter() - started)


def publish_threads(events: list[str], count: int, offset: int, threads: int = 8) -> float:
    """Publish ``count`` events with ``publish()`` from ``threads`` threads at once, each
    returning only once its event is committed; return events/s."""
    from flask import current_app

    from app.delivery import publishing

    app = current_app._get_current_object()

    def publisher(first: int) -> None:
        with app.app_context():
            for n in range(first, offset + count, threads):
                publishing.publish(events[n % len(events)], {"t": time.time(), "n": n})

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(publisher, range(offset, offset + threads)))
    return count / (time.perf_counter() - started)


def publish_batched(events: list[str], count: int, offset: int, batch: int = 100) -> float:
    """Publish ``count`` events with ``publish_many()``, ``batch`` at a time; return events/s."""
    from app.delivery import publishing

    started = time.perf_counter()
    for first in range(offset, offset + count, batch):
        last = min(first + batch, offset + count)
        publishing.publish_many(
            (events[n % len(events)], {"t": time.time(), "n": n}, 0) for n in range(first, last)
        )
    return count / (time.perf_counter() - started)


def publish_rest(base: str, token: str, events: list[str], count: int, clients: int = 4) -> float:
    """POST ``count`` events to the REST publish route from ``clients`` threads; return events/s."""
    sessions = [requests.Session() for _ in range(clients)]
    url = f"{base}/rest/V1/async_events/publish"
    headers = {"Authorization": f"Bearer {token}"}

    def post(n: int) -> None:
        body = {"event_name": events[n % len(events)], "arguments": {"t": time.time(), "n": n}}
        answer = sessions[n % clients].post(url, json=body, headers=headers, timeout=30)
        assert answer.status_code == 202, answer.text

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(post, range(count)))
    return count / (time.perf_counter() - started)


def paced(
    publish: Callable[[int], None], events_per_s: float, seconds: float, offset: int = 0
) -> int:
    """Call ``publish(n)`` at ``events_per_s`` for ``seconds``; return how many were published."""
    total = max(1, int(events_per_s * seconds))
    started = time.perf_counter()
    for i in range(total):
        delay = started + i / events_per_s - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
        publish(offset + i)
    return total


def soak(
    app: Flask,
    receiver: ReceiverClient,
    events: list[str],
    fanout: int,
    deliveries: int,
    sampler: RssSampler,
) -> dict[str, object]:
    """Publish until ``deliveries`` arrived, keeping at most 20,000 in flight; RSS over time."""
    target = deliveries // fanout
    published, started, reported = 0, time.monotonic(), 0
    while published < target:
        received = receiver.stats("d")["count"]
        if received >= reported + deliveries // 10:
            reported = received - received % (deliveries // 10)
            rss = sampler.series[-1][1] // 2**20 if sampler.series else 0
            elapsed = time.monotonic() - started
            print(f"soak: {received} delivered in {elapsed:.0f} s, worker RSS {rss} MB", flush=True)
        room = min(target - published, (20_000 - (published * fanout - received)) // fanout)
        if room <= 0:
            time.sleep(0.05)
            continue
        with app.app_context():
            publish_inprocess(events, min(room, 500), offset=published)
        published += min(room, 500)
    got = receiver.wait("d", target * fanout)
    return {"received": got["count"], "seconds": round(time.monotonic() - started, 1)}


def rss_trend(series: list[tuple[float, int]]) -> tuple[list[int], bool]:
    """RSS (MB) at each tenth of the run after the first, and whether it stayed flat.

    Flat: the last tenth's peak is within 10% (or 10 MB) of the second tenth's peak,
    so allocator warm-up in the first tenth does not count as growth.
    """
    if len(series) < 20:
        return [round(size / 2**20) for _, size in series], True
    tenth = len(series) // 10
    peaks = [max(size for _, size in series[i * tenth : (i + 1) * tenth]) for i in range(10)]
    flat = peaks[-1] <= max(peaks[1] * 1.10, peaks[1] + 10 * 2**20)
    return [round(p / 2**20) for p in peaks], flat
