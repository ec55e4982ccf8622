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

from moneyed import Money
from sqlalchemy import Connection, Row, insert, select, update

from adapters import Payout, RailResult
from currencies import Rate, convert

from ..accounts import EXCHANGE, account, system_participant
from ..deployment import Deployment
from ..errors import BelowMinimum, CurrencyNotEnabled, ValidationError
from ..ledger import Entry, Leg, post
from ..storage.engine import run_in_transaction
from ..storage.schema import withdrawals
from .common import person, positive_amount, replay, request_hash


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
    digest_fields = dict(creator=creator_id, rail=rail_name, currency=unit.code, amount=minor, payout=payout_currency)
    digest = request_hash(**digest_fields)

    def reserve(connection: Connection) -> tuple[Row, str]:
        creator = person(connection, creator_id)
        existing = replay(connection, withdrawals, key, digest)
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
            creator_id=creator_id, rail=rail_name, currency=unit.code, amount=minor, payout_currency=target.code,
            payout_amount=payout_minor, rate=str(rate.value), rate_date=rate.on, rate_source=rate.source,
            status="pending", idempotency_key=key, request_hash=digest, created_at=deployment.clock.now(),
        )
        new_id = connection.execute(insert(withdrawals).values(**values)).inserted_primary_key[0]
        earnings = account(connection, creator_id, "earnings", unit)
        in_flight = account(connection, creator_id, "payout", unit)
        entry = Entry(
            kind="withdrawal_reserve",
            legs=(Leg(earnings, -minor), Leg(in_flight, minor)),
            idempotency_key=f"withdrawal:{new_id}:reserve",
        )
        post(connection, entry, deployment.clock.now())
        return connection.execute(select(withdrawals).where(withdrawals.c.id == new_id)).one(), creator.handle

    row, handle = run_in_transaction(deployment.engine, reserve)
    if row.status != "pending":
        return as_withdrawal(deployment, row)
    result = rail.payout(Payout(key=f"withdrawal:{row.id}", creator=handle, amount=row.payout_amount, currency=row.payout_currency))
    return complete_withdrawal(deployment, row.id, result)


def complete_withdrawal(deployment: Deployment, withdrawal_id: int, result: RailResult) -> Withdrawal:
    """Pay or void a reserved withdrawal, as the rail said (also for a provider's webhook)."""

    def record(connection: Connection) -> Row:
        row = connection.execute(select(withdrawals).where(withdrawals.c.id == withdrawal_id).with_for_update()).one()
        if row.status != "pending" or result.status == "pending":
            return row
        now = deployment.clock.now()
        entry = _paid_entry(connection, deployment, row) if result.status == "succeeded" else _void_entry(connection, deployment, row)
        post(connection, entry, now)
        status = "paid" if result.status == "succeeded" else "failed"
        error = None if status == "paid" else (result.error or "refused by the rail")[:500]
        connection.execute(
            update(withdrawals)
            .where(withdrawals.c.id == withdrawal_id)
            .values(status=status, rail_reference=result.reference, error=error)
        )
        return connection.execute(select(withdrawals).where(withdrawals.c.id == withdrawal_id)).one()

    return as_withdrawal(deployment, run_in_transaction(deployment.engine, record))


def _paid_entry(connection: Connection, deployment: Deployment, row: Row) -> Entry:
    now = deployment.clock.now()
    source = deployment.currencies.get(row.currency)
    target = deployment.currencies.get(row.payout_currency)
    in_flight = account(connection, row.creator_id, "payout", source)
    outside = account(connection, system_participant(connection, f"rail:{row.rail}", now), "outside", target)
    legs = [Leg(in_flight, -row.amount)]
    meta = {"rail": row.rail, "withdrawal": row.id}
    if source.code == target.code:
        legs.append(Leg(outside, row.amount))
    else:
        exchange = system_participant(connection, EXCHANGE, now)
        legs += [
            Leg(account(connection, exchange, "exchange", source), row.amount),
            Leg(account(connection, exchange, "exchange", target), -row.payout_amount),
            Leg(outside, row.payout_amount),
        ]
        meta.update(rate=row.rate, rate_date=row.rate_date.isoformat(), rate_source=row.rate_source)
    return Entry(kind="withdrawal", legs=tuple(legs), idempotency_key=f"withdrawal:{row.id}:paid", meta=meta)


def _void_entry(connection: Connection, deployment: Deployment, row: Row) -> Entry:
    unit = deployment.currencies.get(row.currency)
    in_flight = account(connection, row.creator_id, "payout", unit)
    earnings = account(connection, row.creator_id, "earnings", unit)
    return Entry(
        kind="withdrawal_void",
        legs=(Leg(in_flight, -row.amount), Leg(earnings, row.amount)),
        idempotency_key=f"withdrawal:{row.id}:void",
    )


def as_withdrawal(deployment: Deployment, row: Row) -> Withdrawal:
    rate = Rate(row.currency, row.payout_currency, Decimal(row.rate), row.rate_date, row.rate_source)
    return Withdrawal(
        id=row.id, creator_id=row.creator_id, rail=row.rail,
        amount=deployment.currencies.money(row.amount, row.currency),
        payout=deployment.currencies.money(row.payout_amount, row.payout_currency),
        rate=rate, status=row.status, rail_reference=row.rail_reference, error=row.error,
    )
