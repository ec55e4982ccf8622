"""A provider's webhooks: verified, kept once, and taken as hints.

An event is never applied as it is: it names a payment, and the rail is
asked where that payment stands, so an event that arrives twice, late or
out of order cannot move a payment wrongly (the state machine refuses what
the provider's current answer does not allow). Each event is kept once on
(rail, event id); one whose payment could not be asked about stays
unapplied, so the provider's retry of it is applied then.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sqlalchemy import Connection, select, update

from adapters import WebhookEvent
from gateway.core import keys
from gateway.deployment import Deployment
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import rail_events, top_ups, withdrawals
from gateway.storage.upsert import insert_ignore
from gateway.usecases.rail_calls import in_thread
from gateway.usecases.top_up import refresh_top_up
from gateway.usecases.withdraw import refresh_withdrawal

Received = Literal["applied", "duplicate", "ignored", "unknown_payment"]


async def receive(deployment: Deployment, rail_name: str, body: bytes, headers: Mapping[str, str]) -> Received:
    """Verify and apply one webhook; ``WebhookRefused`` (400) where its signature does not hold."""
    rail = deployment.rail(rail_name)
    event = await rail.parse_webhook(body, headers)
    if event is None:
        return "ignored"
    if not await in_thread(_keep, deployment, rail_name, event):
        return "duplicate"
    payment = await in_thread(_payment_of, deployment, rail_name, event)
    if payment is None:
        await in_thread(_mark_applied, deployment, rail_name, event)  # nothing of ours: never worth a retry
        return "unknown_payment"
    kind, payment_id = payment
    if kind == "top_up":
        await refresh_top_up(deployment, payment_id)
    else:
        await refresh_withdrawal(deployment, payment_id)
    await in_thread(_mark_applied, deployment, rail_name, event)
    return "applied"


def _keep(deployment: Deployment, rail_name: str, event: WebhookEvent) -> bool:
    """Keep the event; False where it was kept and applied before."""

    def work(connection: Connection) -> bool:
        now = deployment.clock.now()
        row = {"rail": rail_name, "event_id": event.id[:200], "type": event.type[:100], "received_at": now}
        insert_ignore(connection, rail_events, row, ["rail", "event_id"])
        applied = connection.execute(
            select(rail_events.c.applied_at).where(rail_events.c.rail == rail_name, rail_events.c.event_id == event.id[:200])
        ).scalar_one()
        return applied is None

    return run_in_transaction(deployment.engine, work)


def _mark_applied(deployment: Deployment, rail_name: str, event: WebhookEvent) -> None:
    def work(connection: Connection) -> None:
        connection.execute(
            update(rail_events)
            .where(rail_events.c.rail == rail_name, rail_events.c.event_id == event.id[:200])
            .values(applied_at=deployment.clock.now())
        )

    run_in_transaction(deployment.engine, work)


def _payment_of(deployment: Deployment, rail_name: str, event: WebhookEvent) -> tuple[str, int] | None:
    """The payment the event names: by our operation id in its metadata, else by the provider's reference."""
    named = keys.operation_of(event.operation) if event.operation else None
    table = top_ups if event.subject == "top_up" else withdrawals
    kind = "top_up" if event.subject == "top_up" else "withdrawal"
    with reading(deployment.engine) as connection:
        if named is not None:
            found = connection.execute(select(table.c.id).where(table.c.id == named[1], table.c.rail == rail_name)).first()
            if found is not None and named[0] == kind:
                return kind, named[1]
        if event.reference is None:
            return None
        by_reference = connection.execute(
            select(table.c.id).where(table.c.rail == rail_name, table.c.rail_reference == event.reference)
        ).first()
        return (kind, by_reference.id) if by_reference is not None else None
