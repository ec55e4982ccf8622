"""What an operator reads of the payments: those still in flight at the providers, and one top-up before refunding it.

Read only: asking the providers is the janitor's (``rails_sync.sync``), and
giving money back is ``refund.refund_top_up``'s.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, Table, select

from adapters import IN_FLIGHT, PaymentState
from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.storage.engine import reading
from gateway.storage.schema import participants, refunds, top_ups, withdrawals
from gateway.usecases.refund import refundable

LISTED = 200  # per kind: the oldest ones, which are the ones to worry about


@dataclass(frozen=True)
class PaymentInFlight:
    kind: str  # top_up | withdrawal | refund
    id: int
    handle: str  # the funder (a top-up, a refund's top-up) or the creator (a withdrawal)
    rail: str
    currency: str
    amount: int  # minor units
    status: str  # a PaymentState in IN_FLIGHT
    created_at: datetime
    error: str | None


@dataclass(frozen=True)
class TopUpForRefund:
    id: int
    funder: str
    rail: str
    currency: str
    amount: int  # minor units, as paid
    status: str
    created_at: datetime
    refundable: int  # minor units that may go back now (``refund.refundable``); 0 unless the top-up succeeded
    refunds: list[RefundLine]  # asked so far, oldest first


@dataclass(frozen=True)
class RefundLine:
    id: int
    amount: int  # minor units
    status: str
    created_at: datetime


def payments_in_flight(deployment: Deployment) -> list[PaymentInFlight]:
    """Every top-up, withdrawal and refund in flight (the oldest ``LISTED`` of each kind), oldest first within a kind."""
    paid = top_ups.join(participants, participants.c.id == top_ups.c.funder_id)
    queries: list[tuple[str, Table, Select[Any]]] = [
        ("top_up", top_ups, _columns(top_ups, top_ups).select_from(paid)),
        (
            "withdrawal",
            withdrawals,
            _columns(withdrawals, withdrawals).select_from(
                withdrawals.join(participants, participants.c.id == withdrawals.c.creator_id)
            ),
        ),
        ("refund", refunds, _columns(refunds, top_ups).select_from(refunds.join(paid, top_ups.c.id == refunds.c.top_up_id))),
    ]
    found: list[PaymentInFlight] = []
    with reading(deployment.engine) as connection:
        for kind, table, query in queries:
            rows = connection.execute(query.where(table.c.status.in_(IN_FLIGHT)).order_by(table.c.id).limit(LISTED))
            found += [
                PaymentInFlight(kind, r.id, r.handle, r.rail, r.currency, r.amount, r.status, r.created_at, r.error) for r in rows
            ]
    return found


def top_up_for_refund(deployment: Deployment, top_up_id: int) -> TopUpForRefund:
    """One top-up as the operator sees it before a refund: whose, how much, and how much may still go back."""
    with reading(deployment.engine) as connection:
        row = connection.execute(
            select(top_ups, participants.c.handle)
            .join(participants, participants.c.id == top_ups.c.funder_id)
            .where(top_ups.c.id == top_up_id)
        ).first()
        if row is None:
            raise NotFound(f"no top-up #{top_up_id}")
        most = refundable(connection, row) if row.status == PaymentState.SUCCEEDED and row.rail_reference else 0
        asked = connection.execute(
            select(refunds.c.id, refunds.c.amount, refunds.c.status, refunds.c.created_at)
            .where(refunds.c.top_up_id == top_up_id)
            .order_by(refunds.c.id)
        ).all()
    lines = [RefundLine(r.id, r.amount, r.status, r.created_at) for r in asked]
    return TopUpForRefund(row.id, row.handle, row.rail, row.currency, row.amount, row.status, row.created_at, max(most, 0), lines)


def _columns(table: Table, paid_through: Table) -> Select[Any]:
    """A payment's columns; ``paid_through``: the table that names its rail and currency (a refund's top-up)."""
    return select(
        table.c.id,
        participants.c.handle,
        paid_through.c.rail,
        paid_through.c.currency,
        table.c.amount,
        table.c.status,
        table.c.created_at,
        table.c.error,
    )
