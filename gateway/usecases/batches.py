"""Use cases that take many items at once (flattrs, token checks), and what the failure of a whole batch says."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError


def one_item_may_be_at_fault(error: Exception) -> bool:
    """Whether a batch that failed is worth trying an item at a time: not when the database is unreachable or locked."""
    return not isinstance(error, OperationalError)
