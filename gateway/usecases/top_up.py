"""Top-up: money comes in from a rail into a funder's wallet, as a two-phase transfer.

The request is recorded under the caller's key, with the first phase posted
in the same transaction: the amount leaves the rail's outside account into
the funder's ``incoming`` account, money in flight that cannot be given yet.
Then the rail is asked, with our id of the top-up as its idempotency key.
When the provider confirms it, the second phase moves the amount into the
wallet; when it refuses, the first phase is voided. Whatever is unfinished
(an answer that never came, a 3-D Secure check, an approval at PayPal) is
finished by asking the provider again: the same key through the API, the
janitor (``gateway rails sync``), or a webhook. A top-up disputed or
refunded at the provider after it succeeded is clawed back
(``gateway.usecases.recovery``), and given back if the dispute is won.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row

from adapters import IN_FLIGHT, Outcome, PaymentState, Rail, TopUpRequest
from gateway.core import keys
from gateway.core.accounts import PLATFORM, Purpose, account, rail_participant, system_participant
from gateway.core.digest import digest
from gateway.core.ledger import Entry, Kind, Leg, post
from gateway.deployment import Deployment
from gateway.errors import CurrencyNotEnabled
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import top_ups
from gateway.usecases.amounts import positive_amount
from gateway.usecases.participants import person
from gateway.usecases.rail_calls import drive, in_thread, major, read, read_row, record
from gateway.usecases.recovery import claw_back, give_back
from gateway.usecases.requests import replay
from gateway.usecases.transfers import require_outside_world


@dataclass(frozen=True)
class TopUp:
    id: int
    funder_id: int
    rail: str
    amount: Money
    status: str
    rail_reference: str | None
    next_action: dict[str, Any] | None
    error: str | None
    transaction_id: int | None
    fee: Money | None


async def top_up(deployment: Deployment, funder_id: int, amount: Money, rail_name: str, key: str) -> TopUp:
    """Top up ``amount`` through ``rail_name``, once per ``key``; asking again drives an unfinished one on."""
    unit, minor = positive_amount(deployment, amount)
    require_outside_world(unit)
    rail = deployment.rail(rail_name)
    if not rail.takes(unit.code):
        raise CurrencyNotEnabled(f"the rail {rail_name!r} does not take {unit.code}", currency=unit.code)
    request = digest({"funder": funder_id, "rail": rail_name, "currency": unit.code, "amount": minor})

    def open_request(connection: Connection) -> Row[Any]:
        person(connection, funder_id)
        existing = replay(connection, top_ups, key, request)
        if existing is not None:
            return existing
        now = deployment.clock.now()
        values = dict(
            funder_id=funder_id,
            rail=rail_name,
            currency=unit.code,
            amount=minor,
            status=PaymentState.CREATED,
            idempotency_key=key,
            request_hash=request,
            created_at=now,
            updated_at=now,
        )
        row = read_row(connection, top_ups, insert_row(connection, top_ups, **values))
        _post_pending(connection, deployment, row)
        return row

    row = await in_thread(run_in_transaction, deployment.engine, open_request)
    if row.status not in IN_FLIGHT:
        return as_top_up(deployment, row)
    return await _drive(deployment, rail, row.id)


async def refresh_top_up(deployment: Deployment, top_up_id: int) -> TopUp:
    """Ask the provider where a top-up stands, and record it (after a 3-D Secure check, an approval, a webhook)."""
    return await _drive(deployment, deployment.rail((await in_thread(read, deployment, top_ups, top_up_id)).rail), top_up_id)


async def _drive(deployment: Deployment, rail: Rail, top_up_id: int) -> TopUp:
    row = await in_thread(read, deployment, top_ups, top_up_id)
    request = await in_thread(_request_of, deployment, row)
    outcome = await drive(lambda: rail.start_top_up(request), lambda: rail.top_up_state(request, row.rail_reference), row)
    return await in_thread(record_top_up, deployment, top_up_id, outcome)


def record_top_up(deployment: Deployment, top_up_id: int, outcome: Outcome) -> TopUp:
    """Record what the provider said, moving the money with it; a move the state machine forbids changes nothing."""

    def move(connection: Connection, row: Row[Any], outcome: Outcome) -> dict[str, Any]:
        if outcome.state in IN_FLIGHT:
            return {"next_action": outcome.next_action}
        if outcome.state == PaymentState.SUCCEEDED and row.status in IN_FLIGHT:
            return {**_confirm(connection, deployment, row, outcome), "next_action": None}
        if outcome.state == PaymentState.FAILED:
            _void(connection, deployment, row)
        elif row.status == PaymentState.SUCCEEDED:  # disputed, or refunded at the provider: the money went back
            claw_back(connection, deployment, row)
        elif row.status == PaymentState.DISPUTED and outcome.state == PaymentState.SUCCEEDED:  # the dispute was won
            give_back(connection, deployment, row)
        return {"next_action": None}

    return as_top_up(deployment, record(deployment, top_ups, top_up_id, outcome, move))


def _post_pending(connection: Connection, deployment: Deployment, row: Row[Any]) -> None:
    """Phase one: outside -> incoming. Idempotent, so a top-up recorded before rails were two-phase gets it late."""
    outside, incoming = _outside(connection, deployment, row), _incoming(connection, deployment, row)
    entry = Entry(
        kind=Kind.TOP_UP_PENDING,
        legs=(Leg(outside, -row.amount), Leg(incoming, row.amount)),
        idempotency_key=keys.top_up(row.id, "pending"),
        meta={"rail": row.rail},
    )
    post(connection, entry, deployment.clock.now())


def _confirm(connection: Connection, deployment: Deployment, row: Row[Any], outcome: Outcome) -> dict[str, Any]:
    """Phase two: incoming -> wallet; and what the provider kept, paid by the platform (the funder gets it all)."""
    _post_pending(connection, deployment, row)
    now = deployment.clock.now()
    unit = deployment.currencies.get(row.currency)
    wallet = account(connection, row.funder_id, Purpose.WALLET, unit)
    incoming = _incoming(connection, deployment, row)
    entry = Entry(
        kind=Kind.TOP_UP,
        legs=(Leg(incoming, -row.amount), Leg(wallet, row.amount)),
        idempotency_key=keys.top_up(row.id, "post"),
        meta={"rail": row.rail},
    )
    changes: dict[str, Any] = {"transaction_id": post(connection, entry, now).transaction_id}
    fee = unit.to_minor(Money(outcome.fee, row.currency)) if outcome.fee else 0
    if fee > 0:
        platform = system_participant(connection, PLATFORM, now)
        legs = (
            Leg(account(connection, platform, Purpose.PROVIDER_FEE, unit), -fee),
            Leg(_outside(connection, deployment, row), fee),
        )
        post(connection, Entry(Kind.PROVIDER_FEE, legs, keys.top_up(row.id, "fee"), meta={"rail": row.rail}), now)
        changes["fee"] = fee
    return changes


def _void(connection: Connection, deployment: Deployment, row: Row[Any]) -> None:
    _post_pending(connection, deployment, row)
    entry = Entry(
        kind=Kind.TOP_UP_VOID,
        legs=(Leg(_incoming(connection, deployment, row), -row.amount), Leg(_outside(connection, deployment, row), row.amount)),
        idempotency_key=keys.top_up(row.id, "void"),
        meta={"rail": row.rail},
    )
    post(connection, entry, deployment.clock.now())


def _outside(connection: Connection, deployment: Deployment, row: Row[Any]) -> Any:
    owner = system_participant(connection, rail_participant(row.rail), deployment.clock.now())
    return account(connection, owner, Purpose.OUTSIDE, deployment.currencies.get(row.currency))


def _incoming(connection: Connection, deployment: Deployment, row: Row[Any]) -> Any:
    return account(connection, row.funder_id, Purpose.INCOMING, deployment.currencies.get(row.currency))


def _request_of(deployment: Deployment, row: Row[Any]) -> TopUpRequest:
    with reading(deployment.engine) as connection:
        handle = person(connection, row.funder_id).handle
    base = deployment.settings.http.base_url.rstrip("/")
    return TopUpRequest(
        operation=keys.top_up(row.id),
        funder=handle,
        amount=major(deployment.currencies.get(row.currency), row.amount),
        currency=row.currency,
        return_url=f"{base}/top-ups/{row.id}/return",
    )


def as_top_up(deployment: Deployment, row: Row[Any]) -> TopUp:
    return TopUp(
        id=row.id,
        funder_id=row.funder_id,
        rail=row.rail,
        amount=deployment.currencies.money(row.amount, row.currency),
        status=row.status,
        rail_reference=row.rail_reference,
        next_action=row.next_action,
        error=row.error,
        transaction_id=row.transaction_id,
        fee=deployment.currencies.money(row.fee, row.currency) if row.fee is not None else None,
    )
