"""Checkouts' workers on the same backlog, in turns, within one bench run.

``python bench/delivery.py --compare DIR[,DIR...]`` runs rounds of the backlog phase
with this checkout's workers and with the workers of each checkout given (say, ``git
archive main`` unpacked there), against the same database, Redis and receiver. On a
shared machine, runs of one code minutes apart differ more than two codes do; rounds
in the order this, DIR, DIR, this (for more checkouts, forward then back; repeated
``--rounds`` times), each with fresh workers, weigh a drift of the load on all alike.
The schema must be the same in all.
"""

from __future__ import annotations

from pathlib import Path

from bench import backlog, fixture, harness, scenarios


def compare(bench: fixture.Bench, others: list[Path], events: int, rounds: int) -> None:
    """Print each round's committed and arrival rates, lag and backlog, then the means."""
    roots = [harness.ROOT, *others]
    results: dict[Path, list[backlog.Drain]] = {root: [] for root in roots}
    cpus: dict[Path, list[float]] = {root: [] for root in roots}
    order = (roots + roots[::-1]) * rounds
    for n, root in enumerate(order):
        bench.receiver.reset()
        workers = bench.fleet.start_workers(suspended=True, root=root)
        with bench.app.app_context():
            scenarios.publish_batched(bench.events, events, offset=(n + 2) * 10**7)
        watch = bench.watch("d")
        pids = [w.pid for w in workers]
        cpu = harness.cpu_seconds(pids)
        bench.fleet.resume()
        drained = watch.drain(events * bench.fanout)
        per = (harness.cpu_seconds(pids) - cpu) * 1e6 / max(1, drained.logged)
        print(
            f"  round {n + 1}, {root}: {drained.summary()}; workers' CPU {per:.0f} µs/delivery",
            flush=True,
        )
        bench.fleet.stop_workers(workers)
        results[root].append(drained)
        cpus[root].append(per)
    for root, drains in results.items():
        committed = sum(d.rate for d in drains) / len(drains)
        arrived = sum(d.arrival_rate for d in drains) / len(drains)
        lag = sum(d.lag for d in drains) / len(drains)
        worst = max(d.max_unlogged for d in drains)
        print(
            f"compare {root}: committed {committed:.0f}/s ({[round(d.rate) for d in drains]}), "
            f"arrivals {arrived:.0f}/s, lag {lag:.2f} s, at most {worst} arrived but unlogged, "
            f"workers' CPU {sum(cpus[root]) / len(cpus[root]):.0f} µs/delivery "
            f"({[round(c) for c in cpus[root]]})"
        )
