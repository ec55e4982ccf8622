"""Payout destinations: where each creator's money goes out, one per rail.

Whoever changes a destination redirects every later withdrawal, so a
change asks for the password again and the one-time code when two-factor
sign-in is on, and mails the owner a notice whatever they asked for. A
rail may check and normalise a destination (``check_destination``); one
that does not takes it as it is.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, select

from gateway.deployment import Deployment
from gateway.errors import ValidationError
from gateway.i18n import N_, translate
from gateway.rules import text_problem
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import participants, payout_destinations
from gateway.storage.upsert import insert_ignore
from gateway.usecases import mail_queue
from gateway.usecases.identity.confirm import check_password, use_code, verified_owner

NOTICE = "payout_destination"
DESTINATION_MAX = 200
NOTICE_SUBJECT = N_("Your payout destination was changed")
NOTICE_TEXT = N_(
    "Hello %(handle)s,\n\nthe destination of your payouts through %(rail)s on %(platform)s is now:\n\n    %(destination)s\n\n"
    "If it was not you, sign in at %(site)s at once, change your password, and write to the operator.\n"
)


@dataclass(frozen=True)
class Destination:
    rail: str
    destination: str
    updated_at: datetime


def destinations_of(deployment: Deployment, participant_id: int) -> list[Destination]:
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(payout_destinations)
            .where(payout_destinations.c.participant_id == participant_id)
            .order_by(payout_destinations.c.rail)
        )
        return [Destination(row.rail, row.destination, row.updated_at) for row in rows]


def destination_of(connection: Connection, participant_id: int, rail: str) -> str | None:
    return connection.execute(
        select(payout_destinations.c.destination).where(
            payout_destinations.c.participant_id == participant_id, payout_destinations.c.rail == rail
        )
    ).scalar()


def set_destination(
    deployment: Deployment, participant_id: int, rail_name: str, destination: str, password: str, totp_code: str | None = None
) -> Destination:
    """Set where ``rail_name`` pays this creator, after the password (and code), and mail them a notice."""
    checked = _checked(deployment.rail(rail_name), destination)
    check_password(deployment, participant_id, password)
    return _store(deployment, participant_id, rail_name, checked, totp_code)


async def onboard(
    deployment: Deployment, participant_id: int, rail_name: str, password: str, totp_code: str | None = None
) -> str:
    """Where the provider onboards the creator (a Stripe Connect page), its account kept as the destination.

    For a rail that makes the creator an account of its own (``onboarding_link``);
    the same proofs and notice as setting a destination, since it is one.
    """
    rail = deployment.rail(rail_name)
    link = getattr(rail, "onboarding_link", None)
    if link is None:
        raise ValidationError(f"the rail {rail_name!r} makes no account: set the destination itself", field="rail")
    await asyncio.to_thread(check_password, deployment, participant_id, password)
    handle, current = await asyncio.to_thread(_handle_and_destination, deployment, participant_id, rail_name)
    pages = f"{deployment.settings.http.base_url.rstrip('/')}/payouts/{rail_name}"
    account, url = await link(handle, current, f"{pages}/ready", f"{pages}/onboarding")
    if account != current:
        await asyncio.to_thread(_store, deployment, participant_id, rail_name, str(account), totp_code)
    return str(url)


def _store(deployment: Deployment, participant_id: int, rail_name: str, destination: str, totp_code: str | None) -> Destination:
    """The destination, after the one-time code (when two-factor sign-in is on), with the owner's notice queued."""

    def work(connection: Connection) -> Destination:
        owner = verified_owner(connection, participant_id)
        use_code(connection, deployment, owner, totp_code, required=False)
        now = deployment.clock.now()
        row = {"participant_id": participant_id, "rail": rail_name, "destination": destination, "updated_at": now}
        insert_ignore(connection, payout_destinations, row, ["participant_id", "rail"])
        connection.execute(
            payout_destinations.update()
            .where(payout_destinations.c.participant_id == participant_id, payout_destinations.c.rail == rail_name)
            .values(destination=destination, updated_at=now)
        )
        _notify(connection, deployment, participant_id, owner.email, rail_name, destination)
        return Destination(rail_name, destination, now)

    changed = run_in_transaction(deployment.engine, work)
    mail_queue.wake(deployment)
    return changed


def _handle_and_destination(deployment: Deployment, participant_id: int, rail_name: str) -> tuple[str, str | None]:
    with reading(deployment.engine) as connection:
        handle = connection.execute(select(participants.c.handle).where(participants.c.id == participant_id)).scalar_one()
        return handle, destination_of(connection, participant_id, rail_name)


def _checked(rail: object, destination: str) -> str:
    destination = (destination or "").strip()
    problem = text_problem(destination, "destination")
    if not destination or problem or len(destination) > DESTINATION_MAX:
        raise ValidationError(problem or f"a destination is 1 to {DESTINATION_MAX} characters", field="destination")
    check = getattr(rail, "check_destination", None)
    return str(check(destination)) if check is not None else destination


def _notify(
    connection: Connection, deployment: Deployment, participant_id: int, address: str, rail: str, destination: str
) -> None:
    person = connection.execute(
        select(participants.c.handle, participants.c.language).where(participants.c.id == participant_id)
    ).one()
    params = {
        "handle": person.handle,
        "rail": rail,
        "platform": deployment.settings.name,
        "destination": destination,
        "site": deployment.settings.http.base_url.rstrip("/"),
    }
    subject, body = translate(person.language, NOTICE_SUBJECT), translate(person.language, NOTICE_TEXT, params)
    mail_queue.enqueue(connection, deployment, NOTICE, address, subject, body)
