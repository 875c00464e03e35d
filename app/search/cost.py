"""Query cost limits: how long a query's text may be, and how many clauses and wildcards it has.

Checked by ``app.usecases.search`` on every query before any backend sees it, so a
search that would scan the index hundreds of times over is refused in microseconds.
The clause count is that of the whole tree, as Lucene 9's ``IndexSearcher.maxClauseCount``
counts it, not of one group (the parser already refuses a group of more than 1,024):
every leaf is one clause, and a term that reads as a number two, because it is matched
as a keyword and as a number (Elasticsearch gets it as ``(f:"5" f.num:5.0)``). The
wildcard count is of prefix and wildcard terms (``CK*``, ``*@example.com``, ``Zo?``):
each one reads a range of the index, and one with a leading ``*`` or ``?`` the
keywords of a whole field, or of every field. ``f:*`` and ``_exists_:f`` are not
wildcards here: they read one field's postings as a list.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from app.search.lucene.ast import Bool, Prefix, Query, QuerySyntaxError, Term, Wildcard
from app.search.lucene.numbers import query_number


class QueryTooCostly(QuerySyntaxError):
    """The query parses but is over a cost limit; the message names the limit and the setting."""


@dataclass(frozen=True)
class CostLimits:
    """The most one query may ask for (``SEARCH_MAX_*`` settings); see the module docstring."""

    max_length: int = 4000
    max_clauses: int = 1024
    max_wildcards: int = 16

    def __post_init__(self) -> None:
        for name in ("max_length", "max_clauses", "max_wildcards"):
            if getattr(self, name) < 1:
                setting = f"SEARCH_{name.upper()}"
                raise ValueError(f"{setting} must be at least 1, got {getattr(self, name)!r}")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> CostLimits:
        """The limits the ``SEARCH_MAX_LENGTH``, ``_CLAUSES`` and ``_WILDCARDS`` settings set."""
        defaults = cls()
        return cls(
            int(config.get("SEARCH_MAX_LENGTH", defaults.max_length)),
            int(config.get("SEARCH_MAX_CLAUSES", defaults.max_clauses)),
            int(config.get("SEARCH_MAX_WILDCARDS", defaults.max_wildcards)),
        )


@dataclass(frozen=True)
class QueryCost:
    """What one parsed query costs: its clauses (leaves) and its wildcard terms."""

    clauses: int
    wildcards: int


def measure(query: Query) -> QueryCost:
    """The clauses and wildcard terms of ``query``, counted over the whole tree."""
    clauses = wildcards = 0
    pending = [query]
    while pending:  # a loop, not recursion: the parser allows deep nesting
        node = pending.pop()
        if isinstance(node, Bool):
            pending.extend(clause.query for clause in node.clauses)
            continue
        numeric = isinstance(node, Term) and query_number(node.text) is not None
        clauses += 2 if numeric else 1
        wildcards += isinstance(node, Prefix | Wildcard)
    return QueryCost(clauses, wildcards)


def check_length(text: str, limits: CostLimits) -> None:
    """Refuse a query text longer than ``max_length`` characters, before it is parsed."""
    if len(text) > limits.max_length:
        raise QueryTooCostly(
            f"the query is too long: {len(text)} characters, at most {limits.max_length} "
            f"(SEARCH_MAX_LENGTH)"
        )


def check_cost(query: Query, limits: CostLimits) -> QueryCost:
    """The cost of ``query``; raises QueryTooCostly when it is over a limit."""
    cost = measure(query)
    if cost.clauses > limits.max_clauses:
        raise QueryTooCostly(
            f"the query has too many clauses: {cost.clauses}, at most {limits.max_clauses} "
            f"(SEARCH_MAX_CLAUSES; every term, range or pattern counts, and a number "
            f"twice). Search for fewer values, or for one range that covers them"
        )
    if cost.wildcards > limits.max_wildcards:
        raise QueryTooCostly(
            f"the query has too many wildcard terms: {cost.wildcards}, at most "
            f"{limits.max_wildcards} (SEARCH_MAX_WILDCARDS; every term with * or ? counts). "
            f"Match whole values where you can, or use one pattern that covers several"
        )
    return cost
