"""Search index: field paths, documents and postings for the embedded Lucene search.

Revision ID: 0002_search_index
Revises: 0002_token_rotation
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0002_search_index"
down_revision = "0002_token_rotation"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
KeywordText = sa.Text().with_variant(sa.Text(collation="C"), "postgresql")
LeavesJson = sa.Text().with_variant(postgresql.JSONB(), "postgresql")

# Deleting log rows deletes their index rows (a copy of app/models/search.py's triggers).
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


def upgrade():
    op.create_table(
        "async_event_search_field",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("path", sa.String(length=512), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("path"),
    )
    op.create_table(
        "async_event_search_document",
        sa.Column("log_id", BigId, autoincrement=False, nullable=False),
        sa.Column("leaves", LeavesJson, nullable=False),
        sa.PrimaryKeyConstraint("log_id"),
    )
    for name, value_type in (("keyword", KeywordText), ("number", sa.Double())):
        op.create_table(
            f"async_event_search_{name}",
            sa.Column("field_id", sa.Integer(), autoincrement=False, nullable=False),
            sa.Column("value", value_type, nullable=False),
            sa.Column("log_id", BigId, autoincrement=False, nullable=False),
            sa.PrimaryKeyConstraint("field_id", "value", "log_id"),
            sqlite_with_rowid=False,
        )
    for statement in CREATE.get(op.get_bind().dialect.name, []):
        op.execute(statement)


def downgrade():
    for statement in DROP.get(op.get_bind().dialect.name, []):
        op.execute(statement)
    for name in ("number", "keyword", "document", "field"):
        op.drop_table(f"async_event_search_{name}")
