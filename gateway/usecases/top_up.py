"""Top-up: money comes in from a rail into a funder's wallet.

Three steps, each safe to repeat: record the request (keyed), ask the rail
(keyed with our id), then post the ledger transaction (keyed with our id).
Asking again with the same key drives an interrupted top-up to its end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row, select, update

from adapters import Charge, RailResult
from gateway.core import keys
from gateway.core.accounts import Purpose, account, rail_participant, system_participant
from gateway.core.digest import digest
from gateway.core.ledger import Entry, Kind, Leg, post
from gateway.core.states import TopUpStatus
from gateway.deployment import Deployment
from gateway.errors import CurrencyNotEnabled
from gateway.storage.engine import run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import top_ups
from gateway.usecases.amounts import positive_amount
from gateway.usecases.participants import person
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


def top_up(deployment: Deployment, funder_id: int, amount: Money, rail_name: str, key: str) -> TopUp:
    unit, minor = positive_amount(deployment, amount)
    require_outside_world(unit)
    rail = deployment.rail(rail_name)
    if not rail.supports(unit.code):
        raise CurrencyNotEnabled(f"the rail {rail_name!r} does not take {unit.code}", currency=unit.code)
    request = digest({"funder": funder_id, "rail": rail_name, "currency": unit.code, "amount": minor})

    def open_request(connection: Connection) -> tuple[Row[Any], str]:
        handle = person(connection, funder_id).handle
        existing = replay(connection, top_ups, key, request)
        if existing is not None:
            return existing, handle
        values = dict(
            funder_id=funder_id,
            rail=rail_name,
            currency=unit.code,
            amount=minor,
            status=TopUpStatus.PENDING,
            idempotency_key=key,
            request_hash=request,
            created_at=deployment.clock.now(),
        )
        new_id = insert_row(connection, top_ups, **values)
        return connection.execute(select(top_ups).where(top_ups.c.id == new_id)).one(), handle

    row, handle = run_in_transaction(deployment.engine, open_request)
    if row.status != TopUpStatus.PENDING:
        return as_top_up(deployment, row)
    result = rail.charge(Charge(key=keys.top_up(row.id), funder=handle, amount=minor, currency=unit.code))
    return complete_top_up(deployment, row.id, result)


def complete_top_up(deployment: Deployment, top_up_id: int, result: RailResult) -> TopUp:
    """Record what the rail said (also the entry point for a provider's webhook)."""

    def record(connection: Connection) -> Row[Any]:
        row = connection.execute(select(top_ups).where(top_ups.c.id == top_up_id).with_for_update()).one()
        if row.status != TopUpStatus.PENDING:
            return row
        changes: dict[str, Any] = {"rail_reference": result.reference, "next_action": result.next_action}
        if result.status == "succeeded":
            changes.update(status=TopUpStatus.SUCCEEDED, transaction_id=_post_top_up(connection, deployment, row))
        elif result.status == "failed":
            changes.update(status=TopUpStatus.FAILED, error=(result.error or "refused by the rail")[:500])
        connection.execute(update(top_ups).where(top_ups.c.id == top_up_id).values(**changes))
        return connection.execute(select(top_ups).where(top_ups.c.id == top_up_id)).one()

    return as_top_up(deployment, run_in_transaction(deployment.engine, record))


def _post_top_up(connection: Connection, deployment: Deployment, row: Row[Any]) -> int:
    unit = deployment.currencies.get(row.currency)
    now = deployment.clock.now()
    outside = account(connection, system_participant(connection, rail_participant(row.rail), now), Purpose.OUTSIDE, unit)
    wallet = account(connection, row.funder_id, Purpose.WALLET, unit)
    entry = Entry(
        kind=Kind.TOP_UP,
        legs=(Leg(outside, -row.amount), Leg(wallet, row.amount)),
        idempotency_key=keys.top_up(row.id),
        meta={"rail": row.rail},
    )
    return post(connection, entry, now).transaction_id


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
    )
