"""Token rotation: the replaced verification token keeps signing until it expires.

Revision ID: 0002_token_rotation
Revises: d2e588703991
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_token_rotation"
down_revision = "d2e588703991"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("async_event_subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("previous_token", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("previous_token_expires", sa.DateTime(), nullable=True))


def downgrade():
    with op.batch_alter_table("async_event_subscriber", schema=None) as batch_op:
        batch_op.drop_column("previous_token_expires")
        batch_op.drop_column("previous_token")
