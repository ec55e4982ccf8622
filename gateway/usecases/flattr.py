"""Flattring: a click on a thing, counted in the period it happens in.

A funder flattrs a thing once a period; with weighted points switched on, a
further click adds points, up to the deployment's maximum. Nothing moves
until the period is settled; a flattr can be taken back until then.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from ..deployment import Deployment
from ..errors import AlreadyFlattred, NoMeans, NotFound, OwnThing, PeriodClosed, ValidationError
from ..funding import MEANS_QUERY, means_suffice
from ..periods import Period, period_containing
from ..storage.bulk import read_rows
from ..storage.engine import reading, run_in_transaction
from ..storage.schema import flattrs, periods, things
from .common import check_person


@dataclass(frozen=True)
class Flattr:
    period: str
    funder_id: int
    thing_id: int
    points: int


def current_period(deployment: Deployment) -> Period:
    return period_containing(deployment.clock.now(), deployment.settings.period)


def check_points(deployment: Deployment, points: int) -> None:
    most = deployment.settings.max_points
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= most:
        hint = "weighted points are off on this deployment" if most == 1 else f"at most {most}"
        raise ValidationError(f"points must be a whole number from 1 to {most} ({hint})", field="points")


_PERIOD_STATUS = select(periods.c.status).where(periods.c.id == bindparam("period")).with_for_update(read=True)


def ensure_open(connection: Connection, period: Period) -> None:
    """Refuse a change to a period that has begun settling (and hold it open until we commit)."""
    status = connection.execute(_PERIOD_STATUS, {"period": period.id}).scalar()
    if status is not None:
        raise PeriodClosed(f"the period {period.id} is {status}; flattrs now count in the next one")


def fundable_thing(connection: Connection, funder_id: int, thing_id: int):
    thing = connection.execute(select(things.c.owner_id, things.c.hidden).where(things.c.id == thing_id)).first()
    check_fundable(funder_id, thing_id, thing.owner_id if thing else None, thing.hidden if thing else None)
    return thing


def check_fundable(funder_id: int, thing_id: int, owner_id: int | None, hidden: bool | None) -> None:
    """A thing the funder may give to: it exists, is shown, and is someone else's."""
    if owner_id is None or hidden:
        raise NotFound(f"no thing #{thing_id}", thing=thing_id)
    if owner_id == funder_id:
        raise OwnThing("you cannot flattr your own thing")


# Who is flattring what, in one query: the funder (NULL thing columns when there is no such thing).
_FLATTR_CHECK = (
    "SELECT p.kind, p.frozen, p.handle, p.preferred_currency, t.owner_id, t.hidden "
    "FROM participants AS p LEFT JOIN things AS t ON t.id = ? WHERE p.id = ?"
)
_THE_FLATTR = (
    flattrs.c.period == bindparam("of_period"), flattrs.c.funder_id == bindparam("funder"), flattrs.c.thing_id == bindparam("thing")
)
_GIVEN = select(flattrs.c.points).where(*_THE_FLATTR)
_MORE_POINTS = update(flattrs).where(*_THE_FLATTR).values(points=bindparam("total"))


def flattr(deployment: Deployment, funder_id: int, thing_id: int, points: int = 1) -> Flattr:
    """Flattr a thing in the current period (again, with weighted points: up to the maximum).

    Who may flattr what is read first, without the write lock, in two
    queries: on SQLite, one writer at a time is what limits flattrs a
    second, so the write transaction holds only what must be atomic (the
    period still open, the points). Settlement checks the wallet again, so a
    race with a withdrawal costs nothing. This is the API's busiest path,
    hence statements built once.
    """
    check_points(deployment, points)
    period = current_period(deployment)
    with reading(deployment.engine) as connection:
        _check_may_flattr(connection, deployment.settings, funder_id, thing_id)
    now = deployment.clock.now()
    return run_in_transaction(
        deployment.engine, lambda c: _add_points(c, deployment.settings.max_points, period, funder_id, thing_id, points, now)
    )


def _check_may_flattr(connection: Connection, settings, funder_id: int, thing_id: int) -> None:
    found = read_rows(connection, _FLATTR_CHECK, (thing_id, funder_id))
    funder = _FunderRow(*found[0]) if found else None
    check_person(funder_id, funder)
    check_fundable(funder_id, thing_id, funder.owner_id, funder.hidden)
    if not means_suffice(settings, funder.preferred_currency, read_rows(connection, MEANS_QUERY, (funder_id, funder_id))):
        raise NoMeans("top up your wallet to at least the minimum budget before flattring")


@dataclass(frozen=True)
class _FunderRow:
    kind: str
    frozen: bool
    handle: str
    preferred_currency: str | None
    owner_id: int | None
    hidden: bool | None


def _add_points(connection: Connection, most: int, period: Period, funder_id: int, thing_id: int, points: int, now) -> Flattr:
    ensure_open(connection, period)
    keys = {"of_period": period.id, "funder": funder_id, "thing": thing_id}
    given = connection.execute(_GIVEN, keys).scalar()
    if given is None:
        connection.execute(
            insert(flattrs),
            {"period": period.id, "funder_id": funder_id, "thing_id": thing_id, "points": points, "source": "click", "created_at": now},
        )
        return Flattr(period.id, funder_id, thing_id, points)
    if given >= most:
        raise AlreadyFlattred(f"you already flattred this thing in {period.id}", points=given)
    total = min(most, given + points)
    connection.execute(_MORE_POINTS, {**keys, "total": total})
    return Flattr(period.id, funder_id, thing_id, total)


def unflattr(deployment: Deployment, funder_id: int, thing_id: int) -> None:
    """Take back this period's flattr of a thing, before the period settles."""
    period = current_period(deployment)

    def work(connection: Connection) -> None:
        ensure_open(connection, period)
        removed = connection.execute(
            delete(flattrs).where(
                flattrs.c.period == period.id, flattrs.c.funder_id == funder_id, flattrs.c.thing_id == thing_id
            )
        ).rowcount
        if not removed:
            raise NotFound(f"you did not flattr thing #{thing_id} in {period.id}")

    run_in_transaction(deployment.engine, work)


def flattrs_of(deployment: Deployment, funder_id: int, period: Period) -> list[Flattr]:
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(flattrs.c.thing_id, flattrs.c.points)
            .where(flattrs.c.period == period.id, flattrs.c.funder_id == funder_id)
            .order_by(flattrs.c.thing_id)
        )
        return [Flattr(period.id, funder_id, row.thing_id, row.points) for row in rows]
