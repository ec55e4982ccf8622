"""Refunds: an operator gives a funder back part or all of a top-up, through the rail it came by.

Only what is still in the funder's wallet can go back: what settlement gave
to creators is theirs (a dispute takes it back from them, which is another
matter). A refund is a two-phase transfer of its own: reserved from the
wallet into ``outgoing`` when asked, then paid to the rail's outside account
when the provider confirms it, or voided back to the wallet. A top-up whose
whole amount went back is ``refunded``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row, func, select, update

from adapters import IN_FLIGHT, Outcome, PaymentState, Rail, RefundRequest
from gateway.core import keys
from gateway.core.accounts import Purpose, account, rail_participant, system_participant
from gateway.core.digest import digest
from gateway.core.ledger import Entry, Kind, Leg, post
from gateway.core.states import may_move
from gateway.deployment import Deployment
from gateway.errors import Conflict, NotFound, ValidationError
from gateway.storage.engine import run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import accounts, refunds, top_ups
from gateway.usecases.rail_calls import drive, in_thread, major, read, read_row, record
from gateway.usecases.requests import replay


@dataclass(frozen=True)
class Refund:
    id: int
    top_up_id: int
    amount: Money
    status: str
    rail_reference: str | None
    error: str | None


async def refund_top_up(deployment: Deployment, operator_id: int, top_up_id: int, amount: Money | None, key: str) -> Refund:
    """Refund ``amount`` of a top-up (by default all of it that is still in the wallet), once per ``key``."""
    request = digest({"top_up": top_up_id, "amount": None if amount is None else [str(amount.amount), amount.currency.code]})

    def reserve(connection: Connection) -> Row[Any]:
        existing = replay(connection, refunds, key, request)
        if existing is not None:
            return existing
        paid = _refundable_top_up(connection, top_up_id)
        minor = _amount_to_refund(connection, deployment, paid, amount)
        now = deployment.clock.now()
        refund_id = insert_row(
            connection,
            refunds,
            top_up_id=top_up_id,
            operator_id=operator_id,
            amount=minor,
            status=PaymentState.CREATED,
            idempotency_key=key,
            request_hash=request,
            created_at=now,
            updated_at=now,
        )
        unit = deployment.currencies.get(paid.currency)
        legs = (
            Leg(account(connection, paid.funder_id, Purpose.WALLET, unit), -minor),
            Leg(_outgoing(connection, paid, unit), minor),
        )
        post(connection, Entry(Kind.REFUND_RESERVE, legs, keys.refund(refund_id, "reserve"), meta={"top_up": top_up_id}), now)
        return read_row(connection, refunds, refund_id)

    row = await in_thread(run_in_transaction, deployment.engine, reserve)
    if row.status not in IN_FLIGHT:
        return as_refund(deployment, row, await in_thread(read, deployment, top_ups, top_up_id))
    return await refresh_refund(deployment, row.id)


async def refresh_refund(deployment: Deployment, refund_id: int) -> Refund:
    """Ask the provider where a refund stands (sending it again under its key is how a rail is asked)."""
    row = await in_thread(read, deployment, refunds, refund_id)
    paid = await in_thread(read, deployment, top_ups, row.top_up_id)
    rail: Rail = deployment.rail(paid.rail)
    request = RefundRequest(
        keys.refund(row.id), paid.rail_reference, major(deployment.currencies.get(paid.currency), row.amount), paid.currency
    )
    outcome = await drive(lambda: rail.refund(request), lambda: rail.refund(request), row)
    return await in_thread(record_refund, deployment, refund_id, outcome)


def record_refund(deployment: Deployment, refund_id: int, outcome: Outcome) -> Refund:
    def move(connection: Connection, row: Row[Any], outcome: Outcome) -> dict[str, Any]:
        paid = read_row(connection, top_ups, row.top_up_id)
        unit = deployment.currencies.get(paid.currency)
        outgoing, now = _outgoing(connection, paid, unit), deployment.clock.now()
        if outcome.state == PaymentState.SUCCEEDED and row.status in IN_FLIGHT:
            outside = account(connection, system_participant(connection, rail_participant(paid.rail), now), Purpose.OUTSIDE, unit)
            legs = (Leg(outgoing, -row.amount), Leg(outside, row.amount))
            post(connection, Entry(Kind.REFUND, legs, keys.refund(row.id, "paid"), meta={"top_up": paid.id}), now)
            _mark_refunded_when_whole(connection, paid, row.amount)
        elif outcome.state == PaymentState.FAILED:
            wallet = account(connection, paid.funder_id, Purpose.WALLET, unit)
            legs = (Leg(outgoing, -row.amount), Leg(wallet, row.amount))
            post(connection, Entry(Kind.REFUND_VOID, legs, keys.refund(row.id, "void"), meta={"top_up": paid.id}), now)
        return {}

    row = record(deployment, refunds, refund_id, outcome, move)
    return as_refund(deployment, row, read(deployment, top_ups, row.top_up_id))


def _refundable_top_up(connection: Connection, top_up_id: int) -> Row[Any]:
    paid = connection.execute(select(top_ups).where(top_ups.c.id == top_up_id).with_for_update()).first()
    if paid is None:
        raise NotFound(f"no top-up #{top_up_id}")
    if paid.status != PaymentState.SUCCEEDED:
        raise Conflict(f"top-up #{top_up_id} is {paid.status}: only a succeeded top-up can be refunded")
    if paid.rail_reference is None:
        raise Conflict(f"top-up #{top_up_id} has no reference at its provider to refund")
    return paid


def _amount_to_refund(connection: Connection, deployment: Deployment, paid: Row[Any], amount: Money | None) -> int:
    """What may go back (``refundable``), checked: all of it by default, else the amount asked, in the top-up's currency."""
    unit = deployment.currencies.get(paid.currency)
    most = refundable(connection, paid)
    if amount is None:
        if most <= 0:
            raise Conflict(f"nothing of top-up #{paid.id} is left in the funder's wallet to refund")
        return most
    if amount.currency.code != paid.currency:
        raise ValidationError(f"top-up #{paid.id} was in {paid.currency}", field="amount")
    minor = unit.to_minor(amount)
    if not 0 < minor <= most:
        raise ValidationError(f"at most {unit.format(max(most, 0))} of top-up #{paid.id} can be refunded now", field="amount")
    return minor


