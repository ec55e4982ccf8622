"""auto-submit only under a creator's own sites

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-26 01:20:00

A funder's auto-submit registers a thing for a creator only at an address
under one of the sites the creator lists; before, any address could be
registered for anyone, and the first claim kept it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.add_column(sa.Column("auto_submit_sites", sa.JSON(), server_default="[]", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("participants", schema=None) as batch_op:
        batch_op.drop_column("auto_submit_sites")
