"""Signing up: a person with a password, and the verification of their address."""

from __future__ import annotations

from sqlalchemy import Connection, func, insert, select, update

from gateway.deployment import Deployment
from gateway.errors import Conflict
from gateway.mail import Mailer
from gateway.rules import check_address, check_language, check_password
from gateway.security import hash_password
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials, participants
from gateway.usecases.identity import links
from gateway.usecases.participants import add_person, person


def sign_up(
    deployment: Deployment,
    handle: str,
    email: str,
    password: str,
    preferred_currency: str | None = None,
    language: str = "en",
    mailer: Mailer | None = None,
) -> int:
    """A new person with a password; mails the link that verifies the address."""
    handle = (handle or "").lower()  # case-folded, so "Alice" and "alice" are one; the rest is add_person's
    address = check_address(email)
    check_password(password)
    check_language(language)
    with reading(deployment.engine) as connection:
        refuse_taken(connection, handle=handle, address=address)  # clear errors before the slow hash
    password_hash = hash_password(password)

    def work(connection: Connection) -> links.Letter:
        refuse_taken(connection, handle=handle, address=address)
        participant_id = add_person(connection, deployment, handle, preferred_currency, language)
        connection.execute(
            insert(credentials).values(
                participant_id=participant_id, email=address, password_hash=password_hash, updated_at=deployment.clock.now()
            )
        )
        return links.issue(connection, deployment, "verify", person(connection, participant_id), address)

    letter = run_in_transaction(deployment.engine, work)
    links.send(deployment, mailer, letter)
    return letter.participant_id


def verify_email(deployment: Deployment, token: str) -> None:
    def work(connection: Connection) -> None:
        link = links.consume(connection, deployment, token, "verify")
        now = deployment.clock.now()
        connection.execute(
            update(credentials)
            .where(credentials.c.participant_id == link.participant_id)
            .values(email_verified_at=now, updated_at=now)
        )

    run_in_transaction(deployment.engine, work)


def refuse_taken(connection: Connection, handle: str | None = None, address: str | None = None) -> None:
    if (
        handle is not None
        and connection.execute(select(participants.c.id).where(func.lower(participants.c.handle) == handle)).first()
    ):
        raise Conflict(f"the handle {handle!r} is taken", field="handle")
    if (
        address is not None
        and connection.execute(select(credentials.c.participant_id).where(credentials.c.email == address)).first()
    ):
        raise Conflict("this e-mail address belongs to another account", field="email")
