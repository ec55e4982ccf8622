"""Personal access tokens: secrets with scopes, for programs that call the API (``Authorization: Bearer``)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, bindparam, select, update

from gateway.deployment import Deployment
from gateway.errors import Forbidden, NotFound, ValidationError
from gateway.rules import TOKEN_NAME_MAX
from gateway.security import new_token, token_hash
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import access_tokens, participants
from gateway.usecases.identity.principal import (
    OPERATOR,
    SCOPES,
    Principal,
    allowed_scopes,
    who,
)
from gateway.usecases.participants import person

PREFIX = "fgw_"  # makes a leaked token easy to recognise (and to scan for)
TOUCH_EVERY = timedelta(minutes=1)  # how stale a token's last_used_at may get: spares a write per request


@dataclass(frozen=True)
class AccessToken:
    id: int
    name: str
    scopes: frozenset[str]
    created_at: datetime
    last_used_at: datetime | None


def create_access_token(deployment: Deployment, participant_id: int, name: str, scopes: Iterable[str]) -> tuple[int, str]:
    """A new token with some scopes; returns its id and the secret, which is never shown again."""
    name = (name or "").strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise ValidationError(f"a token's name is 1 to {TOKEN_NAME_MAX} characters", field="name")
    wanted = frozenset(scopes)
    unknown = wanted - {*SCOPES, OPERATOR}
    if not wanted or unknown:
        listed = f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""
        raise ValidationError(f"choose scopes among {', '.join(SCOPES)}{listed}", field="scopes")

    def work(connection: Connection) -> tuple[int, str]:
        owner = person(connection, participant_id)
        if not wanted <= allowed_scopes(owner.role):
            raise Forbidden(f"only an operator's token may have the scope {OPERATOR!r}", scope=OPERATOR)
        secret = new_token(PREFIX)
        values = dict(
            participant_id=participant_id,
            name=name,
            token_hash=token_hash(secret),
            scopes=" ".join(sorted(wanted)),
            created_at=deployment.clock.now(),
        )
        token_id = insert_row(connection, access_tokens, **values)
        return token_id, secret

    return run_in_transaction(deployment.engine, work)


def list_access_tokens(deployment: Deployment, participant_id: int) -> list[AccessToken]:
    """The participant's tokens that still work, oldest first."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(access_tokens)
            .where(access_tokens.c.participant_id == participant_id, access_tokens.c.revoked_at.is_(None))
            .order_by(access_tokens.c.id)
        ).all()
    return [AccessToken(r.id, r.name, frozenset(r.scopes.split()), r.created_at, r.last_used_at) for r in rows]


def revoke_access_token(deployment: Deployment, participant_id: int, token_id: int) -> None:
    """Revoke one of the participant's own tokens; anyone else's is "not found", like one that never was."""

    def work(connection: Connection) -> None:
        revoked = connection.execute(
            update(access_tokens)
            .where(
                access_tokens.c.id == token_id,
                access_tokens.c.participant_id == participant_id,
                access_tokens.c.revoked_at.is_(None),
            )
            .values(revoked_at=deployment.clock.now())
        ).rowcount
        if not revoked:
            raise NotFound(f"no token #{token_id}")

    run_in_transaction(deployment.engine, work)


# Built once: every API call made with a token runs them.
_OWNERS = (
    select(
        access_tokens.c.token_hash,
        access_tokens.c.id.label("token_id"),
        access_tokens.c.scopes,
        access_tokens.c.last_used_at,
        *who(),
    )
    .join(participants, participants.c.id == access_tokens.c.participant_id)
    .where(access_tokens.c.token_hash.in_(bindparam("hashes", expanding=True)), access_tokens.c.revoked_at.is_(None))
)
_TOUCH = (
    update(access_tokens).where(access_tokens.c.id.in_(bindparam("ids", expanding=True))).values(last_used_at=bindparam("now"))
)


def authenticate_token(deployment: Deployment, secret: str) -> Principal | None:
    """The participant behind a bearer token; None if it is unknown, revoked or its account frozen."""
    return authenticate_tokens(deployment, [secret])[0]


def authenticate_tokens(deployment: Deployment, secrets: Sequence[str]) -> list[Principal | None]:
    """``authenticate_token`` for many tokens in one query: the API checks the tokens of concurrent calls together."""
    hashes = [token_hash(secret) if (secret or "").startswith(PREFIX) else None for secret in secrets]
    with reading(deployment.engine) as connection:
        found = {row.token_hash: row for row in connection.execute(_OWNERS, {"hashes": [h for h in hashes if h]})}
    now = deployment.clock.now()
    stale = sorted(
        {
            row.token_id
            for row in found.values()
            if not row.frozen and (row.last_used_at is None or row.last_used_at <= now - TOUCH_EVERY)
        }
    )
    if stale:
        run_in_transaction(deployment.engine, lambda c: c.execute(_TOUCH, {"ids": stale, "now": now}))
    return [_principal(found.get(h)) if h else None for h in hashes]


def _principal(found: Row[Any] | None) -> Principal | None:
    if found is None or found.frozen:
        return None
    # A token keeps only the scopes its owner's role still allows (an ex-operator's loses "operator").
    scopes = frozenset(found.scopes.split()) & allowed_scopes(found.role)
    return Principal(found.id, found.handle, found.role, scopes, "token", None, found.token_id)
