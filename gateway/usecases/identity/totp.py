"""Two-factor sign-in with time-based one-time codes (RFC 6238); a code works once."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, select, update

from gateway.deployment import Deployment
from gateway.errors import Conflict, GatewayError, NotFound, ValidationError
from gateway.security import new_totp_secret, totp_step, totp_uri
from gateway.storage.engine import run_in_transaction
from gateway.storage.schema import credentials, participants
from gateway.usecases.participants import person

REFUSED = "this code is wrong, too old or already used; send the one your app shows next"


def begin_totp(deployment: Deployment, participant_id: int) -> tuple[str, str]:
    """A new secret, not yet in force: ``confirm_totp`` with a first code switches it on."""
    secret = new_totp_secret()

    def change(found: Row[Any], now: datetime) -> dict[str, Any]:
        if found.totp_enabled:
            raise Conflict("two-factor sign-in is already on; switch it off first")
        return {"totp_secret": secret}

    found = _change_credentials(deployment, participant_id, change)
    return secret, totp_uri(secret, found.handle, deployment.settings.name)


def confirm_totp(deployment: Deployment, participant_id: int, code: str) -> None:
    def change(found: Row[Any], now: datetime) -> dict[str, Any]:
        if found.totp_enabled:
            raise Conflict("two-factor sign-in is already on")
        if found.totp_secret is None:
            raise Conflict("begin two-factor sign-in first, to get a secret")
        return {"totp_enabled": True, "totp_last_step": fresh_step(found, code or "", now, ValidationError)}

    _change_credentials(deployment, participant_id, change)


def disable_totp(deployment: Deployment, participant_id: int, code: str) -> None:
    def change(found: Row[Any], now: datetime) -> dict[str, Any]:
        if not found.totp_enabled:
            raise Conflict("two-factor sign-in is off")
        fresh_step(found, code or "", now, ValidationError)
        return {"totp_enabled": False, "totp_secret": None, "totp_last_step": None}

    _change_credentials(deployment, participant_id, change)


def fresh_step(found: Row[Any], code: str, now: datetime, error: type[GatewayError]) -> int:
    """The time step of ``code``, if it is right and later than the last step used; else ``error``."""
    step = totp_step(found.totp_secret, code, now)
    if step is None or (found.totp_last_step is not None and step <= found.totp_last_step):
        raise error(REFUSED, **({"field": "code"} if error is ValidationError else {}))
    return step


def take_step(connection: Connection, participant_id: int, step: int, error: type[GatewayError]) -> None:
    """Record ``step`` as used, unless a sign-in at the same moment took it (or a later one) first."""
    taken = connection.execute(
        update(credentials)
        .where(
            credentials.c.participant_id == participant_id,
            (credentials.c.totp_last_step.is_(None)) | (credentials.c.totp_last_step < step),
        )
        .values(totp_last_step=step)
    ).rowcount
    if not taken:
        raise error(REFUSED)


def _change_credentials(
    deployment: Deployment, participant_id: int, change: Callable[[Row[Any], datetime], dict[str, Any]]
) -> Row[Any]:
    """Apply ``change`` (which may refuse by raising) to a person's credentials, locked; returns them as they were."""

    def work(connection: Connection) -> Row[Any]:
        person(connection, participant_id)
        found = connection.execute(
            select(credentials, participants.c.handle)
            .join(participants, participants.c.id == credentials.c.participant_id)
            .where(credentials.c.participant_id == participant_id)
            .with_for_update(of=credentials)
        ).first()
        if found is None:
            raise NotFound(f"participant #{participant_id} has no sign-in")
        now = deployment.clock.now()
        connection.execute(
            update(credentials).where(credentials.c.participant_id == participant_id).values(updated_at=now, **change(found, now))
        )
        return found

    return run_in_transaction(deployment.engine, work)
