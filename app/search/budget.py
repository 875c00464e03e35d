"""Time budgets: the deadline a search must meet, and the error when it does not.

A caller opens ``deadline(seconds)`` around its searches; every backend reads
``current()`` and makes its database or cluster stop at that moment (``sql.budget``
for SQLite and PostgreSQL, ``external`` for a cluster). Deadlines nest: an
inner one never extends an outer one, so a dashboard page can give its page and its
count one budget together, and the bulk-replay count its many batches. The deadline
lives in a context variable, so each request or thread has its own.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from app.search.lucene.ast import QuerySyntaxError


class SearchTimeout(QuerySyntaxError):
    """A search ran past its time budget and was stopped; nothing it found is returned.

    A QuerySyntaxError, as every "this query cannot be run as written" error is, so
    that every caller shows it as such; the REST API answers it with 422 rather
    than 400, because the same text may run within budget on a smaller history.
    """

    def __init__(self, seconds: float) -> None:
        super().__init__(
            f"the search took longer than {seconds:g} s and was stopped. Narrow it: "
            f"name the field (event_name:sales.*), add a time range (created:>now-1d), "
            f"or drop leading wildcards (*abc)"
        )
        self.seconds = seconds


@dataclass(frozen=True)
class Deadline:
    """A moment on ``time.monotonic()``'s clock, and the budget that set it (for messages)."""

    at: float
    seconds: float

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - time.monotonic()

    def timeout(self) -> SearchTimeout:
        """The error for having passed this deadline."""
        return SearchTimeout(self.seconds)


_current: ContextVar[Deadline | None] = ContextVar("search_deadline", default=None)


def current() -> Deadline | None:
    """The deadline searches run under here, or None for no limit."""
    return _current.get()


@contextmanager
def deadline(seconds: float | None) -> Iterator[Deadline | None]:
    """Searches in the block must end within ``seconds`` (None: no new limit).

    An enclosing deadline that comes sooner stays in force. Do not yield from a
    generator inside this block: the deadline would hold in the consumer's code.
    """
    if seconds is not None and seconds <= 0:
        raise ValueError(f"a search time budget must be positive, got {seconds!r}")
    outer = _current.get()
    if seconds is None or (outer is not None and outer.at <= time.monotonic() + seconds):
        yield outer
        return
    token = _current.set(Deadline(time.monotonic() + seconds, seconds))
    try:
        yield _current.get()
    finally:
        _current.reset(token)


@contextmanager
def restart(seconds: float | None = None) -> Iterator[Deadline | None]:
    """A new deadline, ``seconds`` (default: the current budget's) from now, replacing the
    enclosing one: for a second engine that answers after the first used the budget up.
    With neither, searches in the block have no limit, as outside it."""
    outer = _current.get()
    if seconds is None:
        seconds = outer.seconds if outer is not None else None
    if seconds is not None and seconds <= 0:
        raise ValueError(f"a search time budget must be positive, got {seconds!r}")
    fresh = None if seconds is None else Deadline(time.monotonic() + seconds, seconds)
    token = _current.set(fresh)
    try:
        yield fresh
    finally:
        _current.reset(token)
