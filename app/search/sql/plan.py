"""Query plans: a whole query as a per-document test, a candidate set, or set algebra.

Three ways to evaluate a query, chosen by ``app.search.sql.backend``; the boolean logic of the
first and last is ``sql_algebra.combine``:

- ``probe``: a boolean test of one SearchDocument row (MUST is AND, SHOULD is OR when
  nothing is MUST, MUST_NOT is AND NOT), for scanning documents newest-first.
- ``candidates``: postings that contain every match (the smallest MUST leaf, or all
  SHOULD leaves), when they are small enough to read whole and then probe.
- ``sets``: the exact match set as UNION / INTERSECT / EXCEPT of postings, for counts.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import (
    ColumnElement,
    Select,
    and_,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union,
    union_all,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import True_

from app.models import SearchDocument
from app.search.lucene.ast import Bool, Clause, MatchAll, Occur, Query
from app.search.sql.algebra import combine, intersection, union_of, wrap
from app.search.sql.match import LeafCompiler, LeafSql

WALK_SIZE = 50000  # exact MUST leaves are compared by their size counted up to this


@dataclass(frozen=True)
class Candidates:
    """Postings holding every match; ``leaf`` is set when they are exactly one leaf's."""

    postings: tuple[Select, ...]
    size: int
    leaf: Query | None = None


class Plan:
    """One parsed query against one database: compiled leaves and their estimated sizes."""

    def __init__(self, session: Session, query: Query, compiler: LeafCompiler) -> None:
        self.session, self.query, self.compiler = session, query, compiler
        self._leaves: dict[Query, LeafSql] = {}
        self._sizes: dict[tuple[Query, int], int] = {}

    def leaf(self, query: Query) -> LeafSql:
        """The compiled SQL of a leaf query (compiled once)."""
        if query not in self._leaves:
            self._leaves[query] = self.compiler.compile(query)
        return self._leaves[query]

    def probe(self, query: Query, skip: Query | None = None) -> ColumnElement[bool]:
        """True on a SearchDocument row that ``query`` matches; ``skip`` is taken as true."""
        if query is skip or isinstance(query, MatchAll):
            return true()
        if not isinstance(query, Bool):
            return self.leaf(query).probe
        return combine(query.clauses, lambda q: self.probe(q, skip), and_, or_, not_, true())

    def candidates(self, query: Query, cap: int) -> Candidates | None:
        """Postings of at most ``cap`` rows that hold every match, or None if there are none."""
        if isinstance(query, MatchAll):
            return None
        if not isinstance(query, Bool):
            if self.leaf(query).unbounded:
                return None
            size = self.size(query, cap)
            return Candidates(self.leaf(query).postings, size, query) if size <= cap else None
        musts = [c.query for c in query.clauses if c.occur is Occur.MUST]
        if musts:
            found = [c for c in (self.candidates(q, cap) for q in musts) if c is not None]
            return min(found, key=lambda c: c.size) if found else None
        shoulds = [c.query for c in query.clauses if c.occur is Occur.SHOULD]
        found = [self.candidates(q, cap) for q in shoulds]
        if not shoulds or any(c is None for c in found):
            return None
        size = sum(c.size for c in found if c is not None)
        postings = tuple(p for c in found if c is not None for p in c.postings)
        return Candidates(postings, size) if size <= cap else None

    def walk(self, query: Query) -> Select:
        """log_ids to read newest-first, each tested against ``query``: the shortest exact
        MUST leaf's posting list (one key range, in log_id order) with the rest probed per
        row, which reaches matches sooner than the documents do; else every document."""
        exact = [c.query for c in _musts(query) if self.leaf(c.query).exact]
        if not exact:
            return select(SearchDocument.log_id).where(self.probe(query))
        leaf = min(exact, key=lambda q: self.size(q, WALK_SIZE)) if len(exact) > 1 else exact[0]
        postings = self.leaf(leaf).postings[0]
        column = postings.selected_columns[0]
        test = self.probe(query, skip=leaf)
        document = select(literal(1)).where(SearchDocument.log_id == column, test)
        return postings.where(self.compiler.probes.exists(document))

    def size(self, query: Query, cap: int) -> int:
        """How many posting rows a leaf reads, counted up to ``cap + 1``."""
        key = (query, cap)
        if key not in self._sizes:
            total = 0
            for postings in self.leaf(query).postings:
                # In key order: PostgreSQL, whose statistics mix every field's values,
                # otherwise may scan the whole table hoping to reach the limit early.
                table = postings.get_final_froms()[0]
                ordered = postings.order_by(table.c.field_id, table.c.value, table.c.log_id)
                bounded = ordered.limit(cap + 1 - total).subquery()
                total += self.session.scalar(select(func.count()).select_from(bounded)) or 0
                if total > cap:
                    break
            self._sizes[key] = total
        return self._sizes[key]

    def probed(self, query: Query, found: Candidates, before: int | None = None) -> Select:
        """Distinct candidate log_ids (below ``before``) whose document passes ``query``.

        Each candidate's document is probed through a per-row EXISTS: joining instead
        let PostgreSQL, misjudging the candidates' number, walk every document.
        """
        postings = found.postings
        if not postings:  # a leaf on a field no document has
            return select(SearchDocument.log_id).where(false())
        ids = (union_all(*postings) if len(postings) > 1 else postings[0]).subquery()
        statement = select(ids.c.log_id).distinct()
        if before is not None:
            statement = statement.where(ids.c.log_id < before)
        test = self.probe(query, skip=found.leaf)
        if isinstance(test, True_):  # postings exist only for indexed documents
            return statement
        document = select(literal(1)).where(SearchDocument.log_id == ids.c.log_id, test)
        return statement.where(self.compiler.probes.exists(document))

    def sets(self, query: Query) -> Select:
        """A SELECT of exactly the matching log_ids (no repeats), by set algebra."""
        if isinstance(query, MatchAll):
            return select(SearchDocument.log_id)
        if not isinstance(query, Bool):
            postings = self.leaf(query).postings
            if not postings:
                return select(SearchDocument.log_id).where(false())
            return wrap(union(*postings)) if len(postings) > 1 else postings[0].distinct()
        everything = select(SearchDocument.log_id)
        return combine(query.clauses, self.sets, intersection, union_of, None, everything)


def _musts(query: Query) -> list[Clause]:
    """The MUST clauses of a Bool that are leaves (no groups, no match-all)."""
    if not isinstance(query, Bool):
        return []
    leaves = [c for c in query.clauses if not isinstance(c.query, Bool | MatchAll)]
    return [c for c in leaves if c.occur is Occur.MUST]
