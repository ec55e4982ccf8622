"""The mark of a demo's database: the one row of ``demo_data``, which no other database ever has."""

from __future__ import annotations

from sqlalchemy import Connection, exists, inspect, select
from sqlalchemy.exc import DatabaseError

from gateway.deployment import Deployment
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import demo_data, participants
from gateway.storage.upsert import insert_ignore


def is_demo_database(deployment: Deployment) -> bool:
    """Whether the database holds the demo data; False for anything else, even a file that is no database at all.

    Read before the schema is known to be current (``gateway demo`` asks it of
    any file it is given): a database from before the mark existed has no mark.
    """
    try:
        with reading(deployment.engine) as connection:
            if not inspect(connection).has_table(demo_data.name):
                return False
            return bool(connection.execute(select(exists().where(demo_data.c.id == 1))).scalar())
    except DatabaseError:  # not a database (a text file given as --database), or not one of ours
        return False


def holds_anyone(deployment: Deployment) -> bool:
    """Whether anybody, a person or the platform itself, has a row yet: then the database is somebody's."""
    with reading(deployment.engine) as connection:
        return bool(connection.execute(select(exists().select_from(participants))).scalar())


def mark_demo(deployment: Deployment) -> None:
    """Mark the database as a demo's, once its data is in."""

    def work(connection: Connection) -> None:
        insert_ignore(connection, demo_data, {"id": 1, "loaded_at": deployment.clock.now()}, ["id"])

    run_in_transaction(deployment.engine, work)
