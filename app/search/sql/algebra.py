"""Lucene's BooleanQuery (minimum-should-match 0) over an algebra: SQL tests or SQL sets.

``plan`` evaluates one query tree two ways with ``combine``: as a boolean test of a
document row (AND, OR, NOT) and as a set of log_ids (INTERSECT, UNION, EXCEPT).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import Select, and_, except_, intersect, select, union

from app.search.lucene.ast import Clause, Occur


def combine(
    clauses: tuple[Clause, ...],
    part: Callable,
    both: Callable,
    either: Callable,
    negate: Callable | None,
    everything: object,
) -> object:
    """Lucene's BooleanQuery with minimum-should-match 0, over any algebra.

    With ``negate`` None, MUST_NOT is a set difference; a Bool of only MUST_NOT
    clauses means everything except them (the parser adds that MatchAll itself).
    """
    musts = [part(c.query) for c in clauses if c.occur is Occur.MUST]
    shoulds = [part(c.query) for c in clauses if c.occur is Occur.SHOULD]
    nots = [part(c.query) for c in clauses if c.occur is Occur.MUST_NOT]
    if musts:
        base = both(*musts)
    elif shoulds:
        base = either(*shoulds)
    else:
        base = everything
    if not nots:
        return base
    if negate is not None:
        return and_(base, *(negate(n) for n in nots))
    return wrap(except_(base, either(*nots)))


def wrap(compound: object) -> Select:
    """A compound SELECT as a plain one, so it nests on SQLite too."""
    sub = compound.subquery()  # type: ignore[attr-defined]
    return select(sub.c[0])


def intersection(*parts: Select) -> Select:
    return parts[0] if len(parts) == 1 else wrap(intersect(*parts))


def union_of(*parts: Select) -> Select:
    return parts[0] if len(parts) == 1 else wrap(union(*parts))
