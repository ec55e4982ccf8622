"""Participants: the people (and the platform's own system participants) that own accounts and things."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, select

from gateway.core.accounts import EXCHANGE, PLATFORM
from gateway.deployment import Deployment
from gateway.errors import Conflict, NotFound, ValidationError
from gateway.rules import check_handle
from gateway.storage.engine import run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import participants

RESERVED_HANDLES = frozenset({PLATFORM, EXCHANGE})  # owners of the platform's own ledger accounts


def register_participant(deployment: Deployment, handle: str, preferred_currency: str | None = None, language: str = "en") -> int:
    return run_in_transaction(deployment.engine, lambda c: add_person(c, deployment, handle, preferred_currency, language))


def add_person(
    connection: Connection, deployment: Deployment, handle: str, preferred_currency: str | None = None, language: str = "en"
) -> int:
    """A new person, inside the caller's transaction (sign-up adds its credentials in the same one)."""
    check_handle(handle)  # which keeps out "rail:NAME", the handles of the rails' system participants
    if handle.lower() in RESERVED_HANDLES:
        raise ValidationError(f"the handle {handle!r} is reserved", field="handle")
    if preferred_currency is not None:
        deployment.currencies.get(preferred_currency)
    if connection.execute(select(participants.c.id).where(participants.c.handle == handle)).first():
        raise Conflict(f"the handle {handle!r} is taken", field="handle")
    values = dict(
        handle=handle,
        kind="person",
        preferred_currency=preferred_currency,
        language=language,
        created_at=deployment.clock.now(),
    )
    return insert_row(connection, participants, **values)


def person(connection: Connection, participant_id: int) -> Row[Any]:
    """The participant, locked by nothing: one that may act (``check_person``)."""
    row = connection.execute(select(participants).where(participants.c.id == participant_id)).first()
    check_person(participant_id, row)
    assert row is not None  # check_person refused a missing one
    return row


def check_person(participant_id: int, row: Any) -> None:
    """A participant who may act: one that exists, is a person, and is not frozen."""
    if row is None or row.kind != "person":
        raise NotFound(f"no participant #{participant_id}")
    if row.frozen:
        raise ValidationError(f"the account of {row.handle!r} is frozen")
