"""Parsing an import file in forked worker processes, while the caller writes to the database.

Parsing and flattening cost as much CPU as the database writes, so ``parse_batches``
runs ``logparse.parse`` in forked workers while the caller writes the previous batch.
Only a single-threaded process forks (the CLI): a fork of one with other threads can
copy a lock another thread holds and hang, so there the parsing stays inline. Batches
come back in input order, a bounded number at a time, so memory stays flat.
"""

from __future__ import annotations

import multiprocessing
import threading
from collections import deque
from collections.abc import Iterable, Iterator
from typing import Any

from app.usecases.logparse import Parsed, parse


def numbered_batches(stream: Iterable[str], size: int) -> Iterator[list[tuple[int, str]]]:
    """Lines with their 1-based numbers, ``size`` non-blank lines at a time."""
    batch: list[tuple[int, str]] = []
    for number, line in enumerate(stream, start=1):
        batch.append((number, line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def parse_batches(
    stream: Iterable[str], size: int, dialect: str, prepare_sql: bool, workers: int
) -> Iterator[Parsed]:
    """Parsed batches in order; ``workers`` processes parse ahead (0: parse inline)."""
    batches = numbered_batches(stream, size)
    if workers <= 0 or threading.active_count() > 1:
        for lines in batches:
            yield parse(lines, dialect, prepare_sql)
        return
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        ahead: deque[Any] = deque()
        for lines in batches:
            ahead.append(pool.apply_async(parse, (lines, dialect, prepare_sql)))
            if len(ahead) > workers:
                yield ahead.popleft().get()
        while ahead:
            yield ahead.popleft().get()
