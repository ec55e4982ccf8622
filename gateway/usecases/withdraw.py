"""Withdrawal: a creator's earnings leave through a rail, in the currency they prefer.

A two-phase transfer, as in TigerBeetle: the amount is first reserved (moved
from earnings to the creator's ``payout`` account, money in flight), then
either paid (to the rail's outside account, through the exchange if the
currency changes) or voided (back to earnings). The rate is fixed and
recorded when the withdrawal is requested. A payout that the provider gives
back after it was paid (a reversed transfer, a returned PayPal payout) goes
back to earnings at the same rate. As with top-ups, whatever is unfinished is
finished by asking the provider again, under the same key.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row

from adapters import IN_FLIGHT, Outcome, PaymentState, PayoutRequest, Rail
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
from gateway.deployment import Deployment
from gateway.errors import BelowMinimum, CurrencyNotEnabled, ValidationError
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import withdrawals
from gateway.usecases.amounts import positive_amount
from gateway.usecases.destinations import destination_of
from gateway.usecases.holds import refuse_held
from gateway.usecases.identity.confirm import use_code, verified_owner
from gateway.usecases.participants import person
from gateway.usecases.rail_calls import drive, in_thread, major, read, read_row, record
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


async def withdraw(
    deployment: Deployment,
    creator_id: int,
    amount: Money,
    rail_name: str,
    key: str,
    payout_currency: str | None = None,
    totp_code: str | None = None,
) -> Withdrawal:
    """Withdraw ``amount`` of earnings through ``rail_name``, once per ``key``.

    Only to an owner who can be reached (a verified address), and above the
    currency's ``totp_withdrawal_above`` only with the one-time code.
    """
    unit, minor = positive_amount(deployment, amount)
    minimum = deployment.settings.policy(unit.code).minimum_withdrawal
    if minor < minimum:
        raise BelowMinimum(f"the smallest withdrawal is {unit.format(minimum)}", minimum=unit.format_amount(minimum))
    rail = deployment.rail(rail_name)
    request = digest(
        {"creator": creator_id, "rail": rail_name, "currency": unit.code, "amount": minor, "payout": payout_currency}
    )

    def reserve(connection: Connection) -> Row[Any]:
        creator = person(connection, creator_id)
        existing = replay(connection, withdrawals, key, request)
        if existing is not None:
            return existing
        owner = verified_owner(connection, creator_id)
        above = deployment.settings.policy(unit.code).totp_withdrawal_above
        if above is not None and minor > above:
            use_code(connection, deployment, owner, totp_code, required=True)
        target = deployment.currencies.get(payout_currency or creator.preferred_currency or unit.code)
        if not rail.pays(target.code):
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
            status=PaymentState.CREATED,
            idempotency_key=key,
            request_hash=request,
            created_at=deployment.clock.now(),
            updated_at=deployment.clock.now(),
            destination=destination_of(connection, creator_id, rail_name),
        )
        earnings = account(connection, creator_id, Purpose.EARNINGS, unit)
        refuse_held(connection, deployment, earnings, unit, minor)
        new_id = insert_row(connection, withdrawals, **values)
        in_flight = account(connection, creator_id, Purpose.PAYOUT, unit)
        entry = Entry(
            kind=Kind.WITHDRAWAL_RESERVE,
            legs=(Leg(earnings, -minor), Leg(in_flight, minor)),
            idempotency_key=keys.withdrawal(new_id, "reserve"),
        )
        post(connection, entry, deployment.clock.now())
        return read_row(connection, withdrawals, new_id)

    row = await in_thread(run_in_transaction, deployment.engine, reserve)
    if row.status not in IN_FLIGHT:
        return as_withdrawal(deployment, row)
    return await _drive(deployment, rail, row.id)


async def refresh_withdrawal(deployment: Deployment, withdrawal_id: int) -> Withdrawal:
    """Ask the provider where a payout stands, and record it (the janitor, a webhook)."""
    row = await in_thread(read, deployment, withdrawals, withdrawal_id)
    return await _drive(deployment, deployment.rail(row.rail), withdrawal_id)


async def _drive(deployment: Deployment, rail: Rail, withdrawal_id: int) -> Withdrawal:
    row = await in_thread(read, deployment, withdrawals, withdrawal_id)
    request = await in_thread(_request_of, deployment, row)
    outcome = await drive(lambda: rail.start_payout(request), lambda: rail.payout_state(request, row.rail_reference), row)
    return await in_thread(record_withdrawal, deployment, withdrawal_id, outcome)


def record_withdrawal(deployment: Deployment, withdrawal_id: int, outcome: Outcome) -> Withdrawal:
    """Pay, void or give back a withdrawal, as the provider said; a move the state machine forbids changes nothing."""

    def move(connection: Connection, row: Row[Any], outcome: Outcome) -> dict[str, Any]:
        entry = _entry_for(connection, deployment, row, PaymentState(outcome.state))
        if entry is not None:
            post(connection, entry, deployment.clock.now())
        return {}

    return as_withdrawal(deployment, record(deployment, withdrawals, withdrawal_id, outcome, move))


def _entry_for(connection: Connection, deployment: Deployment, row: Row[Any], new: PaymentState) -> Entry | None:
    """The ledger's side of a move: paid, voided, or given back after it was paid; nothing for the others."""
    if new == PaymentState.SUCCEEDED and row.status in IN_FLIGHT:
        return _paid_entry(connection, deployment, row)
    if new == PaymentState.FAILED:
        return _void_entry(connection, deployment, row)
    if new == PaymentState.REFUNDED:
        return _returned_entry(connection, deployment, row)
    return None


