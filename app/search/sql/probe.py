"""Probes: whether one document row has a matching leaf, read from its leaves JSON.

A probe is a correlated EXISTS over ``SearchDocument.leaves``; scans that walk
documents newest-first use it to test any leaf query without touching the postings.
The JSON functions differ: SQLite has ``json_each``, PostgreSQL ``jsonb_*`` (and
compares text with the C collation, as the postings do).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from sqlalchemy import (
    ColumnElement,
    Double,
    FromClause,
    Select,
    cast,
    exists,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy import true as sql_true
from sqlalchemy.dialects.postgresql import JSONB, array

from app.models import SearchDocument

Condition = Callable[[ColumnElement], ColumnElement[bool]]
KEYWORDS, NUMBERS = "k", "n"


class Probes:
    """Builds probes for one dialect. ``paths`` None means every path."""

    def __init__(self, dialect: str) -> None:
        self.postgres = dialect == "postgresql"

    def values(
        self, kind: str, paths: Sequence[str] | None, test: Condition
    ) -> ColumnElement[bool]:
        """Some leaf of ``kind`` (``k`` keywords, ``n`` numbers) under ``paths`` passes ``test``."""
        if paths is not None and not paths:
            return false()
        source, value, key = self._elements(kind, paths)
        query = select(literal(1)).select_from(source).where(test(value))
        if key is not None and paths is not None:
            query = query.where(key.in_(list(paths)))
        return self.exists(query)

    def exists(self, query: Select) -> ColumnElement[bool]:
        """EXISTS, evaluated per document row. PostgreSQL would turn a plain EXISTS into a
        (hash) semi- or anti-join over the whole posting list, 1000x slower under a
        LIMIT; OFFSET 0 keeps it a per-row subplan."""
        return exists(query.offset(0) if self.postgres else query)

    def present(self, paths: Sequence[str]) -> ColumnElement[bool]:
        """The document has some leaf, of either kind, under one of ``paths``."""
        if not paths:
            return false()
        if self.postgres:
            keys = array(list(paths))
            return or_(*(self._member(kind).op("?|")(keys) for kind in (KEYWORDS, NUMBERS)))
        tests = []
        for kind in (KEYWORDS, NUMBERS):
            members = func.json_each(SearchDocument.leaves, f"$.{kind}").table_valued("key")
            found = select(literal(1)).select_from(members).where(members.c.key.in_(list(paths)))
            tests.append(exists(found))
        return or_(*tests)

    def _elements(
        self, kind: str, paths: Sequence[str] | None
    ) -> tuple[FromClause, ColumnElement, ColumnElement | None]:
        """(FROM clause, value column, key column or None when already narrowed to one path)."""
        if self.postgres:
            return self._postgres_elements(kind, paths)
        if paths is not None and len(paths) == 1 and _plain(paths[0]):
            one = func.json_each(SearchDocument.leaves, f'$.{kind}."{paths[0]}"')
            source = one.table_valued("value")
            return source, source.c.value, None
        members = func.json_each(SearchDocument.leaves, f"$.{kind}").table_valued("key", "value")
        items = func.json_each(members.c.value).table_valued("value")
        return members.join(items, sql_true()), items.c.value, members.c.key

    def _postgres_elements(
        self, kind: str, paths: Sequence[str] | None
    ) -> tuple[FromClause, ColumnElement, ColumnElement | None]:
        def typed(column: ColumnElement) -> ColumnElement:
            return column.collate("C") if kind == KEYWORDS else cast(column, Double)

        if paths is not None and len(paths) == 1:
            member = self._member(kind).op("->", return_type=JSONB)(literal(paths[0]))
            source = func.jsonb_array_elements_text(member).table_valued("value")
            return source, typed(source.c.value), None
        members = func.jsonb_each(self._member(kind)).table_valued("key", "value")
        items = func.jsonb_array_elements_text(members.c.value).table_valued("value")
        return members.join(items, sql_true()), typed(items.c.value), members.c.key

    def _member(self, kind: str) -> ColumnElement:
        return SearchDocument.leaves.op("->", return_type=JSONB)(literal(kind))


def _plain(path: str) -> bool:
    """Whether SQLite's JSON path syntax can quote ``path`` (it has no escape for ``"``)."""
    return '"' not in path and "\\" not in path
