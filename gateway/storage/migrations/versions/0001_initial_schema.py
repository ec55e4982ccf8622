"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-24 21:13:44.182487

Generated from gateway/storage/schema.py, plus the triggers that make the
ledger append-only (L4): no UPDATE or DELETE on transactions or postings.
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "participants",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=12), nullable=False),
        sa.Column("preferred_currency", sa.String(length=12), nullable=True),
        sa.Column("language", sa.String(length=8), server_default="en", nullable=False),
        sa.Column("frozen", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("kind IN ('person', 'system')", name=op.f("ck_participants_kind")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_participants")),
        sa.UniqueConstraint("handle", name=op.f("uq_participants_handle")),
    )
    op.create_table(
        "periods",
        sa.Column("id", sa.String(length=10), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=False),
        sa.Column("ends_on", sa.Date(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("give_to_receive", sa.Boolean(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_periods")),
    )
    op.create_table(
        "transactions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=True),
        sa.Column("request_hash", sa.String(length=64), nullable=True),
        sa.Column("period", sa.String(length=10), nullable=True),
        sa.Column("meta", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_transactions")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_transactions_idempotency_key")),
    )
    op.create_table(
        "accounts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("purpose", sa.String(length=12), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("floor", sa.BigInteger(), nullable=True),
        sa.Column("balance", sa.BigInteger(), server_default="0", nullable=False),
        sa.CheckConstraint("floor IS NULL OR balance >= floor", name=op.f("ck_accounts_floor")),
        sa.ForeignKeyConstraint(["owner_id"], ["participants.id"], name=op.f("fk_accounts_owner_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("owner_id", "purpose", "currency", name=op.f("uq_accounts_owner_id_purpose_currency")),
    )
    op.create_table(
        "budgets",
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_budgets_positive")),
        sa.ForeignKeyConstraint(["funder_id"], ["participants.id"], name=op.f("fk_budgets_funder_id_participants")),
        sa.PrimaryKeyConstraint("funder_id", "currency", name=op.f("pk_budgets")),
    )
    op.create_table(
        "creator_totals",
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("creator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("earned", sa.BigInteger(), nullable=False),
        sa.Column("funders", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["creator_id"], ["participants.id"], name=op.f("fk_creator_totals_creator_id_participants")),
        sa.ForeignKeyConstraint(["period"], ["periods.id"], name=op.f("fk_creator_totals_period_periods")),
        sa.PrimaryKeyConstraint("period", "currency", "creator_id", name=op.f("pk_creator_totals")),
    )
    op.create_table(
        "period_totals",
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("funders", sa.Integer(), nullable=False),
        sa.Column("budgets", sa.BigInteger(), nullable=False),
        sa.Column("fees", sa.BigInteger(), nullable=False),
        sa.Column("distributed", sa.BigInteger(), nullable=False),
        sa.Column("unspent", sa.BigInteger(), nullable=False),
        sa.Column("demurrage", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["period"], ["periods.id"], name=op.f("fk_period_totals_period_periods")),
        sa.PrimaryKeyConstraint("period", "currency", name=op.f("pk_period_totals")),
    )
    op.create_table(
        "receipts",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("thing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("creator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("share", sa.BigInteger(), nullable=False),
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"], name=op.f("fk_receipts_transaction_id_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_receipts")),
    )
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.create_index("ix_receipts_period_creator", ["period", "creator_id"], unique=False)
        batch_op.create_index("ix_receipts_period_funder", ["period", "funder_id"], unique=False)

    op.create_table(
        "settlements",
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("flattrs", sa.Integer(), nullable=False),
        sa.Column("fee", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("distributed", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("unspent", sa.BigInteger(), server_default="0", nullable=False),
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.ForeignKeyConstraint(["funder_id"], ["participants.id"], name=op.f("fk_settlements_funder_id_participants")),
        sa.ForeignKeyConstraint(["period"], ["periods.id"], name=op.f("fk_settlements_period_periods")),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"], name=op.f("fk_settlements_transaction_id_transactions")),
        sa.PrimaryKeyConstraint("period", "funder_id", "currency", name=op.f("pk_settlements")),
    )
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.create_index("ix_settlements_period_status", ["period", "status"], unique=False)

    op.create_table(
        "things",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("owner_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("url", sa.String(length=2000), nullable=False),
        sa.Column("title", sa.String(length=300), nullable=False),
        sa.Column("description", sa.Text(), server_default="", nullable=False),
        sa.Column("language", sa.String(length=8), nullable=True),
        sa.Column("category", sa.String(length=32), nullable=True),
        sa.Column("hidden", sa.Boolean(), server_default="0", nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["owner_id"], ["participants.id"], name=op.f("fk_things_owner_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_things")),
        sa.UniqueConstraint("url", name=op.f("uq_things_url")),
    )
    with op.batch_alter_table("things", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_things_owner_id"), ["owner_id"], unique=False)

    op.create_table(
        "top_ups",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rail", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("rail_reference", sa.String(length=200), nullable=True),
        sa.Column("next_action", sa.JSON(), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_top_ups_positive")),
        sa.ForeignKeyConstraint(["funder_id"], ["participants.id"], name=op.f("fk_top_ups_funder_id_participants")),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"], name=op.f("fk_top_ups_transaction_id_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_top_ups")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_top_ups_idempotency_key")),
    )
    op.create_table(
        "withdrawals",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("creator_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("rail", sa.String(length=32), nullable=False),
        sa.Column("currency", sa.String(length=12), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.Column("payout_currency", sa.String(length=12), nullable=False),
        sa.Column("payout_amount", sa.BigInteger(), nullable=False),
        sa.Column("rate", sa.String(length=40), nullable=False),
        sa.Column("rate_date", sa.Date(), nullable=False),
        sa.Column("rate_source", sa.String(length=32), nullable=False),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("idempotency_key", sa.String(length=200), nullable=False),
        sa.Column("request_hash", sa.String(length=64), nullable=False),
        sa.Column("rail_reference", sa.String(length=200), nullable=True),
        sa.Column("error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("amount > 0", name=op.f("ck_withdrawals_positive")),
        sa.ForeignKeyConstraint(["creator_id"], ["participants.id"], name=op.f("fk_withdrawals_creator_id_participants")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_withdrawals")),
        sa.UniqueConstraint("idempotency_key", name=op.f("uq_withdrawals_idempotency_key")),
    )
    op.create_table(
        "flattrs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("period", sa.String(length=10), nullable=False),
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("thing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=12), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("points > 0", name=op.f("ck_flattrs_points")),
        sa.ForeignKeyConstraint(["funder_id"], ["participants.id"], name=op.f("fk_flattrs_funder_id_participants")),
        sa.ForeignKeyConstraint(["thing_id"], ["things.id"], name=op.f("fk_flattrs_thing_id_things")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_flattrs")),
        sa.UniqueConstraint("period", "funder_id", "thing_id", name=op.f("uq_flattrs_period_funder_id_thing_id")),
    )
    op.create_table(
        "postings",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("transaction_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("account_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("amount", sa.BigInteger(), nullable=False),
        sa.CheckConstraint("amount <> 0", name=op.f("ck_postings_nonzero")),
        sa.ForeignKeyConstraint(["account_id"], ["accounts.id"], name=op.f("fk_postings_account_id_accounts")),
        sa.ForeignKeyConstraint(["transaction_id"], ["transactions.id"], name=op.f("fk_postings_transaction_id_transactions")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_postings")),
    )
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_postings_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_postings_transaction_id"), ["transaction_id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("funder_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("thing_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("periods_left", sa.Integer(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("last_period", sa.String(length=10), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("periods_left IS NULL OR periods_left >= 0", name=op.f("ck_subscriptions_periods_left")),
        sa.CheckConstraint("points > 0", name=op.f("ck_subscriptions_points")),
        sa.ForeignKeyConstraint(["funder_id"], ["participants.id"], name=op.f("fk_subscriptions_funder_id_participants")),
        sa.ForeignKeyConstraint(["thing_id"], ["things.id"], name=op.f("fk_subscriptions_thing_id_things")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscriptions")),
        sa.UniqueConstraint("funder_id", "thing_id", name=op.f("uq_subscriptions_funder_id_thing_id")),
    )
    _append_only_triggers()


def downgrade() -> None:
    _drop_append_only_triggers()
    op.drop_table("subscriptions")
    with op.batch_alter_table("postings", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_postings_transaction_id"))
        batch_op.drop_index(batch_op.f("ix_postings_account_id"))

    op.drop_table("postings")
    op.drop_table("flattrs")
    op.drop_table("withdrawals")
    op.drop_table("top_ups")
    with op.batch_alter_table("things", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_things_owner_id"))

    op.drop_table("things")
    with op.batch_alter_table("settlements", schema=None) as batch_op:
        batch_op.drop_index("ix_settlements_period_status")

    op.drop_table("settlements")
    with op.batch_alter_table("receipts", schema=None) as batch_op:
        batch_op.drop_index("ix_receipts_period_funder")
        batch_op.drop_index("ix_receipts_period_creator")

    op.drop_table("receipts")
    op.drop_table("period_totals")
    op.drop_table("creator_totals")
    op.drop_table("budgets")
    op.drop_table("accounts")
    op.drop_table("transactions")
    op.drop_table("periods")
    op.drop_table("participants")


APPEND_ONLY = ("transactions", "postings")


def _append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'the ledger is append-only: % on % refused', TG_OP, TG_TABLE_NAME;
            END $$
            """
        )
        for table in APPEND_ONLY:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION ledger_append_only()"
            )
        return
    for table in APPEND_ONLY:
        for action in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{action.lower()} BEFORE {action} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, 'the ledger is append-only: {action} on {table} refused'); END"
            )


def _drop_append_only_triggers() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in APPEND_ONLY:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
        op.execute("DROP FUNCTION ledger_append_only()")
        return
    for table in APPEND_ONLY:
        for action in ("update", "delete"):
            op.execute(f"DROP TRIGGER {table}_no_{action}")
