"""Small pieces the use cases share."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from moneyed import Money
from sqlalchemy import Connection, Row, Table, select

from currencies import CurrencyUnit

from ..deployment import Deployment
from ..errors import IdempotencyKeyReused, NotFound, ValidationError
from ..storage.schema import participants


def request_hash(**fields: Any) -> str:
    return hashlib.sha256(json.dumps(fields, sort_keys=True, default=str).encode()).hexdigest()


def replay(connection: Connection, table: Table, key: str, digest: str) -> Row | None:
    """The row an earlier request with this idempotency key made, if any."""
    if not key or len(key) > 200:
        raise ValidationError("an idempotency key is 1 to 200 characters")
    row = connection.execute(select(table).where(table.c.idempotency_key == key)).first()
    if row is not None and row.request_hash != digest:
        raise IdempotencyKeyReused(f"the idempotency key {key!r} was already used for another request")
    return row


MAX_MINOR = 10**15  # per movement: far above any real one, far below the columns' 2**63


def positive_amount(deployment: Deployment, amount: Money) -> tuple[CurrencyUnit, int]:
    unit = deployment.currencies.get(amount.currency.code)
    minor = unit.to_minor(amount)
    if minor <= 0:
        raise ValidationError(f"the amount must be more than zero, got {unit.format(minor)}")
    if minor > MAX_MINOR:
        raise ValidationError(f"the amount must be at most {unit.format(MAX_MINOR)}")
    return unit, minor


def person(connection: Connection, participant_id: int) -> Row:
    row = connection.execute(select(participants).where(participants.c.id == participant_id)).first()
    check_person(participant_id, row)
    return row


def check_person(participant_id: int, row: Any) -> None:
    """A participant who may act: one that exists, is a person, and is not frozen."""
    if row is None or row.kind != "person":
        raise NotFound(f"no participant #{participant_id}")
    if row.frozen:
        raise ValidationError(f"the account of {row.handle!r} is frozen")
