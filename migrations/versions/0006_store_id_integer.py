"""Subscriptions: store_id INTEGER, so it holds Magento's store ids up to 65535.

Revision ID: 0006_store_id_integer
Revises: 0005_user_must_change_password

The column was a SMALLINT, which PostgreSQL signs: 32767 at most, while publications
take store ids to 65535 (Magento's unsigned SMALLINT), so a publication for store
40000 was accepted but no subscription could match it. SQLite recreates the table.

A downgrade refuses while any subscription's store is beyond SMALLINT, rather than
failing halfway on PostgreSQL or keeping on SQLite what PostgreSQL could not hold.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006_store_id_integer"  # at most 32 characters: alembic_version.version_num
down_revision = "0005_user_must_change_password"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("async_event_subscriber", schema=None) as batch_op:
        batch_op.alter_column(
            "store_id", existing_type=sa.SmallInteger(), type_=sa.Integer(), existing_nullable=False
        )


def downgrade():
    count = "SELECT count(*) FROM async_event_subscriber WHERE store_id > 32767"
    beyond = op.get_bind().execute(sa.text(count)).scalar()
    if beyond:
        raise RuntimeError(
            f"{beyond} subscription(s) have a store_id above 32767, which a SMALLINT cannot"
            " hold: delete them or change their store before downgrading"
        )
    with op.batch_alter_table("async_event_subscriber", schema=None) as batch_op:
        batch_op.alter_column(
            "store_id", existing_type=sa.Integer(), type_=sa.SmallInteger(), existing_nullable=False
        )
