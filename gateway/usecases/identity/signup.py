"""Signing up: a person with a password, and the verification of their address.

Whether an address has an account is nobody's business but its owner's: a
sign-up answers the same for a free address and a taken one. A free one gets
its account and a verification link; a taken one gets no account, and its
owner a letter saying that someone tried (at most one such letter an hour).
Both letters are queued in the sign-up's transaction, so neither is sent
during the request. Handles are public, so a taken handle is a plain error.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from gateway.deployment import Deployment
from gateway.errors import Conflict, ValidationError
from gateway.rules import check_address, check_handle, check_language, check_password
from gateway.security import hash_password
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials, participants
from gateway.usecases import mail_queue
from gateway.usecases.identity import links
from gateway.usecases.participants import RESERVED_HANDLES, add_person, person

ATTEMPT = "sign_up_attempt"  # the kind of the mail to the owner of an address someone signed up with
ATTEMPT_QUIET = timedelta(hours=1)  # one such letter an hour at most: a stranger cannot flood the owner's mailbox
ATTEMPT_LETTERS = {
    "en": (
        "Someone tried to sign up with your address",
        "Hello {handle},\n\nsomeone tried to sign up on {platform} with this e-mail address, which already "
        "belongs to your account. No new account was made.\n\nIf it was you, sign in at {site} instead (if you "
        "forgot your password, ask there for a new one). If it was not you, ignore this mail: your account "
        "stays as it is.\n",
    ),
    "fr": (
        "Quelqu'un a tenté de s'inscrire avec votre adresse",
        "Bonjour {handle},\n\nquelqu'un a tenté de s'inscrire sur {platform} avec cette adresse e-mail, qui "
        "appartient déjà à votre compte. Aucun nouveau compte n'a été créé.\n\nSi c'était vous, connectez-vous "
        "plutôt sur {site} (si vous avez oublié votre mot de passe, demandez-y-en un nouveau). Si ce n'était pas "
        "vous, ignorez ce message : votre compte ne change pas.\n",
    ),
}


def sign_up(
    deployment: Deployment,
    handle: str,
    email: str,
    password: str,
    preferred_currency: str | None = None,
    language: str = "en",
) -> int | None:
    """A new person with a password, and their verification link queued; the new account's id.

    None where the address has an account already: no account is made, and
    its owner's letter is queued instead. The caller must answer both alike.
    Every input is checked first, the same for either, and the password is
    hashed for either: the answer tells nothing, nor does its time.
    """
    handle = (handle or "").lower()  # case-folded, so "Alice" and "alice" are one
    _check_new_person(deployment, handle, preferred_currency)
    address = check_address(email)
    check_password(password)
    check_language(language)
    with reading(deployment.engine) as connection:
        refuse_taken(connection, handle=handle)  # a clear error before the slow hash; handles are public
    password_hash = hash_password(password)

    def work(connection: Connection) -> int | None:
        refuse_taken(connection, handle=handle)
        owner = _owner_of(connection, address)
        if owner is not None:
            _tell_owner(connection, deployment, owner, address)
            return None
        participant_id = add_person(connection, deployment, handle, preferred_currency, language)
        connection.execute(
            insert(credentials).values(
                participant_id=participant_id, email=address, password_hash=password_hash, updated_at=deployment.clock.now()
            )
        )
        links.issue(connection, deployment, "verify", person(connection, participant_id), address)
        return participant_id

    # Two sign-ups with one free address at once: the loser's insert breaks the unique address, its
    # transaction runs again, and finds the winner's account: it is the other case, then.
    created = run_in_transaction(deployment.engine, work)
    mail_queue.wake(deployment)
    return created


def _check_new_person(deployment: Deployment, handle: str, preferred_currency: str | None) -> None:
    """What ``add_person`` refuses, refused before the address is looked at: a taken address must not hide it."""
    check_handle(handle)
    if handle in RESERVED_HANDLES:
        raise ValidationError(f"the handle {handle!r} is reserved", field="handle")
    if preferred_currency is not None:
        deployment.currencies.get(preferred_currency)


def _owner_of(connection: Connection, address: str) -> Row[Any] | None:
    return connection.execute(
        select(participants)
        .join(credentials, credentials.c.participant_id == participants.c.id)
        .where(credentials.c.email == address)
    ).first()


def _tell_owner(connection: Connection, deployment: Deployment, owner: Row[Any], address: str) -> None:
    """Queue the owner's letter, in their language, unless one went out within ``ATTEMPT_QUIET``."""
    if mail_queue.queued_since(connection, ATTEMPT, address, deployment.clock.now() - ATTEMPT_QUIET):
        return
    subject, text = ATTEMPT_LETTERS.get(owner.language) or ATTEMPT_LETTERS["en"]
    site = deployment.settings.http.base_url.rstrip("/")
    body = text.format(handle=owner.handle, platform=deployment.settings.name, site=site)
    mail_queue.enqueue(connection, deployment, ATTEMPT, address, subject, body)


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
    """A Conflict for a taken handle, or address (an address only where its owner asks: ``profile``)."""
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
