"""Builders: the queries the oracle's QueryParser subclass makes, as AST nodes.

Each function mirrors one factory method of QueryParserBase as LuceneOracle.java
overrides it, so the grammar (``app.search.lucene.grammar``) stays a transcription of
QueryParser.jj and every decision about meaning lives here.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from app.search.lucene.ast import (
    ALL_FIELDS,
    Bool,
    Clause,
    Exists,
    MatchAll,
    Occur,
    Prefix,
    Query,
    QuerySyntaxError,
    Range,
    Term,
    Wildcard,
)
from app.search.lucene.escapes import discard_escape_char, wildcard_pattern
from app.search.lucene.lexer import Kind, Token

DEFAULT_FIELD = "_all"  # the oracle's default field: a name for "every field"
EXISTS_FIELD = "_exists_"
MAX_CLAUSES = 1024  # BooleanQuery.getMaxClauseCount()


class Conj(Enum):
    """The conjunction before a clause (QueryParserBase.CONJ_*)."""

    NONE = 0
    AND = 1
    OR = 2


class Mod(Enum):
    """The modifier before a clause (QueryParserBase.MOD_*): none, ``-``/``NOT``/``!``, ``+``."""

    NONE = 0
    NOT = 10
    REQ = 11


@dataclass
class PendingClause:
    """A clause still open to change: a later ``AND`` makes the one before it MUST."""

    occur: Occur
    query: Query


def add_clause(clauses: list[PendingClause], conj: Conj, mod: Mod, query: Query) -> None:
    """QueryParserBase.addClause with the default operator OR."""
    if clauses and conj is Conj.AND and clauses[-1].occur is not Occur.MUST_NOT:
        clauses[-1].occur = Occur.MUST
    if mod is Mod.NOT:
        occur = Occur.MUST_NOT
    elif mod is Mod.REQ or conj is Conj.AND:
        occur = Occur.MUST
    else:
        occur = Occur.SHOULD
    clauses.append(PendingClause(occur, query))


def boolean_query(clauses: list[PendingClause], position: int) -> Bool:
    """getBooleanQuery: as the oracle (and Elasticsearch) do, a purely negative Bool gets
    a MUST MatchAll, so ``NOT a`` means "everything except a".

    Like Lucene's BooleanQuery (maxClauseCount), a Bool holds at most 1024 clauses,
    that MatchAll included; ``position`` is where the group starts, for the error.
    """
    frozen = tuple(Clause(c.occur, c.query) for c in clauses)
    if all(c.occur is Occur.MUST_NOT for c in frozen):
        frozen = (Clause(Occur.MUST, MatchAll()), *frozen)
    if len(frozen) > MAX_CLAUSES:
        message = f"too many clauses in one group ({len(frozen)}, at most {MAX_CLAUSES})"
        raise QuerySyntaxError(message, position)
    return Bool(frozen)


def bare_token_query(field: str, token: Token, slop: Token | None) -> Query:
    """handleBareTokenQuery: wildcard, then prefix, then regexp, then fuzzy, then a term.

    In that order: ``a*~2`` is a prefix query (the slop is dropped), ``a~2`` an error.
    """
    text = discard_escape_char(token.image, token.start)  # validates escapes for all kinds
    if token.kind in (Kind.STAR, Kind.WILDTERM):
        return wildcard_query(field, token.image)
    if token.kind is Kind.PREFIXTERM:
        return prefix_query(field, discard_escape_char(token.image[:-1], token.start))
    if token.kind is Kind.REGEXPTERM:
        raise QuerySyntaxError("regular expressions (/.../) are not supported", token.start)
    if slop is not None:
        raise QuerySyntaxError("fuzzy queries (term~) are not supported", slop.start)
    if token.kind is Kind.BAREOPER:
        text = token.image[0]  # `a + b`: a lone operator is searched for as a term
    return field_query(field, text)


def field_query(field: str, text: str) -> Query:
    """getFieldQuery (terms, phrases and whitespace runs): a whole-value match, or Exists."""
    if field == EXISTS_FIELD:
        return Exists(text)
    return Term(_field(field), text)


def wildcard_query(field: str, image: str) -> Query:
    """getWildcardQuery, given the raw token (escapes kept): ``*`` is MatchAll or Exists."""
    if image == "*":
        return MatchAll() if field in (DEFAULT_FIELD, "*") else Exists(field)
    return Wildcard(_field(field), wildcard_pattern(image))


def prefix_query(field: str, prefix: str) -> Query:
    """getPrefixQuery, given the text before the final ``*`` with escapes removed."""
    return Prefix(_field(field), prefix)


def range_query(
    field: str, lower: str | None, upper: str | None, include_lower: bool, include_upper: bool
) -> Query:
    """getRangeQuery: the oracle reads a bound of ``*`` as open even when quoted or escaped."""
    lower = None if lower == "*" else lower
    upper = None if upper == "*" else upper
    return Range(_field(field), lower, upper, include_lower, include_upper)


def _field(field: str) -> str | None:
    # `_all:x` names the oracle's default field explicitly: it is a bare term.
    return ALL_FIELDS if field == DEFAULT_FIELD else field
