"""Flattring: a click on a thing, counted in the period it happens in.

A funder flattrs a thing once a period; with weighted points switched on, a
further click adds points, up to the deployment's maximum. Nothing moves
until the period is settled; a flattr can be taken back until then.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, bindparam, delete, insert, select, update

from gateway.config import Settings
from gateway.core.means import Means, means_of, means_suffice
from gateway.core.periods import Period
from gateway.deployment import Deployment
from gateway.errors import (
    AlreadyFlattred,
    GatewayError,
    NoMeans,
    NotFound,
    OwnThing,
    PeriodClosed,
    ValidationError,
)
from gateway.storage.bulk import bound_values, locking, marks, read_rows, rows_for_ids
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.locks import lock_period_flattrs
from gateway.storage.schema import flattrs, periods, things
from gateway.usecases.calendar import current_period
from gateway.usecases.participants import check_person


@dataclass(frozen=True)
class Flattr:
    period: str
    funder_id: int
    thing_id: int
    points: int


def check_points(settings: Settings, points: int) -> None:
    most = settings.max_points
    if not isinstance(points, int) or isinstance(points, bool) or not 1 <= points <= most:
        hint = "weighted points are off on this deployment" if most == 1 else f"at most {most}"
        raise ValidationError(f"points must be a whole number from 1 to {most} ({hint})", field="points")


_PERIOD_STATUS = select(periods.c.status).where(periods.c.id == bindparam("period")).with_for_update(read=True)


def ensure_open(connection: Connection, period: Period) -> None:
    """Refuse a change to a period's flattrs once it has begun settling, and hold it open until we commit."""
    status = open_or_status(connection, period)
    if status is not None:
        raise period_closed(period, status)


def open_or_status(connection: Connection, period: Period) -> str | None:
    """None while the period takes flattrs (held so until we commit), else how far its settlement got."""
    lock_period_flattrs(connection, period.id)
    return connection.execute(_PERIOD_STATUS, {"period": period.id}).scalar()


def period_closed(period: Period, status: str) -> PeriodClosed:
    return PeriodClosed(f"the period {period.id} is {status}; flattrs now count in the next one")


def fundable_thing(connection: Connection, funder_id: int, thing_id: int) -> None:
    thing = connection.execute(select(things.c.owner_id, things.c.hidden).where(things.c.id == thing_id)).first()
    check_fundable(funder_id, thing_id, thing.owner_id if thing else None, thing.hidden if thing else None)


def check_fundable(funder_id: int, thing_id: int, owner_id: int | None, hidden: bool | None) -> None:
    """A thing the funder may give to: it exists, is shown, and is someone else's."""
    if owner_id is None or hidden:
        raise NotFound(f"no thing #{thing_id}", thing=thing_id)
    if owner_id == funder_id:
        raise OwnThing("you cannot flattr your own thing")


@dataclass(frozen=True)
class Click:
    """One funder's request to flattr one thing (with ``points`` where weighted points are on)."""

    funder_id: int
    thing_id: int
    points: int = 1


def flattr(deployment: Deployment, funder_id: int, thing_id: int, points: int = 1) -> Flattr:
    """Flattr a thing in the current period (again, with weighted points: up to the maximum)."""
    outcome = flattr_many(deployment, [Click(funder_id, thing_id, points)])[0]
    if isinstance(outcome, GatewayError):
        raise outcome
    return outcome


def flattr_many(deployment: Deployment, clicks: Sequence[Click]) -> list[Flattr | GatewayError]:
    """Many clicks at once: each one's flattr, or the error that refused it (others still count).

    The API's busiest path, shaped for SQLite's one writer at a time: who
    may flattr what is read first, a few queries for the whole batch and
    outside the write lock, so the write transaction holds only what must
    be atomic (the period still open, the points); the API gathers the
    clicks that arrive while one batch is written into the next (a group
    commit). Settlement checks the wallets again, so a race with a
    withdrawal costs nothing.
    """
    period = current_period(deployment)
    with reading(deployment.engine) as connection:
        refusals = _refusals(connection, deployment.settings, clicks)
    allowed = [i for i, refusal in enumerate(refusals) if refusal is None]
    written: dict[int, Flattr | GatewayError] = {}
    if allowed:
        most, now = deployment.settings.max_points, deployment.clock.now()
        outcomes = run_in_transaction(
            deployment.engine, lambda c: _add_points(c, most, period, [clicks[i] for i in allowed], now)
        )
        written = dict(zip(allowed, outcomes))
    return [written[i] if refusal is None else refusal for i, refusal in enumerate(refusals)]


_FUNDERS = "SELECT id, kind, frozen, handle, preferred_currency FROM participants WHERE id IN ({ids})"
_THINGS = "SELECT id, owner_id, hidden FROM things WHERE id IN ({ids})"


@dataclass(frozen=True)
class _FunderRow:
    id: int
    kind: str
    frozen: bool
    handle: str
    preferred_currency: str | None


def _refusals(connection: Connection, settings: Settings, clicks: Sequence[Click]) -> list[GatewayError | None]:
    """Why each click may not be taken (None where it may), from one read of everyone involved."""
    funders = {row[0]: _FunderRow(*row) for row in rows_for_ids(connection, _FUNDERS, {c.funder_id for c in clicks})}
    owners = {row[0]: row[1:] for row in rows_for_ids(connection, _THINGS, {c.thing_id for c in clicks})}
    means = means_of(connection, funders.keys())
    refusals: list[GatewayError | None] = []
    for click in clicks:
        try:
            check_points(settings, click.points)
            funder = funders.get(click.funder_id)
            check_person(click.funder_id, funder)
            assert funder is not None  # check_person refused a missing one
            check_fundable(click.funder_id, click.thing_id, *owners.get(click.thing_id, (None, None)))
            check_means(settings, funder.preferred_currency, means.get(click.funder_id, ()))
        except GatewayError as refusal:
            refusals.append(refusal)
        else:
            refusals.append(None)
    return refusals


