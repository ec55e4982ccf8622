"""Writing many rows fast: COPY on PostgreSQL, executemany on SQLite."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from sqlalchemy import Connection, Table, bindparam, update

from .schema import accounts


def bulk_insert(connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence]) -> int:
    """Append ``rows`` (tuples in ``columns`` order) to ``table``; returns how many.

    This bypasses SQLAlchemy's per-row parameter handling, which is most of
    the cost of a large insert; the rows go in the caller's transaction.
    """
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        count = 0
        with driver.cursor() as cursor:
            with cursor.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
                    count += 1
        return count
    rows = list(rows)
    if rows:
        marks = ", ".join("?" for _ in columns)
        cursor = connection.connection.driver_connection.cursor()
        try:
            cursor.executemany(f"INSERT INTO {table.name} ({names}) VALUES ({marks})", rows)
        finally:
            cursor.close()
    return len(rows)


def bulk_update_balances(connection: Connection, deltas: dict[int, int]) -> None:
    """Add each delta to its account's cached balance, in account order.

    Taking row locks in one global order keeps concurrent writers from
    deadlocking; the floor constraint on ``accounts`` refuses any overdraft.
    """
    params = [{"account": account_id, "delta": delta} for account_id, delta in sorted(deltas.items()) if delta]
    if not params:
        return
    statement = (
        update(accounts)
        .where(accounts.c.id == bindparam("account"))
        .values(balance=accounts.c.balance + bindparam("delta"))
    )
    connection.execute(statement, params)
