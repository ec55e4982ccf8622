"""a TOTP code works once

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-26 01:10:00

The time step of the last code taken, so that a code seen by someone else
(over a shoulder, in a phished form) cannot be used again within its window.
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.add_column(sa.Column("totp_last_step", sa.BigInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("credentials", schema=None) as batch_op:
        batch_op.drop_column("totp_last_step")
