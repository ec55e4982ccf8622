"""Forgotten passwords: a reset link by mail, and the new password it lets one set."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, delete, select, update

from gateway.deployment import Deployment
from gateway.rules import check_password
from gateway.security import hash_password
from gateway.storage.engine import run_in_transaction
from gateway.storage.schema import (
    access_tokens,
    credentials,
    participants,
    sessions,
)
from gateway.usecases import mail_queue
from gateway.usecases.identity import links


def request_password_reset(deployment: Deployment, email: str) -> None:
    """Queue a reset link, in the transaction that makes it; an unknown address gets nothing, and the caller cannot tell."""
    address = (email or "").strip().lower()

    def work(connection: Connection) -> None:
        found: Row[Any] | None = connection.execute(
            select(participants)
            .join(credentials, credentials.c.participant_id == participants.c.id)
            .where(credentials.c.email == address)
        ).first()
        if found is not None:
            links.issue(connection, deployment, links.RESET, found, address)

    run_in_transaction(deployment.engine, work)
    mail_queue.wake(deployment)


def reset_password(deployment: Deployment, token: str, new_password: str) -> None:
    """Set a new password with a mailed link; the account's sessions, tokens, other reset links and address moves end."""
    check_password(new_password)
    password_hash = hash_password(new_password)

    def work(connection: Connection) -> None:
        owner = links.consume(connection, deployment, token, links.RESET).participant_id
        now = deployment.clock.now()
        mine = credentials.c.participant_id == owner
        connection.execute(update(credentials).where(mine).values(password_hash=password_hash, updated_at=now))
        # The link reached the address, which proves it as well as a verification link would.
        connection.execute(
            update(credentials).where(mine, credentials.c.email_verified_at.is_(None)).values(email_verified_at=now)
        )
        # The other reset links, and any move to a new address not yet confirmed: a thief may have asked for it.
        links.void(connection, deployment, owner, links.RESET, links.CHANGE)
        connection.execute(delete(sessions).where(sessions.c.participant_id == owner))
        # Whoever needed a reset may have lost a token too: every one stops working with the old password.
        connection.execute(
            update(access_tokens)
            .where(access_tokens.c.participant_id == owner, access_tokens.c.revoked_at.is_(None))
            .values(revoked_at=now)
        )

    run_in_transaction(deployment.engine, work)
