"""Pending sign-ups: a sign-up with a free address waits for the link mailed to it before it is an account.

A sign-up must tell nobody whether its address has an account. Were the
account made at once, it would: its handle would be taken for a second
sign-up, it could sign in, and it would use up a participant id that the
next account's id reveals. So a sign-up with a free address is only a row
here, holding neither its handle nor its address (only accounts hold them),
and its link (``links``, pointing at the row) makes the account when opened:
only the address's owner can. The password is kept as its argon2 hash only.

Opening one link makes the account and deletes every pending sign-up of the
address, their links with them. An expired one is deleted by the next
sign-up. At most one letter an hour goes to an address (``QUIET``), as for
the owner of a taken address (``taken.ATTEMPT_QUIET``): the first link still
works, and a stranger cannot flood the address.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, insert, select

from gateway.deployment import Deployment
from gateway.errors import Conflict
from gateway.storage.rows import insert_row
from gateway.storage.schema import credentials, email_tokens, pending_signups
from gateway.usecases import mail_queue
from gateway.usecases.identity import links, taken
from gateway.usecases.participants import add_person

QUIET = timedelta(hours=1)  # one sign-up letter an hour to an address, as ``taken.ATTEMPT_QUIET`` for a taken one


def hold(
    connection: Connection,
    deployment: Deployment,
    handle: str,
    address: str,
    password_hash: str,
    preferred_currency: str | None,
    language: str,
) -> None:
    """Keep a sign-up with a free address and queue its link, in the caller's transaction.

    Within ``QUIET`` of the last sign-up letter to the address, nothing is
    kept: a link that nobody is mailed would be of no use.
    """
    now = deployment.clock.now()
    forget(connection, pending_signups.c.expires_at <= now)
    if mail_queue.queued_since(connection, links.VERIFY, address, now - QUIET):
        return
    pending_id = insert_row(
        connection,
        pending_signups,
        handle=handle,
        email=address,
        password_hash=password_hash,
        preferred_currency=preferred_currency,
        language=language,
        created_at=now,
        expires_at=now + links.LIFETIME[links.VERIFY],
    )
    row = connection.execute(select(pending_signups).where(pending_signups.c.id == pending_id)).one()
    links.issue(connection, deployment, links.VERIFY, row, address, pending=True)


def open_account(connection: Connection, deployment: Deployment, pending_id: int) -> int:
    """Make the account a pending sign-up waited for, its address verified by the link just opened; its id.

    A 409 if an account took the handle or the address meanwhile: only the
    address's owner holds the link, so that tells nobody else anything. The
    caller's transaction then rolls back whole, the link unused.
    """
    row = connection.execute(select(pending_signups).where(pending_signups.c.id == pending_id)).one()
    _refuse_taken(connection, row)
    participant_id = add_person(connection, deployment, row.handle, row.preferred_currency, row.language)
    now = deployment.clock.now()
    connection.execute(
        insert(credentials).values(
            participant_id=participant_id,
            email=row.email,
            password_hash=row.password_hash,
            email_verified_at=now,
            updated_at=now,
        )
    )
    forget(connection, pending_signups.c.email == row.email)
    return participant_id


def _refuse_taken(connection: Connection, row: Any) -> None:
    if taken.handle_taken(connection, row.handle):
        raise Conflict(
            f"the handle {row.handle!r} was taken before this link was opened; sign up again with another", field="handle"
        )
    if taken.owner_of(connection, row.email) is not None:
        raise Conflict(
            "this address got an account before this link was opened; sign in, or ask for a new password", field="email"
        )


def forget(connection: Connection, which: ColumnElement[bool]) -> None:
    """Delete the pending sign-ups ``which`` selects, and their links."""
    doomed = select(pending_signups.c.id).where(which)
    connection.execute(delete(email_tokens).where(email_tokens.c.pending_signup_id.in_(doomed)))
    connection.execute(delete(pending_signups).where(which))