def refundable(connection: Connection, paid: Row[Any]) -> int:
    """What of a top-up may go back now: at most what was not refunded yet, and what is still in the wallet."""
    left = paid.amount - _refunded(connection, paid.id)
    in_wallet = connection.execute(
        select(accounts.c.balance).where(
            accounts.c.owner_id == paid.funder_id, accounts.c.purpose == Purpose.WALLET, accounts.c.currency == paid.currency
        )
    ).scalar()
    most: int = min(left, in_wallet or 0)
    return most


def _refunded(connection: Connection, top_up_id: int) -> int:
    """What was refunded of a top-up, or is being refunded: a refund not failed holds its amount."""
    total = connection.execute(
        select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
            refunds.c.top_up_id == top_up_id, refunds.c.status != PaymentState.FAILED
        )
    ).scalar_one()
    return int(total or 0)


def _mark_refunded_when_whole(connection: Connection, paid: Row[Any], amount: int) -> None:
    done = connection.execute(
        select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
            refunds.c.top_up_id == paid.id, refunds.c.status == PaymentState.SUCCEEDED
        )
    ).scalar_one()
    if int(done) + amount >= paid.amount and may_move(paid.status, PaymentState.REFUNDED):
        connection.execute(update(top_ups).where(top_ups.c.id == paid.id).values(status=PaymentState.REFUNDED))


def _outgoing(connection: Connection, paid: Row[Any], unit: Any) -> Any:
    return account(connection, paid.funder_id, Purpose.OUTGOING, unit)


def as_refund(deployment: Deployment, row: Row[Any], paid: Row[Any]) -> Refund:
    return Refund(
        id=row.id,
        top_up_id=row.top_up_id,
        amount=deployment.currencies.money(row.amount, paid.currency),
        status=row.status,
        rail_reference=row.rail_reference,
        error=row.error,
    )
