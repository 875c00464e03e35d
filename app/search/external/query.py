"""Elasticsearch requests: a parsed query as ``query_string`` text over our mapping.

Why we send the AST re-rendered rather than the operator's text as typed: over any
mapping, the typed text would differ from the contract where only the query can help.
``f:5`` must also match the string ``"5.0"`` and ``f:>100`` must compare the string
``"150.00"`` as a number, but numbers live in the ``f.num`` multi-field (see
``mapping``), which ``query_string`` only reads when named. And Elasticsearch rounds
a date-only bound up to the end of its day for ``gt``/``lte`` (``created:>2026-01-31``
would skip that whole day), where the contract means midnight; date math is resolved
here by ``datemath``, at the same ``now`` as the SQL backend would.

Rendering is mechanical: every clause keeps its occur (``+``/``-``/none, inside
parentheses, so precedence is explicit), terms are quoted, other values escaped.
Bare terms (no field) search ``BARE_FIELDS``: every contract leaf and its number.
A field Elasticsearch would read as a pattern or a metadata field (``*``, ``_id``)
names no contract leaf, so it matches nothing, as in the contract.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from app.search.lucene import datemath
from app.search.lucene.ast import (
    Bool,
    Exists,
    MatchAll,
    Occur,
    Prefix,
    Query,
    Range,
    Term,
    Wildcard,
)
from app.search.lucene.numbers import query_number

BARE_FIELDS = [
    "log_id",
    "subscription_id",
    "uuid",
    "event_name",
    "success",
    "response_data",
    "created.keyword",
    "data",
    "data.*",
    "*.num",
]
NOTHING = "(+*:* -*:*)"
MAX_PAGE = 10000  # index.max_result_window: the largest ``size`` one request may ask
_RESERVED = set('\\+-!():^[]"{}~*?|&/=<>')
_OCCUR = {Occur.MUST: "+", Occur.MUST_NOT: "-", Occur.SHOULD: ""}


def query_string(query: Query, now: datetime) -> dict[str, Any]:
    """The ``query`` clause of a search or count request."""
    return {
        "query_string": {
            "query": render(query, now),
            "fields": BARE_FIELDS,
            "default_operator": "OR",
            "allow_leading_wildcard": True,
            "analyze_wildcard": False,  # keyword values are never tokenized
            "lenient": True,  # "abc" against a number field matches nothing, not an error
        }
    }


def search_body(query: Query, now: datetime, size: int, before: int | None) -> dict[str, Any]:
    """One page of log_ids, newest first, below ``before`` (``search_after``) if given."""
    body: dict[str, Any] = {
        "query": query_string(query, now),
        "sort": [{"log_id": {"order": "desc"}}],
        "size": size,
        "_source": False,
        "track_total_hits": False,
    }
    if before is not None:
        body["search_after"] = [before]
    return body


def count_body(query: Query, now: datetime) -> dict[str, Any]:
    """How many documents match: a search of no hits that counts them all exactly."""
    return {"query": query_string(query, now), "size": 0, "track_total_hits": True}


def render(query: Query, now: datetime) -> str:
    """``query`` as query_string syntax with the contract's meaning over our mapping."""
    if isinstance(query, MatchAll):
        return "*:*"
    if isinstance(query, Bool):
        parts = [_OCCUR[c.occur] + render(c.query, now) for c in query.clauses]
        return f"({' '.join(parts)})" if parts else NOTHING
    if isinstance(query, Exists):
        return NOTHING if _unreachable(query.field) else f"_exists_:{escape(query.field)}"
    if query.field is not None and _unreachable(query.field):
        return NOTHING
    if isinstance(query, Term):
        return _term(query.field, query.text)
    if isinstance(query, Prefix):
        return _target(query.field, "keyword") + escape(query.prefix) + "*"
    if isinstance(query, Wildcard):
        return _target(query.field, "keyword") + _pattern(query.pattern)
    return _range(query, now)


def _term(field: str | None, text: str) -> str:
    whole = _target(field, "keyword") + quote(text)
    number = query_number(text)
    if field is None or field == "created" or number is None:
        return whole  # a bare term's number is searched through BARE_FIELDS' *.num
    return f"({whole} {_target(field, 'num')}{escape(repr(number))})"


def _range(query: Range, now: datetime) -> str:
    lower, upper = query.lower, query.upper
    if query.field == "created":
        lower = None if lower is None else datemath.date_bound(lower, now, not query.include_lower)
        upper = None if upper is None else datemath.date_bound(upper, now, query.include_upper)
        kind, show = "keyword", quote
    elif all(query_number(b) is not None for b in (lower, upper) if b is not None):
        kind, show = "num", lambda bound: escape(repr(query_number(bound)))
    else:
        kind, show = "keyword", quote
    low = "*" if lower is None else show(lower)
    high = "*" if upper is None else show(upper)
    brackets = ("[" if query.include_lower else "{", "]" if query.include_upper else "}")
    return f"{_target(query.field, kind)}{brackets[0]}{low} TO {high}{brackets[1]}"


def _target(field: str | None, kind: str) -> str:
    """The ``name:`` a clause of this kind searches; bare for keywords, ``*.num`` for numbers."""
    if field is None:
        return "" if kind == "keyword" else r"\*.num:"
    if field == "created":
        return "created.keyword:"
    return escape(field) + (".num:" if kind == "num" else ":")


def _unreachable(field: str) -> bool:
    return field.startswith("_") or "*" in field or "?" in field


def quote(text: str) -> str:
    """A phrase: one whole keyword value, with nothing special inside but ``"`` and ``\\``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def escape(text: str) -> str:
    """Text as one term: every character the classic parser treats specially, escaped."""
    return "".join("\\" + c if c in _RESERVED or c.isspace() else c for c in text)


def _pattern(pattern: str) -> str:
    """A Wildcard pattern: ``*``/``?`` stay wild, its escapes stay, the rest is escaped."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern[i] == "\\" and i + 1 < len(pattern):
            out.append(pattern[i : i + 2])
            i += 2
            continue
        out.append(pattern[i] if pattern[i] in "*?" else escape(pattern[i]))
        i += 1
    return "".join(out)
