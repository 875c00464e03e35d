"""search outbox: log rows waiting for Elasticsearch

Revision ID: 0003_search_outbox
Revises: 0002_search_index
Create Date: 2026-11-28 10:00:00.000000

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = '0003_search_outbox'
down_revision = '0002_search_index'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table('async_event_search_outbox',
    sa.Column('id', sa.BigInteger().with_variant(sa.Integer(), 'sqlite'), nullable=False),
    sa.Column('log_id', sa.BigInteger(), nullable=False),
    sa.Column('event_name', sa.String(length=255), nullable=False),
    sa.Column('created', sa.DateTime(), nullable=False),
    sa.Column('attempts', sa.Integer(), nullable=False),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('async_event_search_outbox', schema=None) as batch_op:
        batch_op.create_index('ix_search_outbox_pending', ['attempts', 'id'], unique=False)
        batch_op.create_index(batch_op.f('ix_async_event_search_outbox_log_id'), ['log_id'], unique=False)


def downgrade():
    with op.batch_alter_table('async_event_search_outbox', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_async_event_search_outbox_log_id'))
        batch_op.drop_index('ix_search_outbox_pending')

    op.drop_table('async_event_search_outbox')
