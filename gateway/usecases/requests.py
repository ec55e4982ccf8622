"""Requests that move money (top-ups, withdrawals), recorded once under the caller's idempotency key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Row, Table, select

from gateway.errors import IdempotencyKeyReused
from gateway.rules import check_idempotency_key


def replay(connection: Connection, table: Table, key: str, digest: str) -> Row[Any] | None:
    """The row an earlier request with this key made, if any; the same key for another request is refused."""
    check_idempotency_key(key)
    row = connection.execute(select(table).where(table.c.idempotency_key == key)).first()
    if row is not None and row.request_hash != digest:
        raise IdempotencyKeyReused(f"the idempotency key {key!r} was already used for another request")
    return row
