"""Timing the public queries for bench/search.py: first page and count, p50 and p95.

Each query gets one warm-up, then ``runs`` timed calls of ``search`` (limit 50) and of
``count``. A query meets its target when its first-page p95 is at most 50 ms, or 500 ms
for leading-wildcard and bare-term queries (the issue's targets).

``compare_limits`` times the same calls with and without what issue #13 added to every
search (the cost check, and the time budget: SQLite's progress handler, PostgreSQL's
savepoint and statement_timeout), the two alternating run by run, so that load on the
machine falls on both alike; it prints each query's p50s and their ratio. Each call
ends its transaction, as a request does, so each arm pays for its own.
"""

from __future__ import annotations

import gc
import os
import statistics
import time

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/13")


def report(db: str, url: str, queries: list[str], runs: int, rate: float, logs: int) -> None:
    from app import create_app
    from app.extensions import db as database
    from app.search.backend import ParsedQuery
    from app.search.indexing import get_backend
    from app.search.lucene.parser import parse

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL})
    # A full collection walks the app's ~160,000 long-lived objects (75 ms on the bench
    # machine) and lands on whichever query runs then; frozen, they are not walked.
    gc.collect()
    gc.freeze()
    failed = []
    print(f"\n{db}, {logs} logs: milliseconds, first page (50) and count")
    print(f"{'page p50':>9} {'page p95':>9} {'count p50':>10} {'count p95':>10} target  query")
    with app.app_context():
        backend = get_backend()
        for text in queries:
            query = ParsedQuery(text, parse(text))
            page = _timed(lambda q=query: backend.search(q, 50), runs)
            count = _timed(lambda q=query: backend.count(q), runs)
            database.session.rollback()  # end the read transaction between queries
            target = 500 if _scan_query(query.ast) else 50
            if page[1] > target:
                failed.append(text)
            figures = f"{page[0]:9.1f} {page[1]:9.1f} {count[0]:10.1f} {count[1]:10.1f}"
            print(f"{figures} {target:6d}  {text}")
        database.session.remove()
        database.engine.dispose()
    print(
        f"SUMMARY {db} logs={logs} import={rate:,.0f} logs/s (target 10,000); "
        f"{len(queries) - len(failed)}/{len(queries)} queries meet the first-page p95 target"
        + (f"; over target: {failed}" if failed else ""),
        flush=True,
    )


def compare_limits(db: str, url: str, queries: list[str], runs: int, logs: int) -> None:
    """p50 of page and count, without and with the cost check and the time budget."""
    from app import create_app
    from app.extensions import db as database
    from app.search import budget
    from app.search.backend import ParsedQuery
    from app.search.cost import CostLimits, check_cost
    from app.search.indexing import get_backend
    from app.search.lucene.parser import parse

    app = create_app({"SQLALCHEMY_DATABASE_URI": url, "REDIS_URL": REDIS_URL})
    gc.collect()
    gc.freeze()
    limits, seconds = CostLimits.from_config(app.config), app.config["SEARCH_TIMEOUT"]
    totals, ratios = [0.0, 0.0], ([], [])  # ratios: (pages, counts), with / without
    print(f"\n{db}, {logs} logs: p50 ms without / with limits and budget ({seconds:g} s)")
    print(f"{'page':>15} {'ratio':>6} {'count':>17} {'ratio':>6}  query")
    with app.app_context():
        backend = get_backend()

        def limited(call, ast):  # what the search service now adds around a backend call
            def run():
                check_cost(ast, limits)
                with budget.deadline(seconds):
                    call()

            return run

        def then_end(call):  # as a request ends its transaction (and a search's timeout)
            def run():
                call()
                database.session.rollback()

            return run

        for text in queries:
            query = ParsedQuery(text, parse(text))
            page = then_end(lambda q=query: backend.search(q, 50))
            count = then_end(lambda q=query: backend.count(q))
            pages = _alternating(page, limited(page, query.ast), runs)
            counts = _alternating(count, limited(count, query.ast), runs)
            database.session.rollback()
            totals = [totals[0] + pages[0] + counts[0], totals[1] + pages[1] + counts[1]]
            ratios[0].append(pages[1] / pages[0])
            ratios[1].append(counts[1] / counts[0])
            line = f"{pages[0]:7.1f} /{pages[1]:6.1f} {pages[1] / pages[0]:6.2f} "
            line += f"{counts[0]:8.1f} /{counts[1]:7.1f} {counts[1] / counts[0]:6.2f}"
            print(f"{line}  {text}", flush=True)
        database.session.remove()
        database.engine.dispose()
    page_ratio, count_ratio = (statistics.geometric_mean(r) for r in ratios)
    print(
        f"SUMMARY {db} logs={logs}: sum of p50s {totals[0]:.1f} ms without, {totals[1]:.1f} ms "
        f"with limits (ratio {totals[1] / totals[0]:.3f}); geometric mean of the ratios: "
        f"pages {page_ratio:.3f}, counts {count_ratio:.3f}",
        flush=True,
    )


def _alternating(plain: object, limited: object, runs: int) -> tuple[float, float]:
    """(p50 of ``plain``, p50 of ``limited``) in ms, run in turns after one warm-up each."""
    plain(), limited()  # type: ignore[operator]
    times: tuple[list[float], list[float]] = ([], [])
    for n in range(runs * 2):
        arm = (n + n // 2) % 2  # ABBA order: neither arm always goes first
        run = limited if arm else plain
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times[arm].append((time.perf_counter() - started) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def _timed(run: object, runs: int) -> tuple[float, float]:
    """(p50, p95) in milliseconds of ``runs`` calls after one warm-up call."""
    run()  # type: ignore[operator]
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        run()  # type: ignore[operator]
        times.append((time.perf_counter() - started) * 1000)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, round(0.95 * (len(times) - 1)))]


def _scan_query(ast: object) -> bool:
    """Leading-wildcard and bare-term queries, which the issue allows 500 ms."""
    from app.search.lucene.ast import Bool, Prefix, Range, Term, Wildcard

    if isinstance(ast, Bool):
        return any(_scan_query(c.query) for c in ast.clauses)
    if isinstance(ast, Term | Prefix | Wildcard | Range) and ast.field is None:
        return True
    return isinstance(ast, Wildcard) and ast.pattern[:1] in ("*", "?")
