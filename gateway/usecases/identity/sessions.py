"""Browser sessions: signing in with a login and a password (and a code), signing out, the session cookie."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Select, delete, insert, select, update

from gateway.deployment import Deployment
from gateway.errors import Forbidden, InvalidCredentials, TotpRequired
from gateway.security import (
    burn_verify,
    hash_password,
    needs_rehash,
    new_token,
    token_hash,
    verify_password,
)
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials, participants, sessions
from gateway.usecases.identity.principal import Principal, allowed_scopes, who
from gateway.usecases.identity.totp import fresh_step, take_step

WRONG_LOGIN = "this login and password do not match"


@dataclass(frozen=True)
class SessionGrant:
    token: str  # for the cookie; only its hash is kept
    csrf_token: str
    expires_at: datetime
    participant_id: int


def log_in(deployment: Deployment, login: str, password: str, totp_code: str | None = None) -> SessionGrant:
    """Check a handle or an address with its password (and code), and open a session."""
    with reading(deployment.engine) as connection:
        found = connection.execute(by_login(login, credentials, participants.c.frozen)).first()
    if found is None:
        burn_verify(password)
        raise InvalidCredentials(WRONG_LOGIN)
    if not verify_password(found.password_hash, password):
        raise InvalidCredentials(WRONG_LOGIN)
    if found.frozen:
        raise Forbidden("this account is frozen; write to the operator")
    now = deployment.clock.now()
    step = None
    if found.totp_enabled:
        if not totp_code:
            raise TotpRequired("send the 6-digit code of your authenticator app as well")
        step = fresh_step(found, totp_code, now, InvalidCredentials)
    rehashed = hash_password(password) if needs_rehash(found.password_hash) else None

    def work(connection: Connection) -> SessionGrant:
        owner = found.participant_id
        mine = credentials.c.participant_id == owner
        if connection.execute(select(credentials.c.password_hash).where(mine)).scalar() != found.password_hash:
            raise InvalidCredentials(WRONG_LOGIN)  # reset while we were hashing
        if step is not None:
            take_step(connection, owner, step, InvalidCredentials)
        if rehashed:
            connection.execute(update(credentials).where(mine).values(password_hash=rehashed, updated_at=now))
        connection.execute(delete(sessions).where(sessions.c.participant_id == owner, sessions.c.expires_at <= now))
        grant = SessionGrant(new_token(), new_token(), now + timedelta(days=deployment.settings.http.session_days), owner)
        connection.execute(
            insert(sessions).values(
                participant_id=owner,
                token_hash=token_hash(grant.token),
                csrf_token=grant.csrf_token,
                created_at=now,
                expires_at=grant.expires_at,
            )
        )
        return grant

    return run_in_transaction(deployment.engine, work)


def sign_in_subject(deployment: Deployment, login: str) -> str:
    """Whom an attempt to sign in as ``login`` is against, whichever of the account's logins it uses.

    Wrong attempts are counted by it: a handle and an address of one account share one count.
    """
    with reading(deployment.engine) as connection:
        found = connection.execute(by_login(login, credentials.c.participant_id)).scalar()
    return f"p{found}" if found is not None else f"login:{(login or '').strip().lower()}"


def by_login(login: str, *columns: Any) -> Select[Any]:
    """The sign-in of a person by handle or address (as typed: case and spaces around do not matter)."""
    login = (login or "").strip().lower()
    column = credentials.c.email if "@" in login else participants.c.handle
    return (
        select(*columns)
        .select_from(credentials)
        .join(participants, participants.c.id == credentials.c.participant_id)
        .where(column == login, participants.c.kind == "person")
    )


def log_out(deployment: Deployment, token: str) -> None:
    run_in_transaction(deployment.engine, lambda c: c.execute(delete(sessions).where(sessions.c.token_hash == token_hash(token))))


def authenticate_session(deployment: Deployment, token: str) -> Principal | None:
    """The signed-in person behind a session cookie; None once it expired or the account froze."""
    if not token:
        return None
    with reading(deployment.engine) as connection:
        found = connection.execute(
            select(sessions.c.id.label("session_id"), sessions.c.csrf_token, *who())
            .join(participants, participants.c.id == sessions.c.participant_id)
            .where(sessions.c.token_hash == token_hash(token), sessions.c.expires_at > deployment.clock.now())
        ).first()
    if found is None or found.frozen:
        return None
    return Principal(
        found.id, found.handle, found.role, allowed_scopes(found.role), "session", found.csrf_token, found.session_id
    )
