"""Search benchmark: import N generated logs with import-logs, then time every public query.

usage: python bench/search.py [--logs N] [--db sqlite|postgresql|both] [--runs R] [--corpus F]
                              [--compare-limits]

For each database: a fresh database (SQLite in a temporary folder; PostgreSQL at
``BENCH_POSTGRES_URL``, database ``bench_search`` by default, dropped and created),
``flask db upgrade``, then ``flask import-logs`` of ``gen_corpus.py N 7`` (or ``--corpus``,
a file it wrote earlier). The import rate is the wall time of that command; its CPU
time (itself and its parsing workers, not the database server) is printed beside it,
as the figure that other load on the machine disturbs least. Then each query
of ``queries-public.txt``: one warm-up, then ``R`` timed runs of the first page
(``search``, limit 50) and of ``count``. Targets (the issue): first page p95 <= 50 ms,
or <= 500 ms for leading-wildcard and bare-term queries; import >= 10,000 logs/s.
``--compare-limits`` times every query with and without the cost limits and time
budget instead, in turns (``search_timing.compare_limits``).
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench import search_timing  # noqa: E402
from tests.support import shared_dir  # noqa: E402

POSTGRES_BENCH = os.environ.get(
    "BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/bench_search"
)
REDIS_URL = search_timing.REDIS_URL


def main() -> None:
    args = _arguments()
    search = shared_dir() / "search"
    queries = [q for q in (search / "queries-public.txt").read_text().splitlines()]
    queries = [q for q in queries if q.strip() and not q.startswith("#")]
    with tempfile.TemporaryDirectory(prefix="bench-search-") as folder:
        corpus = args.corpus or _generate(search, args.logs, Path(folder))
        for db in ("sqlite", "postgresql") if args.db == "both" else (args.db,):
            url = _fresh_database(db, Path(folder))
            rate = _import(url, corpus, Path(folder), args.batch_size)
            if args.compare_limits:
                search_timing.compare_limits(db, url, queries, args.runs, args.logs)
            else:
                search_timing.report(db, url, queries, args.runs, rate, args.logs)


def _generate(search: Path, logs: int, folder: Path) -> Path:
    """``gen_corpus.py logs 7`` written to ``folder``."""
    corpus = folder / "corpus.jsonl"
    started = time.perf_counter()
    with corpus.open("w") as out:
        generator = [sys.executable, str(search / "gen_corpus.py"), str(logs), "7"]
        subprocess.run(generator, stdout=out, check=True)
    print(f"generated {logs} logs in {time.perf_counter() - started:.0f} s", flush=True)
    return corpus


def _arguments() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--db", choices=("sqlite", "postgresql", "both"), default="sqlite")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--batch-size", type=int, default=100000)
    parser.add_argument("--corpus", type=Path, help="a gen_corpus.py file of --logs lines")
    parser.add_argument(
        "--compare-limits", action="store_true", help="time with and without limits, in turns"
    )
    return parser.parse_args()


def _fresh_database(db: str, folder: Path) -> str:
    if db == "sqlite":
        return f"sqlite:///{folder / 'bench.db'}"
    from sqlalchemy import create_engine, make_url, text

    url = make_url(POSTGRES_BENCH)
    engine = create_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{url.database}"'))
    engine.dispose()
    return POSTGRES_BENCH


def _env(url: str, folder: Path) -> dict[str, str]:
    env = dict(os.environ, DATABASE_URL=url, REDIS_URL=REDIS_URL, PYTHONPATH=str(ROOT))
    env["ASYNC_EVENTS_INSTANCE_PATH"] = str(folder / "instance")
    return env


def _import(url: str, corpus: Path, folder: Path, batch_size: int) -> float:
    env = _env(url, folder)
    flask = [sys.executable, "-m", "flask", "--app", "wsgi"]
    subprocess.run([*flask, "db", "upgrade"], cwd=ROOT, env=env, check=True, capture_output=True)
    started, cpu = time.perf_counter(), _children_cpu()
    command = [*flask, "import-logs", str(corpus), "--batch-size", str(batch_size)]
    done = subprocess.run(command, cwd=ROOT, env=env, check=True, capture_output=True, text=True)
    seconds, cpu = time.perf_counter() - started, _children_cpu() - cpu
    rows = int(done.stdout.split()[1])
    print(
        f"{url.split(':')[0]}: {done.stdout.strip()} in {seconds:.1f} s "
        f"({rows / seconds:,.0f} logs/s; import-logs CPU {cpu:.1f} s)",
        flush=True,
    )
    return rows / seconds


def _children_cpu() -> float:
    """CPU seconds (user and system) of every finished child process so far."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


if __name__ == "__main__":
    main()
