"""pending sign-ups, links that point at them, and mail that is useless after its link

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-29 10:00:00

A sign-up no longer makes its account at once: it waits in ``pending_signups``
(holding neither its handle nor its address) until the link mailed to its
address is opened, so that a sign-up tells nobody whether an address has an
account. A link (``email_tokens``) now points at an account or at a pending
sign-up, never both. A queued mail that carries a link says when the link
expires (``useless_after``), and the worker gives it up rather than send a
dead link.
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Id = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "pending_signups",
        sa.Column("id", Id, nullable=False),
        sa.Column("handle", sa.String(length=64), nullable=False),
        sa.Column("email", sa.String(length=320), nullable=False),
        sa.Column("password_hash", sa.String(length=200), nullable=False),
        sa.Column("preferred_currency", sa.String(length=12), nullable=True),
        sa.Column("language", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_pending_signups")),
    )
    with op.batch_alter_table("pending_signups", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_pending_signups_email"), ["email"], unique=False)
        batch_op.create_index(batch_op.f("ix_pending_signups_expires_at"), ["expires_at"], unique=False)

    with op.batch_alter_table("email_tokens", schema=None) as batch_op:
        batch_op.alter_column("participant_id", existing_type=Id, nullable=True)
        batch_op.add_column(sa.Column("pending_signup_id", Id, nullable=True))
        batch_op.create_index(batch_op.f("ix_email_tokens_pending_signup_id"), ["pending_signup_id"], unique=False)
        batch_op.create_foreign_key(
            batch_op.f("fk_email_tokens_pending_signup_id_pending_signups"), "pending_signups", ["pending_signup_id"], ["id"]
        )
        batch_op.create_check_constraint(
            batch_op.f("ck_email_tokens_one_holder"), "(participant_id IS NULL) <> (pending_signup_id IS NULL)"
        )

    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.add_column(sa.Column("useless_after", sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.drop_column("useless_after")

    op.execute("DELETE FROM email_tokens WHERE participant_id IS NULL")  # a pending sign-up's: gone with them
    with op.batch_alter_table("email_tokens", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("ck_email_tokens_one_holder"), type_="check")
        batch_op.drop_constraint(batch_op.f("fk_email_tokens_pending_signup_id_pending_signups"), type_="foreignkey")
        batch_op.drop_index(batch_op.f("ix_email_tokens_pending_signup_id"))
        batch_op.drop_column("pending_signup_id")
        batch_op.alter_column("participant_id", existing_type=Id, nullable=False)

    with op.batch_alter_table("pending_signups", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_pending_signups_expires_at"))
        batch_op.drop_index(batch_op.f("ix_pending_signups_email"))

    op.drop_table("pending_signups")
