"""A person's profile: what they show and choose (currency, language, listing, their sites, their address)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, select, update

from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.rules import check_address, check_language
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials, participants
from gateway.urls import clean_sites
from gateway.usecases import mail_queue
from gateway.usecases.identity import links
from gateway.usecases.identity.signup import refuse_taken
from gateway.usecases.participants import person


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
    """Change what is given; a new address is unverified until its link, queued in the same transaction, is opened."""
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
        refuse_taken(connection, address=address)
        connection.execute(
            update(credentials).where(mine).values(email=address, email_verified_at=None, updated_at=deployment.clock.now())
        )
        links.issue(connection, deployment, "verify", person(connection, participant_id), address)

    run_in_transaction(deployment.engine, work)
    mail_queue.wake(deployment)
