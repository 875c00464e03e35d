"""How a leaf query tests one leaf, by SEARCH.md's semantics (for ``lucene_eval``).

Keywords compare lower-cased; numbers as doubles, ordered as Lucene orders them
(-0.0 below 0.0); ``created`` ranges as text, with date bounds from ``datemath``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from functools import lru_cache

from app.search.documents import Leaf
from app.search.lucene.ast import Prefix, Query, Range, Term, Wildcard
from app.search.lucene.datemath import date_bound
from app.search.lucene.numbers import query_number

LeafTest = Callable[[Leaf], bool]


def leaf_test(query: Query, now: datetime) -> LeafTest:
    """How a Term, Prefix, Wildcard or Range tests one leaf."""
    match query:
        case Term(text=text):
            return _equals(text.lower(), query_number(text))
        case Prefix(prefix=prefix):
            return _keyword(lambda value: value.startswith(prefix.lower()))
        case Wildcard(pattern=pattern):
            regex = _wildcard_regex(pattern.lower())
            return _keyword(lambda value: regex.fullmatch(value) is not None)
        case Range() if query.field != "created" and _is_numeric(query):
            low, high = _numeric_bounds(query)
            return lambda leaf: leaf.number is not None and low <= _key(leaf.number) <= high
        case Range():
            return _keyword(_text_range(query, now))
    raise TypeError(f"not a leaf query: {query!r}")


def _keyword(test: Callable[[str], bool]) -> LeafTest:
    """Wildcards, prefixes and text ranges see keyword leaves only."""
    return lambda leaf: leaf.keyword is not None and test(leaf.keyword)


def _equals(keyword: str, number: float | None) -> LeafTest:
    def test(leaf: Leaf) -> bool:
        if leaf.keyword == keyword:
            return True
        return number is not None and leaf.number is not None and _key(leaf.number) == _key(number)

    return test


def _is_numeric(query: Range) -> bool:
    """The oracle's rule: a numeric range when each bound is open or a number."""
    return all(b is None or query_number(b) is not None for b in (query.lower, query.upper))


def _numeric_bounds(query: Range) -> tuple[tuple[float, float], tuple[float, float]]:
    # DoublePoint.newRangeQuery's bounds: exclusive ends move by Math.nextUp/nextDown.
    low = query_number(query.lower) if query.lower is not None else None
    high = query_number(query.upper) if query.upper is not None else None
    if low is None:
        low = -math.inf
    elif not query.include_lower:
        low = math.nextafter(low, math.inf)
    if high is None:
        high = math.inf
    elif not query.include_upper:
        high = math.nextafter(high, -math.inf)
    return _key(low), _key(high)


def _key(number: float) -> tuple[float, float]:
    # Lucene orders doubles totally: -0.0 sorts below (and differs from) 0.0.
    return number, math.copysign(1.0, number)


def _text_range(query: Range, now: datetime) -> Callable[[str], bool]:
    """A range over lower-cased text; ``created`` bounds are dates or date math."""
    low, high = query.lower, query.upper
    if query.field == "created":
        low = None if low is None else date_bound(low, now, round_up=not query.include_lower)
        high = None if high is None else date_bound(high, now, round_up=query.include_upper)
    low, high = (None if b is None else b.lower() for b in (low, high))

    def test(value: str) -> bool:
        above = low is None or value > low or (query.include_lower and value == low)
        below = high is None or value < high or (query.include_upper and value == high)
        return above and below

    return test


@lru_cache(maxsize=512)
def _wildcard_regex(pattern: str) -> re.Pattern[str]:
    """``*`` any run, ``?`` one character, ``\\`` makes the next character literal."""
    parts = []
    for escaped, char in re.findall(r"(\\.?)|([\s\S])", pattern, flags=re.DOTALL):
        if escaped:
            parts.append(re.escape(escaped[1:] or "\\"))
        else:
            parts.append({"*": ".*", "?": "."}.get(char, re.escape(char)))
    return re.compile("".join(parts), re.DOTALL)
