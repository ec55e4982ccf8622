"""where each creator is paid, per rail

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-03 13:10:00

A creator's Connect account or PayPal address, one per rail. A withdrawal
copies it onto its own row when it is asked for, so a later change never
redirects money already on its way.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "payout_destinations",
        sa.Column("participant_id", Id, nullable=False),
        sa.Column("rail", sa.String(length=32), nullable=False),
        sa.Column("destination", sa.String(length=200), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_payout_destinations_participant_id_participants")
        ),
        sa.PrimaryKeyConstraint("participant_id", "rail", name=op.f("pk_payout_destinations")),
    )


def downgrade() -> None:
    op.drop_table("payout_destinations")
