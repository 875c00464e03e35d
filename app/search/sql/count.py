"""Counting matches in the SQL index: the universe, "everything except", or sets.

Every document has exactly one ``log_id`` number leaf, so the universe is counted on
that posting list (an index range) rather than on the wide document rows, and
"everything except X" is the universe minus X.
"""

from __future__ import annotations

from sqlalchemy import func, select

from app.extensions import db
from app.models import SearchNumber
from app.search.lucene.ast import Bool, Clause, MatchAll, Occur, Query
from app.search.sql.plan import Plan

COUNT_CAP = 50000  # candidates read whole and probed for a count; above, set algebra


def count_matches(plan: Plan, query: Query) -> int:
    """How many indexed log rows ``query`` matches."""
    if isinstance(query, MatchAll):
        return universe(plan)
    if isinstance(query, Bool):
        excluded = _everything_except(query)
        if excluded is not None:
            return universe(plan) - count_matches(plan, excluded)
    found = plan.candidates(query, COUNT_CAP)
    if found is not None:
        matches = plan.probed(query, found).subquery()
    elif not isinstance(query, Bool) and plan.leaf(query).exact:
        matches = plan.leaf(query).postings[0].subquery()  # one posting list: no repeats
    else:
        matches = plan.sets(query).subquery()
    return db.session.scalar(select(func.count()).select_from(matches)) or 0


def universe(plan: Plan) -> int:
    """How many documents are indexed."""
    field = plan.compiler.paths.get("log_id")
    if field is None:
        return 0
    count = select(func.count()).where(SearchNumber.field_id == field)
    return db.session.scalar(count) or 0


def _everything_except(query: Bool) -> Query | None:
    """X when ``query`` is "everything except X" (MUST_NOT clauses beside match-all)."""
    nots = [c.query for c in query.clauses if c.occur is Occur.MUST_NOT]
    others = [c for c in query.clauses if c.occur is not Occur.MUST_NOT]
    if not nots or not all(isinstance(c.query, MatchAll) for c in others):
        return None
    if any(c.occur is Occur.SHOULD for c in others) and not others:
        return None
    return nots[0] if len(nots) == 1 else Bool(tuple(Clause(Occur.SHOULD, q) for q in nots))
