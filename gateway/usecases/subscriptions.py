"""Subscriptions: a flattr that repeats every period, until cancelled or for a set number of periods.

A subscription is applied when a period settles (see ``settle``): it adds a
flattr of its points for the period, or raises the points of a click to its
own, never beyond the deployment's maximum.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, select, update

from gateway.deployment import Deployment
from gateway.errors import NotFound, ValidationError
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import subscriptions
from gateway.storage.upsert import insert_ignore
from gateway.usecases.flattr import check_points, fundable_thing
from gateway.usecases.participants import person


@dataclass(frozen=True)
class Subscription:
    id: int
    funder_id: int
    thing_id: int
    points: int
    periods_left: int | None
    status: str


def subscribe(deployment: Deployment, funder_id: int, thing_id: int, points: int = 1, periods: int | None = None) -> Subscription:
    check_points(deployment.settings, points)
    if periods is not None and (not isinstance(periods, int) or periods < 1):
        raise ValidationError("periods must be a whole number of at least 1, or none for no end", field="periods")

    def work(connection: Connection) -> Subscription:
        person(connection, funder_id)
        fundable_thing(connection, funder_id, thing_id)
        values = dict(points=points, periods_left=periods, status="active")
        insert_ignore(
            connection,
            subscriptions,
            {"funder_id": funder_id, "thing_id": thing_id, "created_at": deployment.clock.now(), **values},
            ["funder_id", "thing_id"],
        )
        connection.execute(update(subscriptions).where(*_of(funder_id, thing_id)).values(**values))
        return _load(connection, funder_id, thing_id)

    return run_in_transaction(deployment.engine, work)


def cancel(deployment: Deployment, funder_id: int, thing_id: int) -> Subscription:
    return _move(deployment, funder_id, thing_id, ("active", "paused"), "cancelled")


def pause(deployment: Deployment, funder_id: int, thing_id: int) -> Subscription:
    """Skip the coming settlements until resumed; nothing else changes."""
    return _move(deployment, funder_id, thing_id, ("active",), "paused")


def resume(deployment: Deployment, funder_id: int, thing_id: int) -> Subscription:
    return _move(deployment, funder_id, thing_id, ("paused",), "active")


def _move(deployment: Deployment, funder_id: int, thing_id: int, sources: tuple[str, ...], target: str) -> Subscription:
    def work(connection: Connection) -> Subscription:
        changed = connection.execute(
            update(subscriptions).where(*_of(funder_id, thing_id), subscriptions.c.status.in_(sources)).values(status=target)
        ).rowcount
        if not changed:
            raise NotFound(f"no {' or '.join(sources)} subscription to thing #{thing_id}")
        return _load(connection, funder_id, thing_id)

    return run_in_transaction(deployment.engine, work)


def subscriptions_of(deployment: Deployment, funder_id: int) -> list[Subscription]:
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(subscriptions).where(subscriptions.c.funder_id == funder_id).order_by(subscriptions.c.id)
        )
        return [_as_subscription(row) for row in rows]


def _of(funder_id: int, thing_id: int) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    return subscriptions.c.funder_id == funder_id, subscriptions.c.thing_id == thing_id


def _load(connection: Connection, funder_id: int, thing_id: int) -> Subscription:
    return _as_subscription(connection.execute(select(subscriptions).where(*_of(funder_id, thing_id))).one())


def _as_subscription(row: Row[Any]) -> Subscription:
    return Subscription(row.id, row.funder_id, row.thing_id, row.points, row.periods_left, row.status)
