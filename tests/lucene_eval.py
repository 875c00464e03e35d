"""Reference evaluator: which log rows a parsed query matches, by SEARCH.md's semantics.

A test oracle for the parser (its results must equal real Lucene's) and the matching
engine of the fake Elasticsearch server. It works on ``app.search.documents.leaves``:
keyword leaves compare lower-cased, numbers as doubles, ``created`` as text with date
bounds from ``app.search.datemath``.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from functools import lru_cache

from app.search.ast import Bool, Exists, MatchAll, Occur, Prefix, Query, Range, Term, Wildcard
from app.search.backend import LogDocument
from app.search.datemath import date_bound
from app.search.documents import Leaf, decode, keyword_fits, leaves
from app.search.numbers import query_number

_LeafTest = Callable[[Leaf], bool]


def evaluate(query: Query, docs: list[LogDocument], now: datetime) -> list[int]:
    """The log_ids of ``docs`` that ``query`` matches, newest (highest) first."""
    return Index(docs).search(query, now)


def corpus_documents(lines: Iterable[str]) -> list[LogDocument]:
    """Log rows from ``gen_corpus.py`` JSONL, as the documents a backend indexes."""
    docs = []
    for line in lines:
        row = json.loads(line)
        fields = {k: row[k] for k in ("log_id", "subscription_id", "uuid", "event_name")}
        fields |= {k: row[k] for k in ("success", "created", "response_data")}
        docs.append(LogDocument(**fields, data=decode(row.get("serialized_data"))))
    return docs


class Index:
    """The leaves of some documents by field, so that many queries can be run cheaply."""

    def __init__(self, docs: Iterable[LogDocument], limited: bool = False) -> None:
        """``limited``: keywords beyond ``KEYWORD_LIMIT`` are not indexed, as in our backends
        (real Lucene, which the oracle runs, has no such limit)."""
        self.ids: set[int] = set()
        self.by_field: dict[str, list[tuple[int, Leaf]]] = defaultdict(list)
        self.by_path: dict[str, set[int]] = defaultdict(set)  # path or parent path → ids
        for doc in docs:
            self.ids.add(doc.log_id)
            for leaf in _limited(leaves(doc)) if limited else leaves(doc):
                self.by_field[leaf.field].append((doc.log_id, leaf))
                parts = leaf.field.split(".")
                for depth in range(1, len(parts) + 1):
                    self.by_path[".".join(parts[:depth])].add(doc.log_id)

    def search(self, query: Query, now: datetime) -> list[int]:
        """Matching log_ids, highest first; ``now`` resolves date math."""
        return sorted(self.match(query, now), reverse=True)

    def match(self, query: Query, now: datetime) -> set[int]:
        """The set of matching log_ids."""
        match query:
            case MatchAll():
                return set(self.ids)
            case Exists(field=field):
                return set(self.by_path.get(field, ()))
            case Bool():
                return self._bool(query, now)
        test = _leaf_test(query, now)
        return {doc for doc, leaf in self._leaves(query.field) if test(leaf)}

    def _bool(self, query: Bool, now: datetime) -> set[int]:
        # Lucene with minimum-should-match 0: SHOULD counts only when nothing is MUST.
        groups: dict[Occur, list[set[int]]] = defaultdict(list)
        for clause in query.clauses:
            groups[clause.occur].append(self.match(clause.query, now))
        if groups[Occur.MUST]:
            found = set.intersection(*groups[Occur.MUST])
        else:
            found = set().union(*groups[Occur.SHOULD])
        return found.difference(*groups[Occur.MUST_NOT])

    def _leaves(self, field: str | None) -> Iterator[tuple[int, Leaf]]:
        if field is not None:
            yield from self.by_field.get(field, ())
            return
        for pairs in self.by_field.values():
            yield from pairs


def _limited(found: Iterable[Leaf]) -> Iterator[Leaf]:
    """Leaves as ``ignore_above`` leaves them: a long keyword goes, its number stays."""
    for leaf in found:
        if leaf.keyword is None or keyword_fits(leaf.keyword):
            yield leaf
        elif leaf.number is not None:
            yield Leaf(leaf.field, None, leaf.number)


def _leaf_test(query: Query, now: datetime) -> _LeafTest:
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


def _keyword(test: Callable[[str], bool]) -> _LeafTest:
    """Wildcards, prefixes and text ranges see keyword leaves only."""
    return lambda leaf: leaf.keyword is not None and test(leaf.keyword)


def _equals(keyword: str, number: float | None) -> _LeafTest:
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
