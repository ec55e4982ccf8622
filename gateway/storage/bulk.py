"""Writing many rows fast: COPY on PostgreSQL, executemany on SQLite.

These bypass SQLAlchemy's per-row parameter handling, which is most of the
cost of a large write, but not its error handling: a database error comes
out as SQLAlchemy's own exception (``IntegrityError``, ``OperationalError``),
so ``run_in_transaction`` retries what may succeed on a second run and
callers can tell a broken constraint by its name.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Collection, Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.exc import DBAPIError

from gateway.storage.engine import driver_of
from gateway.storage.schema import accounts

# Above this many rows, PostgreSQL's balance updates are one set-based statement.
SET_BASED_FROM = 20


def bulk_insert(connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> int:
    """Append ``rows`` (tuples in ``columns`` order) to ``table``; returns how many.

    Values go through the column types' own conversions where a type has one
    for this database (dates and JSON on SQLite, JSON on PostgreSQL), so the
    rows are stored exactly as ``insert(table)`` would store them; the rows
    go in the caller's transaction.
    """
    names = ", ".join(columns)
    rows = _converted(connection, table, columns, rows)
    statement = f"COPY {table.name} ({names}) FROM STDIN"
    if connection.dialect.name == "postgresql":
        count = 0
        with _wrapped(connection, statement):
            with driver_of(connection).cursor() as cursor:
                with cursor.copy(statement) as copy:
                    for row in rows:
                        copy.write_row(row)
                        count += 1
        return count
    rows = rows if isinstance(rows, list) else list(rows)
    if rows:
        statement = f"INSERT INTO {table.name} ({names}) VALUES ({marks(len(columns))})"
        with _wrapped(connection, statement):
            cursor = driver_of(connection).cursor()
            try:
                cursor.executemany(statement, rows)
            finally:
                cursor.close()
    return len(rows)


def reserve_ids(connection: Connection, table: Table, count: int) -> list[int]:
    """``count`` new ids for ``table``'s integer primary key, ascending, for rows inserted with their ids.

    On PostgreSQL they come from the table's sequence, so they are never
    handed out twice, whoever else inserts. On SQLite they follow the
    highest id: a write transaction holds the database's write lock from its
    BEGIN IMMEDIATE, and one that began deferred fails with "database is
    locked" (and is retried) if another writer got in after it read.
    """
    if count <= 0:
        return []
    if connection.dialect.name == "postgresql":
        rows = read_rows(
            connection, "SELECT nextval(pg_get_serial_sequence(?, 'id')) FROM generate_series(1, ?)", (table.name, count)
        )
        return sorted(row[0] for row in rows)
    highest = connection.exec_driver_sql(f"SELECT max(id) FROM {table.name}").scalar() or 0
    return list(range(highest + 1, highest + 1 + count))


def bulk_update_balances(connection: Connection, deltas: dict[int, int]) -> None:
    """Add each delta to its account's cached balance, in account order.

    Taking row locks in one global order keeps concurrent writers from
    deadlocking; the floor constraint on ``accounts`` refuses any overdraft.
    On PostgreSQL, many rows are first locked in id order (``FOR NO KEY
    UPDATE``, the lock an UPDATE itself takes) and then updated by one
    statement; on SQLite, which has no row locks, one UPDATE a row.
    """
    changes = [(account_id, delta) for account_id, delta in sorted(deltas.items()) if delta]
    if not changes:
        return
    if connection.dialect.name == "postgresql" and len(changes) >= SET_BASED_FROM:
        ids = [account_id for account_id, _ in changes]
        connection.exec_driver_sql(
            f"SELECT id FROM {accounts.name} WHERE id = ANY(%(ids)s) ORDER BY id FOR NO KEY UPDATE", {"ids": ids}
        )
        connection.exec_driver_sql(
            f"UPDATE {accounts.name} SET balance = {accounts.name}.balance + change.delta "
            "FROM unnest(%(ids)s::bigint[], %(deltas)s::bigint[]) AS change(id, delta) "
            f"WHERE {accounts.name}.id = change.id AND {accounts.name}.id = ANY(%(ids)s)",  # by the primary key, not a scan
            {"ids": ids, "deltas": [delta for _, delta in changes]},
        )
        return
    connection.exec_driver_sql(
        driver_style(connection, f"UPDATE {accounts.name} SET balance = balance + ? WHERE id = ?"),
        [(delta, account_id) for account_id, delta in changes],
    )


def driver_style(connection: Connection, statement: str) -> str:
    """``statement``, written with ``?`` marks, in the driver's own style (``%s`` on PostgreSQL)."""
    if connection.dialect.name != "postgresql":
        return statement
    return statement.replace("%", "%%").replace("?", "%s")


def read_rows(connection: Connection, statement: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
    """All rows of a query written with ``?`` marks, as tuples.

    For large reads: no per-row result objects, in the caller's transaction.
    """
    statement = driver_style(connection, statement)
    with _wrapped(connection, statement):
        cursor = driver_of(connection).cursor()
        try:
            cursor.execute(statement, tuple(params))
            rows: list[tuple[Any, ...]] = cursor.fetchall()
            return rows
        finally:
            cursor.close()


def marks(count: int) -> str:
    """``count`` ``?`` marks, comma-separated: the values of an IN list or a row."""
    return ", ".join("?" * count)


POSTGRESQL_BOUND_VALUES = 65_535  # the protocol counts a statement's parameters in 16 bits


def bound_values(connection: Connection) -> int:
    """How many values one statement may bind: SQLite's is set when it is compiled, so it is asked."""
    if connection.dialect.name == "postgresql":
        return POSTGRESQL_BOUND_VALUES
    driver = driver_of(connection)
    return int(driver.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER))


