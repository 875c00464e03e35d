"""Dashboard users: must_change_password, set for the default account until it is changed.

Revision ID: 0005_user_must_change_password
Revises: 0004_search_serial_scans

Existing users get false; one still signing in with the default password is flagged
at that sign-in (app/admin/auth.py), so an old admin/admin is caught too.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005_user_must_change_password"
down_revision = "0004_search_serial_scans"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("async_event_user", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column(
                "must_change_password", sa.Boolean(), nullable=False, server_default=sa.false()
            )
        )


def downgrade():
    with op.batch_alter_table("async_event_user", schema=None) as batch_op:
        batch_op.drop_column("must_change_password")
