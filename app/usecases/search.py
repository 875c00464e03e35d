"""Searching delivery history with Lucene syntax: parse, page through, count and export.

Results are log rows newest first, paged by an opaque cursor (the last log_id seen),
never capped: callers page, or ``iter_all`` streams every match in bounded memory.
A query that does not parse raises ``QuerySyntaxError`` saying where and why; an
empty query matches every indexed log row.

Every query is held to the cost limits (``app.search.cost``: length, clauses, wildcard
terms; ``QueryTooCostly``) before any backend sees it, and every search to a time
budget (``app.search.budget``; ``SearchTimeout``): ``SEARCH_TIMEOUT`` for a page or a
count, ``SEARCH_EXPORT_TIMEOUT`` for each batch of ``iter_all``, which streams. Both
errors are QuerySyntaxErrors: every caller that shows a syntax error shows them too.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime

from flask import current_app
from sqlalchemy import select

from app.db import sqlite
from app.extensions import db
from app.models import DeliveryLog, Subscription
from app.search import budget
from app.search.backend import ParsedQuery, SearchUnavailable
from app.search.budget import SearchTimeout
from app.search.cost import CostLimits, QueryTooCostly, check_cost, check_length
from app.search.failover import Searcher
from app.search.lucene.ast import Bool, MatchAll, Query, QuerySyntaxError, Range
from app.search.lucene.datemath import date_bound
from app.search.lucene.parser import parse

__all__ = [
    "CursorError",
    "Hit",
    "QuerySyntaxError",
    "QueryTooCostly",
    "SearchPage",
    "SearchTimeout",
    "SearchUnavailable",
    "Searcher",
    "count",
    "iter_all",
    "search",
    "time_budget",
]


class CursorError(ValueError):
    """A page cursor that this service did not hand out."""


@dataclass(frozen=True)
class Hit:
    """One matching log row and its subscription's event name."""

    log: DeliveryLog
    event_name: str


@dataclass(frozen=True)
class SearchPage:
    """One page: the log_ids, their rows (newest first), the cursor of the next page, and
    which engine answered, with why when the embedded index stood in for the cluster."""

    ids: list[int]
    rows: list[Hit]
    next_cursor: str | None
    engine: str = ""
    notice: str | None = None


def parse_query(text: str) -> ParsedQuery:
    """The parsed query; an empty one matches everything. Raises QuerySyntaxError.

    The length limit applies before parsing, the clause and wildcard limits after
    (both QueryTooCostly). Date math is resolved once here too, so
    ``created:>now-1x`` fails before searching.
    """
    limits = CostLimits.from_config(current_app.config)
    check_length(text, limits)
    if not text.strip():
        return ParsedQuery(text, MatchAll())
    ast = parse(text)
    check_cost(ast, limits)
    _check_dates(ast)
    return ParsedQuery(text, ast)


def time_budget(seconds: float | None = None) -> AbstractContextManager[object]:
    """Searches inside share one deadline: ``seconds`` from now, or ``SEARCH_TIMEOUT``.

    For a caller that runs several searches for one answer (a page and its count,
    the bulk-replay count's batches); an enclosing deadline that comes sooner holds.
    """
    return budget.deadline(seconds or current_app.config["SEARCH_TIMEOUT"])


def search(
    text: str, page_size: int = 50, cursor: str | None = None, searcher: Searcher | None = None
) -> SearchPage:
    """One page of matches, newest first, after ``cursor`` (None: the first page).

    Within ``SEARCH_TIMEOUT`` (or an enclosing ``time_budget``), else SearchTimeout.
    ``searcher`` (default: a new one, external cluster first) picks the engine; pass
    the same one to ``count`` so a page and its total come from one engine.
    """
    if page_size < 1:
        raise ValueError(f"page_size must be at least 1, got {page_size}")
    query = parse_query(text)
    searcher = searcher or Searcher()
    _only_reading()
    with time_budget():
        found = searcher.search(query, page_size + 1, _decode(cursor))
    ids = found[:page_size]
    next_cursor = _encode(ids[-1]) if len(found) > page_size else None
    # Reading the page's rows is no search: it gets a budget of its own, since a cluster
    # that was too slow may have used the search's up before the embedded index answered.
    with budget.restart():
        rows = _hits(ids)
    return SearchPage(ids, rows, next_cursor, searcher.engine, searcher.notice)


