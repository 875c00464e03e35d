"""Subscriptions: recipient_secret, a recipient URL's password, encrypted at rest.

Revision ID: 0007_recipient_secret
Revises: 0006_store_id_integer

Existing recipients keep their URLs as they are: a password already inside one is moved
out the next time the subscription is saved.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007_recipient_secret"
down_revision = "0006_store_id_integer"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("async_event_subscriber", schema=None) as batch_op:
        batch_op.add_column(sa.Column("recipient_secret", sa.Text(), nullable=True))


def downgrade():
    with op.batch_alter_table("async_event_subscriber", schema=None) as batch_op:
        batch_op.drop_column("recipient_secret")
