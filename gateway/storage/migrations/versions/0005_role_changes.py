"""the record of role changes

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-27 10:00:00

Each grant and revoke of the operator role, with who made it (an operator, or
nobody: the machine's owner at the CLI), through what (cli, api) and from
where (the OS user, the operator's credential). Append-only: triggers refuse
an UPDATE or DELETE, as they do on the ledger's tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "role_changes",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("participant_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("role", sa.String(length=12), nullable=False),
        sa.Column("actor_id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=True),
        sa.Column("via", sa.String(length=12), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("role IN ('member', 'operator')", name=op.f("ck_role_changes_role")),
        sa.ForeignKeyConstraint(["actor_id"], ["participants.id"], name=op.f("fk_role_changes_actor_id_participants")),
        sa.ForeignKeyConstraint(
            ["participant_id"], ["participants.id"], name=op.f("fk_role_changes_participant_id_participants")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_role_changes")),
    )
    with op.batch_alter_table("role_changes", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_role_changes_participant_id"), ["participant_id"], unique=False)
    _append_only_triggers()


def downgrade() -> None:
    with op.batch_alter_table("role_changes", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_role_changes_participant_id"))

    op.drop_table("role_changes")  # its triggers go with it
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP FUNCTION role_changes_append_only()")


def _append_only_triggers() -> None:
    """A record nobody rewrites: the database refuses it, whoever writes."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            """
            CREATE FUNCTION role_changes_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                RAISE EXCEPTION 'role_changes is append-only: % refused', TG_OP;
            END $$
            """
        )
        op.execute(
            "CREATE TRIGGER role_changes_append_only BEFORE UPDATE OR DELETE ON role_changes "
            "FOR EACH ROW EXECUTE FUNCTION role_changes_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER role_changes_no_{action.lower()} BEFORE {action} ON role_changes "
            f"BEGIN SELECT RAISE(ABORT, 'role_changes is append-only: {action} refused'); END"
        )
