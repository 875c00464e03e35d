"""search tables: no parallel scans on PostgreSQL (see app/models/search.py)

Revision ID: 0004_search_serial_scans
Revises: 0003_search_outbox
"""

from alembic import op

revision = "0004_search_serial_scans"
down_revision = "0003_search_outbox"
branch_labels = None
depends_on = None

TABLES = ("async_event_search_document", "async_event_search_keyword", "async_event_search_number")


def upgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} SET (parallel_workers = 0)")


def downgrade():
    if op.get_bind().dialect.name != "postgresql":
        return
    for table in TABLES:
        op.execute(f"ALTER TABLE {table} RESET (parallel_workers)")
