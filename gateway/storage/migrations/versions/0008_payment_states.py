"""payments follow one state machine; webhooks de-duplicated

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03 13:00:00

Top-ups and withdrawals take the states of ``adapters.states.PaymentState``
(longer words than the status column held). A top-up or withdrawal left
``pending`` by an older release is ``unknown`` now: nobody knows what the
provider did, so the janitor (``gateway rails sync``) asks it. A paid
withdrawal is ``succeeded``. Top-ups keep what the provider kept as its fee;
withdrawals keep the creator's destination at the provider. ``rail_events``
holds each provider event once, on (rail, event id). ``refunds`` are an
operator's refunds of top-ups, each a payment of its own. ``recoveries``
are what a dispute or an outside refund took back from creators, receipt by
receipt.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Timestamp = sa.DateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("top_ups", schema=None) as batch_op:
        batch_op.alter_column("status", type_=sa.String(length=20), existing_type=sa.String(length=12), existing_nullable=False)
        batch_op.add_column(sa.Column("fee", sa.BigInteger(), nullable=True))
        batch_op.add_column(sa.Column("updated_at", Timestamp, nullable=True))
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.alter_column("status", type_=sa.String(length=20), existing_type=sa.String(length=12), existing_nullable=False)
        batch_op.add_column(sa.Column("destination", sa.String(length=200), nullable=True))
        batch_op.add_column(sa.Column("updated_at", Timestamp, nullable=True))
    op.execute("UPDATE top_ups SET status = 'unknown' WHERE status = 'pending'")
    op.execute("UPDATE withdrawals SET status = 'unknown' WHERE status = 'pending'")
    op.execute("UPDATE withdrawals SET status = 'succeeded' WHERE status = 'paid'")
    op.create_table(
        "rail_events",
        sa.Column("id", Id, nullable=False),
        sa.Column("rail", sa.String(length=32), nullable=False),
        sa.Column("event_id", sa.String(length=200), nullable=False),
        sa.Column("type", sa.String(length=100), nullable=False),
        sa.Column("received_at", Timestamp, nullable=False),
        sa.Column("applied_at", Timestamp, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_rail_events")),
        sa.UniqueConstraint("rail", "event_id", name=op.f("uq_rail_events_rail_event_id")),
    )
    op.create_table(
        "refunds",
        sa.Column("id", Id, nullable=False),
        sa.Column("top_up_id", Id, nullable=False),
        sa.Column("operator_id", Id, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("rail_reference", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", Timestamp, nullable=False),
        sa.Column("updated_at", Timestamp, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_refunds_positive")),
        sa.ForeignKeyConstraint(["top_up_id"], ["top_ups.id"], name=op.f("fk_refunds_top_up_id_top_ups")),
        sa.ForeignKeyConstraint(["operator_id"], ["participants.id"], name=op.f("fk_refunds_operator_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_refunds")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_refunds_idempotency_key")),
    )
    op.create_table(
        "recoveries",
        sa.Column("id", Id, nullable=False),
        sa.Column("top_up_id", Id, nullable=False),
        sa.Column("receipt_id", Id, nullable=False),
        sa.Column("creator_id", Id, nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", Id, nullable=False),
        sa.Column("returned_at", Timestamp, nullable=True),
        sa.CheckConstraint("amount > 0", name=op.f("ck_recoveries_positive")),
        sa.ForeignKeyConstraint(["top_up_id"], ["top_ups.id"], name=op.f("fk_recoveries_top_up_id_top_ups")),
        sa.ForeignKeyConstraint(["receipt_id"], ["receipts.id"], name=op.f("fk_recoveries_receipt_id_receipts")),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"], name=op.f("fk_recoveries_transaction_id_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recoveries")),
    )
    with op.batch_alter_table("recoveries", schema=None) as batch_op:
        batch_op.create_index("ix_recoveries_receipt_id", ["receipt_id"], unique=False)
        batch_op.create_index("ix_recoveries_top_up_id", ["top_up_id"], unique=False)


def downgrade() -> None:
    op.drop_table("recoveries")
    op.drop_table("refunds")
    op.drop_table("rail_events")
    op.execute("UPDATE withdrawals SET status = 'paid' WHERE status = 'succeeded'")
    op.execute("UPDATE withdrawals SET status = 'pending' WHERE status NOT IN ('paid', 'failed')")
    op.execute("UPDATE top_ups SET status = 'pending' WHERE status NOT IN ('succeeded', 'failed')")
    with op.batch_alter_table("withdrawals", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("destination")
        batch_op.alter_column("status", type_=sa.String(length=12), existing_type=sa.String(length=20), existing_nullable=False)
    with op.batch_alter_table("top_ups", schema=None) as batch_op:
        batch_op.drop_column("updated_at")
        batch_op.drop_column("fee")
        batch_op.alter_column("status", type_=sa.String(length=12), existing_type=sa.String(length=20), existing_nullable=False)
