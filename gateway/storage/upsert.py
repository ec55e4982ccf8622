"""INSERT ... ON CONFLICT DO NOTHING, in the dialect at hand."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert_ignore(connection: Connection, table: Table, rows: dict[str, Any] | list[dict[str, Any]], conflict: list[str]) -> None:
    """Insert rows, skipping those that would break the unique ``conflict`` columns.

    Two writers racing to create the same row both succeed, and both then
    read the one row that exists.
    """
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(table).on_conflict_do_nothing(index_elements=conflict)
    connection.execute(statement, rows)
