"""The parsed form of a Lucene query: the contract between the parser and every backend.

The parser (``app.search.lucene.parser``) resolves all syntax: operators, precedence,
escapes, ``field:>v`` ranges, groups and default fields. Backends resolve meaning:
lower-casing keyword values, numeric matching, date bounds on ``created``, date math.
Text is kept exactly as the user typed it, with escapes removed (except in
``Wildcard.pattern``, where ``\\`` still escapes ``*`` and ``?``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

ALL_FIELDS: None = None  # ``field`` of a bare term: search every field


@dataclass(frozen=True)
class Term:
    """``field:text`` or ``field:"text"``: a leaf whose whole value equals ``text``.

    Keyword values match case-insensitively; if ``text`` parses as a finite number,
    numeric leaves equal to it match too.
    """

    field: str | None
    text: str


@dataclass(frozen=True)
class Prefix:
    """``field:abc*``: a keyword leaf starting with ``prefix`` (case-insensitive)."""

    field: str | None
    prefix: str


@dataclass(frozen=True)
class Wildcard:
    """``field:a?c*d``: ``*`` any run, ``?`` one character, ``\\`` escapes; keyword leaves only."""

    field: str | None
    pattern: str


@dataclass(frozen=True)
class Range:
    """``field:[lower TO upper]``, ``{...}``, mixed, or ``field:>=v``; None is an open end."""

    field: str | None
    lower: str | None
    upper: str | None
    include_lower: bool
    include_upper: bool


@dataclass(frozen=True)
class Exists:
    """``_exists_:field`` or ``field:*``: the field, or any leaf below it, has a value."""

    field: str


@dataclass(frozen=True)
class MatchAll:
    """``*``, ``*:*``, or the match-all that a purely negative group implies."""


class Occur(Enum):
    """How a clause takes part in a Bool, as in Lucene's BooleanClause.Occur."""

    MUST = "must"
    SHOULD = "should"
    MUST_NOT = "must_not"


@dataclass(frozen=True)
class Clause:
    """One clause of a Bool."""

    occur: Occur
    query: Query


@dataclass(frozen=True)
class Bool:
    """Lucene's BooleanQuery with minimum-should-match 0.

    A document matches when it matches every MUST clause and no MUST_NOT clause,
    and, if there is no MUST clause, at least one SHOULD clause. The parser adds a
    MUST MatchAll to a Bool whose clauses are all MUST_NOT, as Elasticsearch does,
    so backends never see a purely negative Bool.
    """

    clauses: tuple[Clause, ...]


Query = Term | Prefix | Wildcard | Range | Exists | MatchAll | Bool


class QuerySyntaxError(ValueError):
    """The query does not parse, or uses a construct we do not support (fuzzy, regexp).

    ``position`` is the 0-based character offset where the problem was found.
    """

    def __init__(self, message: str, position: int | None = None) -> None:
        where = f" at position {position}" if position is not None else ""
        super().__init__(f"{message}{where}")
        self.message = message
        self.position = position
