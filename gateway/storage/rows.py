"""One new row, and the id the database gave it."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table, insert


def insert_row(connection: Connection, table: Table, **values: Any) -> int:
    """Insert one row into ``table`` (whose primary key is an ``id``); returns that id."""
    key = connection.execute(insert(table).values(**values)).inserted_primary_key
    if key is None:
        raise RuntimeError(f"the database gave no id for the new row of {table.name}")
    return int(key[0])