def iter_all(
    text: str, batch: int = 1000, seconds: float | None = None, searcher: Searcher | None = None
) -> Iterator[Hit]:
    """Every match, newest first, ``batch`` rows at a time (CSV export, bulk replay).

    Each batch must come within ``seconds`` (default ``SEARCH_EXPORT_TIMEOUT``, or less
    inside a ``time_budget``), else SearchTimeout; the whole has no limit, since its
    rows go out as they are found. If the cluster fails part-way, the embedded index
    goes on from the same log_id (``searcher.notice`` says so).
    """
    query = parse_query(text)
    seconds = seconds or current_app.config["SEARCH_EXPORT_TIMEOUT"]
    backend, before = searcher or Searcher(), None
    while True:
        _only_reading()
        with budget.deadline(seconds):  # closed before yielding: see budget.deadline
            ids = backend.search(query, batch, before)
            with budget.restart():  # as in page(): the rows' read is no search
                hits = _hits(ids)
        yield from hits
        if len(ids) < batch:
            return
        before = ids[-1]


def count(text: str, searcher: Searcher | None = None) -> int:
    """How many log rows match, within ``SEARCH_TIMEOUT`` (or an enclosing ``time_budget``)."""
    query = parse_query(text)
    _only_reading()
    with time_budget():
        return (searcher or Searcher()).count(query)


def _only_reading() -> None:
    """Search in a transaction that takes no write lock on SQLite.

    A search may take its whole budget, and wait on a slow cluster before that; a
    transaction that may write (every one on SQLite, from its BEGIN: see
    ``app.db.sqlite``) would hold the write lock every worker's recorder needs for that
    long. One the caller opened with nothing pending (a token or user lookup) is ended
    first; one with pending changes is left alone, to be committed by its owner.
    """
    session = db.session()
    if session.new or session.dirty or session.deleted:
        return
    if session.in_transaction():
        session.commit()
    sqlite.begin_read_only(session)


def _hits(ids: list[int]) -> list[Hit]:
    """The rows of ``ids`` in that order (a row deleted since the search is skipped)."""
    if not ids:
        return []
    query = (
        select(DeliveryLog, Subscription.event_name)
        .join(Subscription, Subscription.subscription_id == DeliveryLog.subscription_id)
        .where(DeliveryLog.log_id.in_(ids))
    )
    found = {log.log_id: Hit(log, name) for log, name in db.session.execute(query)}
    return [found[i] for i in ids if i in found]


def _encode(log_id: int) -> str:
    return base64.urlsafe_b64encode(f"before:{log_id}".encode()).decode().rstrip("=")


def _decode(cursor: str | None) -> int | None:
    if not cursor:
        return None
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        kind, _, value = text.partition(":")
        # ASCII digits within BIGINT: isdigit() takes "²", and a larger id overflows the column.
        if kind == "before" and value.isascii() and value.isdecimal() and int(value) < 2**63:
            return int(value)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise CursorError(f"not a search cursor: {cursor!r}")


def _check_dates(query: Query) -> None:
    """Resolve every ``created`` range bound now, so bad date math is a syntax error."""
    if isinstance(query, Bool):
        for clause in query.clauses:
            _check_dates(clause.query)
    elif isinstance(query, Range) and query.field == "created":
        now = datetime.now(UTC)
        for bound in (query.lower, query.upper):
            if bound is not None:
                date_bound(bound, now, round_up=False)
