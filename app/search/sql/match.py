"""Leaf queries in SQL: each Term, Prefix, Wildcard, Range or Exists as postings and a probe.

The semantics are SEARCH.md's (``tests/search/lucene/lucene_eval.py`` is the executable reference):
keywords compare lower-cased and in code point order, a numeric query value also
matches equal numbers, prefixes, wildcards and text ranges see keywords only, and
``created`` range bounds are dates or date math (``app.search.lucene.datemath``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, Select, and_, false, literal, or_, select

from app.models import SearchDocument, SearchKeyword, SearchNumber
from app.search.lucene.ast import Exists, Prefix, Query, Range, Term, Wildcard
from app.search.lucene.datemath import date_bound
from app.search.lucene.numbers import query_number
from app.search.sql.probe import KEYWORDS, NUMBERS, Condition, Probes
from app.search.sql.text import TextTests
from app.search.sql.values import NEGATIVE_ZERO, storable, stored_number

SEEK_FIELDS = 4  # an exact term on at most this many fields probes the postings, not the JSON


@dataclass(frozen=True)
class LeafSql:
    """A leaf query: ``postings`` SELECT the log_ids it matches (maybe repeated); ``probe``
    is true on a matching SearchDocument row; ``exact`` when ``postings`` is one
    posting list, so it has no repeated log_id; ``unbounded`` when no key range
    narrows them (a leading wildcard)."""

    postings: tuple[Select, ...]
    probe: ColumnElement[bool]
    exact: bool = False
    unbounded: bool = False  # postings scan whole fields: too slow to size or read whole


class LeafCompiler:
    """Compiles leaf queries against the known field paths of one database."""

    def __init__(self, dialect: str, paths: dict[str, int], now: datetime) -> None:
        self.paths, self.now = paths, now
        self.probes, self.text = Probes(dialect), TextTests(dialect)

    def compile(self, query: Query) -> LeafSql:
        """The SQL of one leaf query."""
        if isinstance(query, Term):
            return self._term(query)
        if isinstance(query, Prefix):
            return self._keywords(query.field, self.text.prefix(query.prefix.lower()))
        if isinstance(query, Wildcard):
            pattern = query.pattern.lower()
            leading = pattern[:1] in ("*", "?")
            return self._keywords(query.field, self.text.wildcard(pattern), unbounded=leading)
        if isinstance(query, Range):
            return self._range(query)
        if isinstance(query, Exists):
            return self._exists(query.field)
        raise TypeError(f"not a leaf query: {query!r}")

    def _term(self, query: Term) -> LeafSql:
        keyword = storable(query.text.lower())
        parts = [self._equal(SearchKeyword, KEYWORDS, query.field, keyword)]
        number = query_number(query.text)
        if number is not None:
            parts.append(self._equal(SearchNumber, NUMBERS, query.field, stored_number(number)))
        return _union(parts, exact=len(parts) == 1)

    def _equal(self, model: type, kind: str, field: str | None, value: object) -> LeafSql:
        ids, paths = self._fields(field)
        if not ids:
            return LeafSql((), false())
        postings = _postings(model, ids, lambda column: column == value)
        if len(ids) <= SEEK_FIELDS:  # one index seek per field beats parsing the JSON
            seek = [model.field_id.in_(ids), model.value == value]
            found = select(literal(1)).where(*seek, model.log_id == SearchDocument.log_id)
            probe = self.probes.exists(found)
        else:
            probe = self.probes.values(kind, paths, lambda column: column == value)
        return LeafSql((postings,), probe, exact=len(ids) == 1)

    def _keywords(self, field: str | None, test: Condition, unbounded: bool = False) -> LeafSql:
        ids, paths = self._fields(field)
        if not ids:
            return LeafSql((), false())
        postings = (_postings(SearchKeyword, ids, test),)
        return LeafSql(postings, self.probes.values(KEYWORDS, paths, test), unbounded=unbounded)

    def _range(self, query: Range) -> LeafSql:
        bounds = (query.lower, query.upper)
        if query.field != "created" and all(
            b is None or query_number(b) is not None for b in bounds
        ):
            return self._numbers(query.field, _number_test(query))
        low, high = query.lower, query.upper
        if query.field == "created":
            low = None if low is None else date_bound(low, self.now, not query.include_lower)
            high = None if high is None else date_bound(high, self.now, query.include_upper)
        low, high = (None if b is None else storable(b.lower()) for b in (low, high))
        test = self.text.between(low, high, query.include_lower, query.include_upper)
        return self._keywords(query.field, test)

    def _numbers(self, field: str | None, test: Condition) -> LeafSql:
        ids, paths = self._fields(field)
        if not ids:
            return LeafSql((), false())
        return LeafSql(
            (_postings(SearchNumber, ids, test),), self.probes.values(NUMBERS, paths, test)
        )

    def _exists(self, field: str) -> LeafSql:
        below = field + "."
        found = {p: i for p, i in self.paths.items() if p == field or p.startswith(below)}
        if not found:
            return LeafSql((), false())
        ids = sorted(found.values())
        postings = tuple(_postings(model, ids, None) for model in (SearchKeyword, SearchNumber))
        return LeafSql(postings, self.probes.present(sorted(found)))

    def _fields(self, field: str | None) -> tuple[list[int], list[str] | None]:
        """The field ids to search, and the paths for probes (None: every path)."""
        if field is None:
            return sorted(self.paths.values()), None
        known = self.paths.get(field)
        return ([known], [field]) if known is not None else ([], [field])


def _postings(model: type, ids: Sequence[int], test: Condition | None) -> Select:
    where = [model.field_id == ids[0] if len(ids) == 1 else model.field_id.in_(ids)]
    if test is not None:
        where.append(test(model.value))
    return select(model.log_id).where(*where)


def _union(parts: list[LeafSql], exact: bool) -> LeafSql:
    postings = tuple(p for part in parts for p in part.postings)
    return LeafSql(postings, or_(*(part.probe for part in parts)), exact and parts[0].exact)


def _number_test(query: Range) -> Condition:
    """DoublePoint's range: exclusive ends move to the next double (Math.nextUp/nextDown)."""
    low = None if query.lower is None else query_number(query.lower)
    high = None if query.upper is None else query_number(query.upper)
    if low is not None and not query.include_lower:
        low = math.nextafter(low, math.inf)
    if high is not None and not query.include_upper:
        high = math.nextafter(high, -math.inf)
    # Lucene orders -0.0 above -5e-324, which is where -0.0 is stored: an upper bound
    # of exactly -5e-324 must stop below it.
    top = None if high is None else (-1e-323 if high == NEGATIVE_ZERO else stored_number(high))
    bottom = None if low is None else stored_number(low)

    def test(column: ColumnElement) -> ColumnElement[bool]:
        limits = [column >= bottom] if bottom is not None else []
        limits += [column <= top] if top is not None else []
        return and_(*limits) if limits else column.is_not(None)

    return test
