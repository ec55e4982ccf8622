"""the mark of a demo's database

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-03 15:30:00

One row in a database that ``gateway demo`` made and filled with its demo
data, none anywhere else: pages show a banner where it is, and the demo
loader refuses any database that holds something without it.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_data",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("loaded_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("id = 1", name=op.f("ck_demo_data_one_row")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_demo_data")),
    )


def downgrade() -> None:
    op.drop_table("demo_data")
