"""Withdrawal: a creator's earnings leave through a rail, in the currency they prefer.

A two-phase transfer, as in TigerBeetle: the amount is first reserved (moved
from earnings to the creator's ``payout`` account, money in flight), then
either paid (to the rail's outside account, through the exchange if the
currency changes) or voided (back to earnings). The rate is fixed and
recorded when the withdrawal is requested.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row, select, update

from adapters import Payout, RailResult
from currencies import Rate, convert
from gateway.core import keys
from gateway.core.accounts import (
    EXCHANGE,
    Purpose,
    account,
    rail_participant,
    system_participant,
)
from gateway.core.digest import digest
from gateway.core.ledger import Entry, Kind, Leg, post
from gateway.core.states import WithdrawalStatus
from gateway.deployment import Deployment
from gateway.errors import BelowMinimum, CurrencyNotEnabled, ValidationError
from gateway.storage.engine import run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import withdrawals
from gateway.usecases.amounts import positive_amount
from gateway.usecases.participants import person
from gateway.usecases.requests import replay


@dataclass(frozen=True)
class Withdrawal:
    id: int
    creator_id: int
    rail: str
    amount: Money
    payout: Money
    rate: Rate
    status: str
    rail_reference: str | None
    error: str | None


def withdraw(
    deployment: Deployment, creator_id: int, amount: Money, rail_name: str, key: str, payout_currency: str | None = None
) -> Withdrawal:
    unit, minor = positive_amount(deployment, amount)
    minimum = deployment.settings.policy(unit.code).minimum_withdrawal
    if minor < minimum:
        raise BelowMinimum(f"the smallest withdrawal is {unit.format(minimum)}", minimum=unit.format_amount(minimum))
    rail = deployment.rail(rail_name)
    request = digest(
        {"creator": creator_id, "rail": rail_name, "currency": unit.code, "amount": minor, "payout": payout_currency}
    )

    def reserve(connection: Connection) -> tuple[Row[Any], str]:
        creator = person(connection, creator_id)
        existing = replay(connection, withdrawals, key, request)
        if existing is not None:
            return existing, creator.handle
        target = deployment.currencies.get(payout_currency or creator.preferred_currency or unit.code)
        if not rail.supports(target.code):
            raise CurrencyNotEnabled(f"the rail {rail_name!r} does not pay out {target.code}", currency=target.code)
        today = deployment.clock.now().date()
        rate = rail.rate(unit.code, target.code, today) or deployment.rates.rate(unit.code, target.code, today)
        payout_minor = convert(minor, unit, target, rate)
        if payout_minor <= 0:
            raise ValidationError(f"{unit.format(minor)} is worth nothing in {target.code}")
        values = dict(
            creator_id=creator_id,
            rail=rail_name,
            currency=unit.code,
            amount=minor,
            payout_currency=target.code,
            payout_amount=payout_minor,
            rate=str(rate.value),
            rate_date=rate.on,
            rate_source=rate.source,
            status=WithdrawalStatus.PENDING,
            idempotency_key=key,
            request_hash=request,
            created_at=deployment.clock.now(),
        )
        new_id = insert_row(connection, withdrawals, **values)
        earnings = account(connection, creator_id, Purpose.EARNINGS, unit)
        in_flight = account(connection, creator_id, Purpose.PAYOUT, unit)
        entry = Entry(
            kind=Kind.WITHDRAWAL_RESERVE,
            legs=(Leg(earnings, -minor), Leg(in_flight, minor)),
            idempotency_key=keys.withdrawal(new_id, "reserve"),
        )
        post(connection, entry, deployment.clock.now())
        return connection.execute(select(withdrawals).where(withdrawals.c.id == new_id)).one(), creator.handle

    row, handle = run_in_transaction(deployment.engine, reserve)
    if row.status != WithdrawalStatus.PENDING:
        return as_withdrawal(deployment, row)
    result = rail.payout(
        Payout(key=keys.withdrawal(row.id), creator=handle, amount=row.payout_amount, currency=row.payout_currency)
    )
    return complete_withdrawal(deployment, row.id, result)


def complete_withdrawal(deployment: Deployment, withdrawal_id: int, result: RailResult) -> Withdrawal:
    """Pay or void a reserved withdrawal, as the rail said (also for a provider's webhook)."""

    def record(connection: Connection) -> Row[Any]:
        row = connection.execute(select(withdrawals).where(withdrawals.c.id == withdrawal_id).with_for_update()).one()
        if row.status != WithdrawalStatus.PENDING or result.status == "pending":
            return row
        now = deployment.clock.now()
        entry = (
            _paid_entry(connection, deployment, row) if result.status == "succeeded" else _void_entry(connection, deployment, row)
        )
        post(connection, entry, now)
        status = WithdrawalStatus.PAID if result.status == "succeeded" else WithdrawalStatus.FAILED
        error = None if status == WithdrawalStatus.PAID else (result.error or "refused by the rail")[:500]
        connection.execute(
            update(withdrawals)
            .where(withdrawals.c.id == withdrawal_id)
            .values(status=status, rail_reference=result.reference, error=error)
        )
        return connection.execute(select(withdrawals).where(withdrawals.c.id == withdrawal_id)).one()

    return as_withdrawal(deployment, run_in_transaction(deployment.engine, record))


def _paid_entry(connection: Connection, deployment: Deployment, row: Row[Any]) -> Entry:
    now = deployment.clock.now()
    source = deployment.currencies.get(row.currency)
    target = deployment.currencies.get(row.payout_currency)
    in_flight = account(connection, row.creator_id, Purpose.PAYOUT, source)
    outside = account(connection, system_participant(connection, rail_participant(row.rail), now), Purpose.OUTSIDE, target)
    legs = [Leg(in_flight, -row.amount)]
    meta = {"rail": row.rail, "withdrawal": row.id}
    if source.code == target.code:
        legs.append(Leg(outside, row.amount))
    else:
        exchange = system_participant(connection, EXCHANGE, now)
        legs += [
            Leg(account(connection, exchange, Purpose.EXCHANGE, source), row.amount),
            Leg(account(connection, exchange, Purpose.EXCHANGE, target), -row.payout_amount),
            Leg(outside, row.payout_amount),
        ]
        meta.update(rate=row.rate, rate_date=row.rate_date.isoformat(), rate_source=row.rate_source)
    return Entry(kind=Kind.WITHDRAWAL, legs=tuple(legs), idempotency_key=keys.withdrawal(row.id, "paid"), meta=meta)


def _void_entry(connection: Connection, deployment: Deployment, row: Row[Any]) -> Entry:
    unit = deployment.currencies.get(row.currency)
    in_flight = account(connection, row.creator_id, Purpose.PAYOUT, unit)
    earnings = account(connection, row.creator_id, Purpose.EARNINGS, unit)
    return Entry(
        kind=Kind.WITHDRAWAL_VOID,
        legs=(Leg(in_flight, -row.amount), Leg(earnings, row.amount)),
        idempotency_key=keys.withdrawal(row.id, "void"),
    )


def as_withdrawal(deployment: Deployment, row: Row[Any]) -> Withdrawal:
    rate = Rate(row.currency, row.payout_currency, Decimal(row.rate), row.rate_date, row.rate_source)
    return Withdrawal(
        id=row.id,
        creator_id=row.creator_id,
        rail=row.rail,
        amount=deployment.currencies.money(row.amount, row.currency),
        payout=deployment.currencies.money(row.payout_amount, row.payout_currency),
        rate=rate,
        status=row.status,
        rail_reference=row.rail_reference,
        error=row.error,
    )