def _request_of(deployment: Deployment, row: Row[Any]) -> PayoutRequest:
    with reading(deployment.engine) as connection:
        handle = person(connection, row.creator_id).handle
    return PayoutRequest(
        operation=keys.withdrawal(row.id),
        creator=handle,
        amount=major(deployment.currencies.get(row.payout_currency), row.payout_amount),
        currency=row.payout_currency,
        destination=row.destination,
        age=deployment.clock.now() - row.created_at,
    )


def _paid_entry(connection: Connection, deployment: Deployment, row: Row[Any]) -> Entry:
    in_flight = account(connection, row.creator_id, Purpose.PAYOUT, deployment.currencies.get(row.currency))
    legs, meta = _out_through_rail(connection, deployment, row)
    return Entry(Kind.WITHDRAWAL, (Leg(in_flight, -row.amount), *legs), keys.withdrawal(row.id, "paid"), meta=meta)


def _returned_entry(connection: Connection, deployment: Deployment, row: Row[Any]) -> Entry:
    """The paid entry run backwards, into earnings: at the recorded rate, so the creator gets back what left."""
    earnings = account(connection, row.creator_id, Purpose.EARNINGS, deployment.currencies.get(row.currency))
    legs, meta = _out_through_rail(connection, deployment, row)
    back = tuple(Leg(leg.account, -leg.amount) for leg in legs)
    return Entry(Kind.WITHDRAWAL_RETURN, (Leg(earnings, row.amount), *back), keys.withdrawal(row.id, "returned"), meta=meta)


def _out_through_rail(connection: Connection, deployment: Deployment, row: Row[Any]) -> tuple[list[Leg], dict[str, Any]]:
    """The legs that take ``row.amount`` to the rail's outside account, through the exchange if the currency changes."""
    now = deployment.clock.now()
    source = deployment.currencies.get(row.currency)
    target = deployment.currencies.get(row.payout_currency)
    outside = account(connection, system_participant(connection, rail_participant(row.rail), now), Purpose.OUTSIDE, target)
    meta: dict[str, Any] = {"rail": row.rail, "withdrawal": row.id}
    if source.code == target.code:
        return [Leg(outside, row.amount)], meta
    exchange = system_participant(connection, EXCHANGE, now)
    legs = [
        Leg(account(connection, exchange, Purpose.EXCHANGE, source), row.amount),
        Leg(account(connection, exchange, Purpose.EXCHANGE, target), -row.payout_amount),
        Leg(outside, row.payout_amount),
    ]
    meta.update(rate=row.rate, rate_date=row.rate_date.isoformat(), rate_source=row.rate_source)
    return legs, meta


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