def locking(connection: Connection) -> str:
    """The clause that locks the rows a ``read_rows`` query returns, until the transaction ends.

    PostgreSQL locks rows; SQLite has no row locks, and needs none: a write
    transaction holds the database's one write lock from its BEGIN IMMEDIATE.
    """
    return " FOR UPDATE" if connection.dialect.name == "postgresql" else ""


def select_in(
    connection: Connection, statement: str, ids: Sequence[int], params: Sequence[Any] = (), tail: str = ""
) -> list[tuple[Any, ...]]:
    """``statement`` (ending with the column to match; its other marks ``?``) for the rows whose column is in ``ids``.

    One array parameter on PostgreSQL; on SQLite, IN lists as long as a statement may bind.
    """
    if connection.dialect.name == "postgresql":
        return read_rows(connection, statement + " = ANY(?)" + tail, (*params, list(ids)))
    size = bound_values(connection) - len(params)
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        rows += read_rows(connection, f"{statement} IN ({marks(len(chunk))}){tail}", (*params, *chunk))
    return rows


def rows_for_ids(
    connection: Connection, template: str, ids: Collection[int], uses: int = 1, before: Sequence[Any] = ()
) -> list[tuple[Any, ...]]:
    """``read_rows`` of a query whose ``{ids}`` (there ``uses`` times) lists ``ids``, in chunks a statement may bind.

    ``before`` are the values of the ``?`` marks ahead of the first list.
    """
    ids = sorted(set(ids))
    size = (bound_values(connection) - len(before)) // uses
    rows: list[tuple[Any, ...]] = []
    for start in range(0, len(ids), size):
        chunk = ids[start : start + size]
        rows += read_rows(connection, template.format(ids=marks(len(chunk))), [*before, *chunk * uses])
    return rows


def _converted(
    connection: Connection, table: Table, columns: Sequence[str], rows: Iterable[Sequence[Any]]
) -> Iterable[Sequence[Any]]:
    """``rows`` with each value passed through its column type's conversion, where there is one.

    A bulk insert often repeats one value down a column (the same timestamp,
    no metadata); the last conversion of each column is reused for it.
    """
    dialect = connection.dialect
    converters: list[list[Any]] = []
    for position, name in enumerate(columns):
        process = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            converters.append([position, process, _UNSET, None])  # position, conversion, last value, its conversion
    if not converters:
        return rows

    def convert(row: Sequence[Any]) -> tuple[Any, ...]:
        values = list(row)
        for converter in converters:
            position, process, last, converted = converter
            value = values[position]
            if value is not last:
                converted = process(value)
                converter[2], converter[3] = value, converted
            values[position] = converted
        return tuple(values)

    return (convert(row) for row in rows)


_UNSET = object()


@contextmanager
def _wrapped(connection: Connection, statement: str) -> Iterator[None]:
    """Raise a driver's error as SQLAlchemy does for its own statements."""
    dialect = connection.dialect
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error, dialect=dialect) from error


def bulk_update(
    connection: Connection,
    table: Table,
    keys: Sequence[str],
    values: Sequence[str],
    rows: Sequence[Sequence[Any]],
    fixed: dict[str, Any] | None = None,
    between: tuple[str, Any, Any] | None = None,
) -> None:
    """Set the ``values`` columns of the rows found by the ``keys`` columns; each of ``rows`` is keys, then values.

    ``fixed``: key columns with one value for every row. PostgreSQL: one
    statement joining the table to the rows as arrays (``unnest``), which
    ``between`` (a column, with the least and the greatest value the rows
    have in it) narrows to an index range; SQLite: one UPDATE a row.
    """
    if not rows:
        return
    fixed = fixed or {}
    names = [*keys, *values]
    if connection.dialect.name == "postgresql":
        arrays = ", ".join(f"%s::{_array_type(connection, table.c[name])}" for name in names)
        assignments = ", ".join(f"{name} = v.{name}" for name in values)
        matches = [f"{table.name}.{name} = v.{name}" for name in keys] + [f"{table.name}.{name} = %s" for name in fixed]
        params: list[Any] = [[row[i] for row in rows] for i in range(len(names))] + list(fixed.values())
        if between is not None:
            matches.append(f"{table.name}.{between[0]} BETWEEN %s AND %s")
            params += [between[1], between[2]]
        statement = (
            f"UPDATE {table.name} SET {assignments} FROM unnest({arrays}) AS v({', '.join(names)}) WHERE {' AND '.join(matches)}"
        )
        connection.exec_driver_sql(statement, tuple(params))
        return
    assignments = ", ".join(f"{name} = ?" for name in values)
    where = " AND ".join(f"{name} = ?" for name in [*fixed, *keys])
    constants = tuple(fixed.values())
    reordered = [(*row[len(keys) :], *constants, *row[: len(keys)]) for row in rows]
    connection.exec_driver_sql(f"UPDATE {table.name} SET {assignments} WHERE {where}", reordered)


def _array_type(connection: Connection, column: Any) -> str:
    """PostgreSQL's array type of a column's values: ``bigint[]``, ``varchar[]``..."""
    name = str(column.type.compile(dialect=connection.dialect)).split("(")[0].lower()
    return f"{name}[]"
