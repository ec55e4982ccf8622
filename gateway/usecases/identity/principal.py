"""Who is calling, and what they may do: roles and the scopes they allow."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from gateway.storage.schema import participants

SCOPES = ("read", "flattr", "money", "things", "account")
OPERATOR = "operator"  # a role, and the scope only that role's tokens may carry
MEMBER = "member"
ROLES = (MEMBER, OPERATOR)


@dataclass(frozen=True)
class Principal:
    participant_id: int
    handle: str
    role: str
    scopes: frozenset[str]
    via: str  # session | token
    csrf_token: str | None  # a session's; a token needs none
    credential_id: int | None = None  # the session's or the token's id: where an operator acted from


def allowed_scopes(role: str) -> frozenset[str]:
    """The scopes a role may use: all of them for a session, and the most a token may carry."""
    return frozenset(SCOPES) | ({OPERATOR} if role == OPERATOR else frozenset())


def who() -> tuple[Any, ...]:
    """The participant columns a Principal is made of."""
    return participants.c.id, participants.c.handle, participants.c.role, participants.c.frozen