def check_means(settings: Settings, preferred_currency: str | None, means: Iterable[Means]) -> None:
    """``means`` are the funder's rows of ``means.means_of``."""
    if not means_suffice(settings, preferred_currency, means):
        raise NoMeans("top up your wallet to at least the minimum budget before flattring")


def _given(connection: Connection, period: Period, pairs: set[tuple[int, int]]) -> dict[tuple[int, int], int]:
    """The points already given for these (funder, thing) pairs, locked on PostgreSQL until we commit.

    Batches write side by side there, and a take-back may delete a flattr
    meanwhile: locked, the points read are the points updated. Rows are
    locked in one order (the query's), so two batches cannot deadlock. The
    query asks for the batch's funders crossed with its things, which both
    databases find through the (period, funder, thing) index; SQLite would
    scan the whole period for a list of pairs.
    """
    ordered = sorted(pairs)
    per_query = (bound_values(connection) - 1) // 2  # a funder and a thing a pair at the most, and the period
    given: dict[tuple[int, int], int] = {}
    for start in range(0, len(ordered), per_query):
        chunk = ordered[start : start + per_query]
        funders, things_ = sorted({f for f, _ in chunk}), sorted({t for _, t in chunk})
        statement = (
            f"SELECT funder_id, thing_id, points FROM flattrs WHERE period = ? AND funder_id IN ({marks(len(funders))}) "
            f"AND thing_id IN ({marks(len(things_))}) ORDER BY funder_id, thing_id{locking(connection)}"
        )
        for funder, thing, points in read_rows(connection, statement, [period.id, *funders, *things_]):
            given[funder, thing] = points
    return {pair: points for pair, points in given.items() if pair in pairs}


_THE_FLATTR = (
    flattrs.c.period == bindparam("of_period"),
    flattrs.c.funder_id == bindparam("funder"),
    flattrs.c.thing_id == bindparam("thing"),
)
_MORE_POINTS = update(flattrs).where(*_THE_FLATTR).values(points=bindparam("total"))


def _add_points(
    connection: Connection, most: int, period: Period, clicks: Sequence[Click], now: datetime
) -> list[Flattr | GatewayError]:
    status = open_or_status(connection, period)
    if status is not None:
        return [period_closed(period, status) for _ in clicks]
    given = _given(connection, period, {(c.funder_id, c.thing_id) for c in clicks})
    new: set[tuple[int, int]] = set()
    raised: set[tuple[int, int]] = set()
    outcomes: list[Flattr | GatewayError] = []
    for click in clicks:
        key = (click.funder_id, click.thing_id)
        before = given.get(key)
        if before is not None and before >= most:
            outcomes.append(AlreadyFlattred(f"you already flattred this thing in {period.id}", points=before))
            continue
        (raised if before is not None and key not in new else new).add(key)
        given[key] = total = min(most, (before or 0) + click.points)
        outcomes.append(Flattr(period.id, click.funder_id, click.thing_id, total))
    if new:
        connection.execute(
            insert(flattrs),
            [
                {"period": period.id, "funder_id": f, "thing_id": t, "points": given[f, t], "source": "click", "created_at": now}
                for f, t in sorted(new)  # one order for every writer: PostgreSQL's concurrent batches cannot deadlock
            ],
        )
    if raised:
        connection.execute(
            _MORE_POINTS, [{"of_period": period.id, "funder": f, "thing": t, "total": given[f, t]} for f, t in sorted(raised)]
        )
    return outcomes


def unflattr(deployment: Deployment, funder_id: int, thing_id: int) -> None:
    """Take back this period's flattr of a thing, before the period settles."""
    period = current_period(deployment)

    def work(connection: Connection) -> None:
        ensure_open(connection, period)
        removed = connection.execute(
            delete(flattrs).where(flattrs.c.period == period.id, flattrs.c.funder_id == funder_id, flattrs.c.thing_id == thing_id)
        ).rowcount
        if not removed:
            _refuse_if_ended(connection, period.previous(), funder_id, thing_id)
            raise NotFound(f"you did not flattr thing #{thing_id} in {period.id}")

    run_in_transaction(deployment.engine, work)


def _refuse_if_ended(connection: Connection, last: Period, funder_id: int, thing_id: int) -> None:
    """Say so when the flattr to take back is the last period's, which has ended (and maybe settled)."""
    flattred = connection.execute(
        select(flattrs.c.points).where(
            flattrs.c.period == last.id, flattrs.c.funder_id == funder_id, flattrs.c.thing_id == thing_id
        )
    ).first()
    if flattred is None:
        return
    status = connection.execute(select(periods.c.status).where(periods.c.id == last.id)).scalar()
    where = "ended" if status is None else "been settled" if status == "closed" else "begun settling"
    raise PeriodClosed(
        f"your flattr of thing #{thing_id} counts in {last.id}, which has {where}; it can no longer be taken back", period=last.id
    )


def flattrs_of(deployment: Deployment, funder_id: int, period: Period) -> list[Flattr]:
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(flattrs.c.thing_id, flattrs.c.points)
            .where(flattrs.c.period == period.id, flattrs.c.funder_id == funder_id)
            .order_by(flattrs.c.thing_id)
        )
        return [Flattr(period.id, funder_id, row.thing_id, row.points) for row in rows]
