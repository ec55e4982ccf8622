"""Proof that the owner is at the keyboard, before something a stolen session must not do.

Moving money out (a large withdrawal) and changing where money goes out
(a payout destination) ask more than a session or a token: a verified
address to reach the owner at, the password again, and the one-time code
when two-factor sign-in is on. A code works once, as at sign-in.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from gateway.deployment import Deployment
from gateway.errors import EmailNotVerified, InvalidCredentials, TotpNotEnabled, TotpRequired, ValidationError
from gateway.security import verify_password
from gateway.storage.engine import reading
from gateway.storage.schema import credentials
from gateway.usecases.identity.totp import fresh_step, take_step

NO_CODE = "send the 6-digit code of your authenticator app as well"


def verified_owner(connection: Connection, participant_id: int) -> Row[Any]:
    """The account's credentials, if its address is verified: where a notice of what happened can reach its owner."""
    found = connection.execute(select(credentials).where(credentials.c.participant_id == participant_id)).first()
    if found is None or found.email_verified_at is None:
        raise EmailNotVerified("verify your e-mail address first: the link was mailed to you (or ask for a new one)")
    return found


def check_password(deployment: Deployment, participant_id: int, password: str) -> None:
    """The password again; checked outside any transaction, since hashing is slow and holds nothing."""
    with reading(deployment.engine) as connection:
        found = verified_owner(connection, participant_id)
    if not verify_password(found.password_hash, password or ""):
        raise InvalidCredentials("the password is wrong")


def use_code(connection: Connection, deployment: Deployment, owner: Row[Any], code: str | None, required: bool) -> None:
    """The one-time code, when two-factor sign-in is on (and ``required``: refused where it is off); it works once."""
    if not owner.totp_enabled:
        if required:
            raise TotpNotEnabled("this needs two-factor sign-in: switch it on first (POST /me/totp)")
        return
    if not code:
        raise TotpRequired(NO_CODE)
    step = fresh_step(owner, code, deployment.clock.now(), ValidationError)
    take_step(connection, owner.participant_id, step, ValidationError)
