"""Signing up: a person with a password, whose account is made when the link mailed to their address is opened.

Whether an address has an account is nobody's business but its owner's: a
sign-up is taken in alike for a free address and a taken one, and leaves
nothing that tells them apart. A free one is kept as a pending sign-up
(``pending``), which holds neither handle nor address, makes no account (so
nothing signs in, and no participant id is used up) and gets a link; a taken
one gets no account, and its owner a letter saying that someone tried
(``taken``). Either letter is queued in the sign-up's transaction, at most
one an hour to an address. Handles are public, so a handle that an account
holds is a plain error.

Opening a link (``verify_email``) makes the account of a pending sign-up,
moves an account to the new address it asked for (``profile``), or verifies
the address of an account made before sign-ups waited for their link.
"""

from __future__ import annotations

from sqlalchemy import Connection, update

from gateway.deployment import Deployment
from gateway.errors import Conflict, ValidationError
from gateway.rules import check_address, check_handle, check_language, check_password
from gateway.security import hash_password
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials
from gateway.usecases import mail_queue
from gateway.usecases.identity import links, pending, profile, taken
from gateway.usecases.participants import RESERVED_HANDLES


def sign_up(
    deployment: Deployment,
    handle: str,
    email: str,
    password: str,
    preferred_currency: str | None = None,
    language: str = "en",
) -> None:
    """Take a sign-up in: a pending sign-up and its link for a free address, the owner's letter for a taken one.

    Nothing comes back, so that no caller can answer the two apart. Every
    input is checked first, the same for either, and the password is hashed
    for either: the answer tells nothing, nor does its time.
    """
    handle = (handle or "").lower()  # case-folded, so "Alice" and "alice" are one
    _check_new_person(deployment, handle, preferred_currency)
    address = check_address(email)
    check_password(password)
    check_language(language)
    with reading(deployment.engine) as connection:
        refuse_taken(connection, handle)  # a clear error before the slow hash; handles are public
    password_hash = hash_password(password)

    def work(connection: Connection) -> None:
        refuse_taken(connection, handle)
        owner = taken.owner_of(connection, address)
        if owner is None:
            pending.hold(connection, deployment, handle, address, password_hash, preferred_currency, language)
        else:
            taken.tell_owner(connection, deployment, owner, address, taken.SIGN_UP)

    run_in_transaction(deployment.engine, work)
    mail_queue.wake(deployment)


def _check_new_person(deployment: Deployment, handle: str, preferred_currency: str | None) -> None:
    """What ``add_person`` refuses, refused before the address is looked at: a taken address must not hide it."""
    check_handle(handle)
    if handle in RESERVED_HANDLES:
        raise ValidationError(f"the handle {handle!r} is reserved", field="handle")
    if preferred_currency is not None:
        deployment.currencies.get(preferred_currency)


def refuse_taken(connection: Connection, handle: str) -> None:
    """A Conflict for a handle that an account holds (handles are public; a pending sign-up holds none)."""
    if taken.handle_taken(connection, handle):
        raise Conflict(f"the handle {handle!r} is taken", field="handle")


def verify_email(deployment: Deployment, token: str) -> int:
    """Open a link mailed to confirm an address; the id of the account that now has it, verified.

    One page serves every such link: a pending sign-up's makes its account
    (``pending.open_account``, a 409 if its handle or address was taken
    meanwhile); an account's new address's moves the account to it
    (``profile.move_address``); and an account's own address's verifies it.
    All in one transaction with the link's use: a refusal leaves the link as
    it was, and nothing half-written.
    """

    def work(connection: Connection) -> int:
        link = links.consume(connection, deployment, token, links.VERIFY, links.CHANGE)
        if link.pending_signup_id is not None:
            return pending.open_account(connection, deployment, link.pending_signup_id)
        if link.purpose == links.CHANGE:
            profile.move_address(connection, deployment, link.participant_id, link.email)
        else:
            now = deployment.clock.now()
            connection.execute(
                update(credentials)
                .where(credentials.c.participant_id == link.participant_id)
                .values(email_verified_at=now, updated_at=now)
            )
        return int(link.participant_id)

    return run_in_transaction(deployment.engine, work)
