"""The embedded search backend: an inverted index in the application's own database.

Index rows are written in the transaction that writes the log rows, so search is
never behind and never loses a row. A page of results is found one of two ways
(``app.search.sql.plan``): when some MUST leaf (or every SHOULD leaf) matches at most
``CANDIDATE_CAP`` rows, those candidates are read whole and each is probed; otherwise
documents are scanned newest-first with the probe, in growing windows, until the
page is full or ``SCAN_BUDGET`` log_ids were covered, after which set algebra over
the postings finds the rest. When the query has an exact MUST leaf (a term on one
field), the windows read that leaf's posting list instead of the documents. Counts
use candidates or set algebra. Both run within the search's time budget, if it has
one (``app.search.sql.budget`` on SQLite, ``app.search.sql.pg_budget`` on PostgreSQL).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, func, select

from app.extensions import db
from app.models import SearchDocument
from app.search.backend import LogDocument, ParsedQuery
from app.search.lucene.ast import Bool, MatchAll
from app.search.sql.budget import enforced
from app.search.sql.count import count_matches
from app.search.sql.fields import FieldIds
from app.search.sql.match import LeafCompiler
from app.search.sql.plan import Plan
from app.search.sql.rebuild import rebuild
from app.search.sql.write import Batch, prepare, store

CANDIDATE_CAP = 5000  # candidates read whole for a page
FIRST_WINDOW = 2000  # log_ids scanned by the first newest-first window (then x4 each)
SCAN_BUDGET = 50000  # log_ids scanned newest-first before set algebra takes over


class SqlBackend:
    """SearchBackend over the ``async_event_search_*`` tables, with the current db.session."""

    name = "sql"

    def __init__(self) -> None:
        self.fields = FieldIds()

    def index(self, documents: Sequence[LogDocument]) -> None:
        """Write the documents' index rows in the caller's transaction (no commit)."""
        self.store(prepare(documents))

    def store(self, batch: Batch) -> None:
        """Write index rows ``prepare`` built (bulk import prepares them in other processes)."""
        store(db.session(), self.fields, batch)

    def search(self, query: ParsedQuery, limit: int, before_log_id: int | None = None) -> list[int]:
        """Matching log_ids, highest first, below ``before_log_id``; at most ``limit``.

        Within ``budget.current()``'s deadline, or SearchTimeout (see ``budget``).
        """
        with enforced(db.session()):
            return self._search(query, limit, before_log_id)

    def count(self, query: ParsedQuery) -> int:
        """How many indexed log rows match (within the deadline, as ``search``)."""
        with enforced(db.session()):
            return count_matches(self._plan(query), query.ast)

    def _search(self, query: ParsedQuery, limit: int, before_log_id: int | None) -> list[int]:
        span = _span()
        if limit <= 0 or span is None:
            return []
        plan = self._plan(query)
        if not isinstance(query.ast, Bool | MatchAll) and plan.leaf(query.ast).exact:
            return _posting_list(plan.leaf(query.ast).postings[0], limit, before_log_id)
        found = plan.candidates(query.ast, candidate_cap(query, limit, span))
        if found is not None:
            statement = plan.probed(query.ast, found, before_log_id)
            column = statement.selected_columns[0]
            return list(db.session.scalars(statement.order_by(column.desc()).limit(limit)))
        return self._scan(plan, limit, before_log_id, span)

    def rebuild(self, event_name: str | None = None, progress: Any = None) -> int:
        """Drop and rebuild the index rows of ``event_name``'s logs (all logs if None)."""
        return rebuild(self.index, self.fields, event_name, progress)

    def _plan(self, query: ParsedQuery) -> Plan:
        session = db.session()
        dialect = session.get_bind().dialect.name
        compiler = LeafCompiler(dialect, self.fields.paths(session), datetime.now(UTC))
        return Plan(session, query.ast, compiler)

    def _scan(self, plan: Plan, limit: int, before: int | None, span: tuple[int, int]) -> list[int]:
        """Newest-first in growing windows of log_ids (``Plan.walk``: a posting list or the
        documents, tested row by row), then set algebra for what is left."""
        rows = plan.walk(plan.query)
        column = rows.selected_columns[0]
        bottom = span[0]
        top = before if before is not None else span[1] + 1
        found: list[int] = []
        window, scanned = FIRST_WINDOW, 0
        while len(found) < limit and top > bottom and scanned < SCAN_BUDGET:
            floor = max(top - window, bottom)
            statement = rows.where(column < top, column >= floor)
            found += db.session.scalars(statement.order_by(column.desc()).limit(limit - len(found)))
            scanned, top, window = scanned + top - floor, floor, window * 4
        if len(found) < limit and top > bottom:
            rest = plan.sets(plan.query).subquery()
            column = rest.c[0]
            statement = select(column).where(column < top).order_by(column.desc())
            found += db.session.scalars(statement.limit(limit - len(found)))
        return found


def candidate_cap(query: ParsedQuery, limit: int, span: tuple[int, int]) -> int:
    """How many candidates a page may read whole rather than scan.

    A candidate costs ~1 us to read, ~5 us more when the rest of the query must be
    probed; a scan ~4 us per document, and it reads about limit * documents / size of
    them (fewer matches only make it longer): the costs cross near this size.
    """
    weight = 1 if isinstance(query.ast, Bool) else 4
    return max(CANDIDATE_CAP, int(math.sqrt(limit * (span[1] - span[0] + 1) * weight)))


def _span() -> tuple[int, int] | None:
    """The lowest and highest indexed log_id, or None when nothing is indexed."""
    column = SearchDocument.log_id
    # Two statements: SQLite answers min() or max() alone from the key, not both at once.
    low = db.session.scalar(select(func.min(column)))
    high = db.session.scalar(select(func.max(column)))
    return None if low is None or high is None else (low, high)


def _posting_list(postings: Select, limit: int, before: int | None) -> list[int]:
    """A single posting list is in log_id order already: read its newest end."""
    column = postings.selected_columns[0]
    if before is not None:
        postings = postings.where(column < before)
    return list(db.session.scalars(postings.order_by(column.desc()).limit(limit)))
