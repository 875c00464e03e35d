"""The embedded search index: field paths, one document per indexed log row, and postings.

Postings are the inverted index, one row per (field, value, log): keyed
``(field_id, value, log_id)`` so a term, a prefix or a range is one B-tree range
whose log_ids come out in order. They are SQLite ``WITHOUT ROWID`` tables, so the
key is the table and each leaf costs one B-tree insert. The document row keeps the
log's leaves as JSON (``{"k": {path: [keyword, ...]}, "n": {path: [number, ...]}}``):
a forward copy that scans newest-first test cheaply and that deletion reads to find
a log's postings. Deleting a log row deletes its index rows (the triggers below).

On PostgreSQL the three big tables are never scanned by parallel workers: the planner
misjudges one field's share of them (its statistics mix every field's values) and
then starts workers for a five-row lookup, which on two cores cost 5-40 ms a query.
"""

from __future__ import annotations

from sqlalchemy import DDL, BigInteger, Double, Integer, String, Text, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db

BigId = BigInteger().with_variant(Integer(), "sqlite")
SERIAL_SCANS = {"postgresql_with": {"parallel_workers": 0}}
# Byte order (code point order for UTF-8), as Lucene compares terms; it also lets
# PostgreSQL serve prefix and range scans from the primary key.
KeywordText = Text().with_variant(Text(collation="C"), "postgresql")
LeavesJson = Text().with_variant(JSONB(), "postgresql")


class SearchField(db.Model):
    """A leaf path seen in some document; postings name it by ``id`` to stay small."""

    __tablename__ = "async_event_search_field"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    path: Mapped[str] = mapped_column(String(512), unique=True)


class SearchDocument(db.Model):
    """One indexed log row and its leaves; the set of these is what a search can match."""

    __tablename__ = "async_event_search_document"
    __table_args__ = SERIAL_SCANS

    log_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    leaves: Mapped[str] = mapped_column(LeavesJson)


class SearchKeyword(db.Model):
    """A keyword leaf (lower-cased text, ``true``/``false``) of one log row."""

    __tablename__ = "async_event_search_keyword"
    __table_args__ = {"sqlite_with_rowid": False, **SERIAL_SCANS}

    field_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[str] = mapped_column(KeywordText, primary_key=True)
    log_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


class SearchNumber(db.Model):
    """A numeric leaf (a number, or a string that spells one) of one log row."""

    __tablename__ = "async_event_search_number"
    __table_args__ = {"sqlite_with_rowid": False, **SERIAL_SCANS}

    field_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    value: Mapped[float] = mapped_column(Double, primary_key=True)
    log_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)


# Deleting log rows (retention) deletes their documents and postings, found through
# the document's leaves, so the index never holds a log that is gone. SQLite seeks
# every (field, value) pair of the log: a row-value IN would use only field_id.
_SQLITE_FORGET = """
CREATE TRIGGER IF NOT EXISTS async_event_search_forget AFTER DELETE ON async_event_subscriber_log
BEGIN
  DELETE FROM async_event_search_keyword WHERE log_id = OLD.log_id
    AND field_id IN (SELECT f.id FROM async_event_search_document d
      JOIN json_each(d.leaves, '$.k') p JOIN async_event_search_field f ON f.path = p.key
      WHERE d.log_id = OLD.log_id)
    AND value IN (SELECT v.value FROM async_event_search_document d
      JOIN json_each(d.leaves, '$.k') p JOIN json_each(p.value) v WHERE d.log_id = OLD.log_id);
  DELETE FROM async_event_search_number WHERE log_id = OLD.log_id
    AND field_id IN (SELECT f.id FROM async_event_search_document d
      JOIN json_each(d.leaves, '$.n') p JOIN async_event_search_field f ON f.path = p.key
      WHERE d.log_id = OLD.log_id)
    AND value IN (SELECT v.value FROM async_event_search_document d
      JOIN json_each(d.leaves, '$.n') p JOIN json_each(p.value) v WHERE d.log_id = OLD.log_id);
  DELETE FROM async_event_search_document WHERE log_id = OLD.log_id;
END"""
_POSTGRES_FORGET = """
CREATE OR REPLACE FUNCTION async_event_search_forget() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM async_event_search_keyword k
    USING old_logs o JOIN async_event_search_document d ON d.log_id = o.log_id
      CROSS JOIN jsonb_each(d.leaves -> 'k') p CROSS JOIN jsonb_array_elements_text(p.value) v
      JOIN async_event_search_field f ON f.path = p.key
    WHERE k.field_id = f.id AND k.value = v.value AND k.log_id = d.log_id;
  DELETE FROM async_event_search_number k
    USING old_logs o JOIN async_event_search_document d ON d.log_id = o.log_id
      CROSS JOIN jsonb_each(d.leaves -> 'n') p CROSS JOIN jsonb_array_elements_text(p.value) v
      JOIN async_event_search_field f ON f.path = p.key
    WHERE k.field_id = f.id AND k.value = v.value::double precision AND k.log_id = d.log_id;
  DELETE FROM async_event_search_document d USING old_logs o WHERE d.log_id = o.log_id;
  RETURN NULL;
END $$"""
CREATE = {
    "sqlite": [_SQLITE_FORGET],
    "postgresql": [
        _POSTGRES_FORGET,
        "DROP TRIGGER IF EXISTS async_event_search_forget ON async_event_subscriber_log",
        "CREATE TRIGGER async_event_search_forget AFTER DELETE ON async_event_subscriber_log "
        "REFERENCING OLD TABLE AS old_logs FOR EACH STATEMENT "
        "EXECUTE FUNCTION async_event_search_forget()",
    ],
}
DROP = {
    "sqlite": ["DROP TRIGGER IF EXISTS async_event_search_forget"],
    "postgresql": ["DROP FUNCTION IF EXISTS async_event_search_forget() CASCADE"],
}
for _dialect, _statements in CREATE.items():
    for _statement in _statements:
        event.listen(db.metadata, "after_create", DDL(_statement).execute_if(dialect=_dialect))
for _dialect, _statements in DROP.items():
    for _statement in _statements:
        event.listen(db.metadata, "before_drop", DDL(_statement).execute_if(dialect=_dialect))
