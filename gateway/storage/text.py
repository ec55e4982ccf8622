"""Finding text case-insensitively, the same way on SQLite as on PostgreSQL."""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, Connection, func


def contains_folded(connection: Connection, column: ColumnElement[Any], text: str) -> ColumnElement[bool]:
    """Whether ``column`` contains ``text``, whatever the case of either; ``%`` and ``_`` in ``text`` are no wildcards.

    SQL's lower() folds every letter on PostgreSQL, and only A to Z on
    SQLite ("Été" stays "Été"); there it is ``gateway_lower``, Python's, which
    every SQLite connection gets when it opens (``storage.engine``).
    """
    escaped = text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    lower = func.gateway_lower if connection.dialect.name == "sqlite" else func.lower
    return lower(column).like(f"%{escaped}%", escape="\\")
