"""What an operator reads of the deployment: its people, and the ledger's check."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from gateway.core.check import CHECKS, Breach, check_ledger
from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.storage.engine import reading
from gateway.storage.schema import participants

__all__ = ["CHECKS", "AccountSummary", "account_by_handle", "account_summary", "list_accounts", "verify_ledger"]


@dataclass(frozen=True)
class AccountSummary:
    id: int
    handle: str
    role: str
    frozen: bool


_SUMMARY = select(participants.c.id, participants.c.handle, participants.c.role, participants.c.frozen).where(
    participants.c.kind == "person"
)


def list_accounts(deployment: Deployment, after: int = 0, limit: int = 50) -> list[AccountSummary]:
    """The people whose ids come after ``after``, in id order: a page of them."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(_SUMMARY.where(participants.c.id > after).order_by(participants.c.id).limit(limit)).all()
    return [AccountSummary(row.id, row.handle, row.role, row.frozen) for row in rows]


def account_summary(deployment: Deployment, participant_id: int) -> AccountSummary:
    with reading(deployment.engine) as connection:
        row = connection.execute(_SUMMARY.where(participants.c.id == participant_id)).first()
    if row is None:
        raise NotFound(f"no account #{participant_id}")
    return AccountSummary(row.id, row.handle, row.role, row.frozen)


def account_by_handle(deployment: Deployment, handle: str) -> AccountSummary:
    """The person a handle names, as typed or in the lower case sign-up keeps it (an operator looking someone up)."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(_SUMMARY.where(participants.c.handle.in_([handle, handle.lower()]))).all()
    found = {row.handle: row for row in rows}
    row = found.get(handle) or found.get(handle.lower())
    if row is None:
        raise NotFound(f"no account with the handle {handle!r}")
    return AccountSummary(row.id, row.handle, row.role, row.frozen)


def verify_ledger(deployment: Deployment) -> list[Breach]:
    """Every breach of the ledger's invariants (``CHECKS``), read in one snapshot; none: the ledger holds."""
    with reading(deployment.engine) as connection:
        return check_ledger(connection)
