"""Locks on things that have no row to lock yet: a period's flattrs.

A flattr must not be written into a period once its settlement has begun,
and the period's row may not exist until that settlement makes it. On
PostgreSQL, writers of a period's flattrs hold a shared advisory lock on
the period for their transaction, and the settlement's ``prepare`` takes it
exclusively: it waits for the writers under way, and the writers after it
find the period settling. Other periods' flattrs are not held up. SQLite
has one writer at a time, which is lock enough.
"""

from __future__ import annotations

from sqlalchemy import Connection

NAMESPACE = 0x464C  # "FL": the first key of the two-key advisory locks, so ours meet no one else's


def lock_period_flattrs(connection: Connection, period_id: str, *, exclusive: bool = False) -> None:
    """Until the transaction ends: shared to write a period's flattrs, exclusive to begin settling it."""
    if connection.dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock" if exclusive else "pg_advisory_xact_lock_shared"
    connection.exec_driver_sql(f"SELECT {function}(%s, hashtext(%s))", (NAMESPACE, period_id))
