"""Cursor paging links for the dashboard's grids: Older, Newer and Newest.

The search service pages forwards only, by an opaque cursor. To step back, each
link carries the trail of cursors that led to it (the newest ``TRAIL_LIMIT``); past
that, Newer goes to the first page. ``n`` is the page number, for "rows 51-100".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.db import values

TRAIL_LIMIT = 50
PAGE_SIZES = (25, 50, 100, 200)
DEFAULT_PAGE_SIZE = 50
MAX_PAGE = 10**9  # a page number beyond is not one these links made; it is recounted


@dataclass(frozen=True)
class Pager:
    """Where the page starts (1-based) and the query arguments of its neighbours."""

    first_row: int
    older: dict[str, str | int] | None
    newer: dict[str, str | int] | None


def page_size(raw: str | None) -> int:
    """The requested page size if it is one we offer, else the default."""
    size = values.whole(raw) if raw else None
    return size if size in PAGE_SIZES else DEFAULT_PAGE_SIZE


def pager(args: Mapping[str, Any], size: int, next_cursor: str | None) -> Pager:
    """The links around the page that ``args`` (cursor, trail, n) asked for."""
    cursor = args.get("cursor", "")
    trail = [c for c in args.get("trail", "").split(",") if c] if cursor else []
    number = _page_number(args.get("n"), cursor, trail)
    older = newer = None
    if next_cursor:
        older = _args(next_cursor, [*trail, cursor or "-"][-TRAIL_LIMIT:], number + 1)
    if cursor:
        previous = trail[-1] if trail else "-"
        newer = _args(previous, trail[:-1], number - 1 if trail else 0)
    return Pager(number * size + 1, older, newer)


def _args(cursor: str, trail: list[str], number: int) -> dict[str, str | int]:
    """Query arguments for a page; the first page ("-" in a trail) has none."""
    if cursor == "-" or number == 0:
        return {}
    return {"cursor": cursor, "trail": ",".join(trail), "n": number}


def _page_number(raw: str | int | None, cursor: str, trail: list[str]) -> int:
    if not cursor:
        return 0
    number = values.whole(str(raw)) if raw else None
    return number if number is not None and 0 < number <= MAX_PAGE else len(trail) + 1
