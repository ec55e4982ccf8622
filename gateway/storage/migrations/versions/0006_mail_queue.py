"""the mail queue

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-28 10:00:00

Mail is written to this table in the transaction that causes it (a sign-up,
a reset request, an address change) and sent by a worker after the commit:
never during a request, never for a rollback, and after a crash still sent.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "mail_queue",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("to_address", sa.String(length=320), nullable=False),
        sa.Column("subject", sa.String(length=200), nullable=False),
        sa.Column("body", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=12), nullable=False),
        sa.Column("attempts", sa.Integer(), server_default="0", nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("claimed_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.String(length=500), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('queued', 'sending', 'sent', 'failed')", name=op.f("ck_mail_queue_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mail_queue")),
    )
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.create_index("ix_mail_queue_status_due_at", ["status", "due_at"], unique=False)
        batch_op.create_index("ix_mail_queue_to_address_kind", ["to_address", "kind"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("mail_queue", schema=None) as batch_op:
        batch_op.drop_index("ix_mail_queue_to_address_kind")
        batch_op.drop_index("ix_mail_queue_status_due_at")

    op.drop_table("mail_queue")
