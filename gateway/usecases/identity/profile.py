"""A person's profile: what they show and choose (currency, language, listing, their sites, their address).

A new address is not taken at once: it is the account's once the link mailed
to it is opened (``move_address``), and until then the old one stays. Asking
for one is answered alike whether or not another account holds it, so that
nobody learns whose address it is: a free one gets the link, a taken one's
owner a letter saying that someone tried (``taken``). Either at most once an
hour to an address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, select, update

from gateway.deployment import Deployment
from gateway.errors import Conflict, NotFound
from gateway.rules import check_address, check_language
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials, participants
from gateway.urls import clean_sites
from gateway.usecases import mail_queue
from gateway.usecases.identity import links, taken
from gateway.usecases.participants import person

CHANGE_QUIET = timedelta(hours=1)  # one new-address link an hour to an address: nobody floods it through PATCH /me


@dataclass(frozen=True)
class Profile:
    id: int
    handle: str
    email: str | None  # None for a participant made without sign-up (the CLI, the demo)
    email_verified: bool
    preferred_currency: str | None
    language: str
    role: str
    listed: bool
    totp_enabled: bool
    auto_submit_sites: list[str]  # where funders may auto-submit things for this creator


def profile(deployment: Deployment, participant_id: int) -> Profile:
    with reading(deployment.engine) as connection:
        found = connection.execute(
            select(participants, credentials.c.email, credentials.c.email_verified_at, credentials.c.totp_enabled)
            .select_from(participants.outerjoin(credentials, credentials.c.participant_id == participants.c.id))
            .where(participants.c.id == participant_id, participants.c.kind == "person")
        ).first()
    if found is None:
        raise NotFound(f"no participant #{participant_id}")
    return Profile(
        id=found.id,
        handle=found.handle,
        email=found.email,
        email_verified=found.email_verified_at is not None,
        preferred_currency=found.preferred_currency,
        language=found.language,
        role=found.role,
        listed=found.listed,
        totp_enabled=bool(found.totp_enabled),
        auto_submit_sites=list(found.auto_submit_sites or []),
    )


def update_profile(
    deployment: Deployment,
    participant_id: int,
    *,
    preferred_currency: str | None = None,
    language: str | None = None,
    listed: bool | None = None,
    email: str | None = None,
    auto_submit_sites: list[str] | None = None,
) -> None:
    """Change what is given, at once, except a new address: its link is queued (or its owner's letter), in one transaction.

    The caller cannot tell from this whether the new address was free.
    """
    changes: dict[str, Any] = {}
    if preferred_currency is not None:
        changes["preferred_currency"] = deployment.currencies.get(preferred_currency).code
    if language is not None:
        changes["language"] = check_language(language)
    if listed is not None:
        changes["listed"] = listed
    if auto_submit_sites is not None:
        changes["auto_submit_sites"] = clean_sites(auto_submit_sites)
    address = None if email is None else check_address(email)

    def work(connection: Connection) -> None:
        person(connection, participant_id)
        if changes:
            connection.execute(update(participants).where(participants.c.id == participant_id).values(**changes))
        mine = credentials.c.participant_id == participant_id
        current = connection.execute(select(credentials.c.email).where(mine)).first()
        if address is None or current is None or current.email == address:
            return
        _ask_for(connection, deployment, participant_id, address)

    run_in_transaction(deployment.engine, work)
    mail_queue.wake(deployment)


def _ask_for(connection: Connection, deployment: Deployment, participant_id: int, address: str) -> None:
    """Mail a free address its link (unless one went there within ``CHANGE_QUIET``); a taken one's owner the letter."""
    owner = taken.owner_of(connection, address)
    if owner is not None:
        taken.tell_owner(connection, deployment, owner, address, taken.CHANGE)
    elif not mail_queue.queued_since(connection, links.CHANGE, address, deployment.clock.now() - CHANGE_QUIET):
        links.issue(connection, deployment, links.CHANGE, person(connection, participant_id), address)


def move_address(connection: Connection, deployment: Deployment, participant_id: int, address: str) -> None:
    """Move an account to the new address whose link was just opened; verified, since the link reached it.

    A 409 if another account took the address meanwhile: only the address's
    owner holds the link, so that tells nobody else anything. Links to the old
    address die with it (``links.consume`` wants them aimed at the current one).
    """
    person(connection, participant_id)  # a frozen account moves nowhere
    owner = taken.owner_of(connection, address)
    if owner is not None and owner.id != participant_id:
        raise Conflict("this address got another account before this link was opened; nothing was changed", field="email")
    now = deployment.clock.now()
    connection.execute(
        update(credentials)
        .where(credentials.c.participant_id == participant_id)
        .values(email=address, email_verified_at=now, updated_at=now)
    )
