"""A copy of the seeded database, put back before each run.

Seeding the population through the use cases takes far longer than a
settlement, and every kill needs the database as seeded, ids and all; so it
is seeded once, and this puts it back between runs.
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

from sqlalchemy import insert, select, text

from gateway.storage.engine import make_engine
from gateway.storage.schema import metadata
from tests.support import truncate_tables


class Snapshot:
    """The seeded database as it is now, to put back (``restore``) before each run.

    SQLite: a copy of the file. PostgreSQL: every table's rows and every
    sequence's position, held in memory; putting them back truncates the
    tables and reinserts the rows with their ids, so a restored database is
    the seeded one row for row, id for id.
    """

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.postgresql = url.startswith("postgresql")
        if self.postgresql:
            self._take_postgresql()
        else:
            self.path = Path(url.removeprefix("sqlite:///"))
            self.copy = workdir / "seeded.sqlite3"
            _backup(self.path, self.copy)

    def _take_postgresql(self) -> None:
        engine = make_engine(self.url)
        try:
            with engine.connect() as connection:
                self.rows = {
                    table.name: [tuple(row) for row in connection.execute(select(table))] for table in metadata.sorted_tables
                }
                self.sequences = {}
                for table in metadata.sorted_tables:
                    if "id" not in table.c:
                        continue
                    name = connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
                    if name:
                        self.sequences[name] = tuple(connection.execute(text(f"SELECT last_value, is_called FROM {name}")).one())
        finally:
            engine.dispose()

    def restore(self) -> None:
        if not self.postgresql:
            for suffix in ("-wal", "-shm", ""):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            _backup(self.copy, self.path)
            return
        engine = make_engine(self.url)
        try:
            with engine.begin() as connection:
                truncate_tables(connection)
                for table in metadata.sorted_tables:
                    rows = self.rows[table.name]
                    if rows:
                        connection.execute(insert(table), [dict(zip(table.c.keys(), row)) for row in rows])
                for name, (value, called) in self.sequences.items():
                    connection.execute(text("SELECT setval(:s, :v, :c)"), {"s": name, "v": value, "c": called})
        finally:
            engine.dispose()


def _backup(source: Path, target: Path) -> None:
    """SQLite: the database at ``source`` copied onto ``target`` through the backup API (a consistent copy, WAL included)."""
    with contextlib.closing(sqlite3.connect(source)) as origin, contextlib.closing(sqlite3.connect(target)) as copy:
        origin.backup(copy)
