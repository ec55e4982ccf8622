"""Phase 1: freeze the period, apply subscriptions, fix what each funder gives."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from gateway.config import Settings
from gateway.core.means import available, budget_targets
from gateway.core.periods import Period
from gateway.core.states import PeriodStatus, SettlementStatus
from gateway.errors import Conflict
from gateway.storage.bulk import bulk_insert, read_rows
from gateway.storage.locks import lock_period_flattrs
from gateway.storage.schema import (
    flattrs,
    participants,
    periods,
    settlements,
    subscriptions,
    things,
)
from gateway.storage.upsert import insert_ignore

SNAPSHOT_CHUNK = 50_000  # participants per step of the budget snapshot


def prepare(connection: Connection, settings: Settings, period: Period, now: datetime) -> str:
    """Start settling ``period``, or say how far it got: 'settling' or 'closed'.

    The period's flattrs being written are committed first, and the ones
    after find the period settling (``storage.locks``).
    """
    lock_period_flattrs(connection, period.id, exclusive=True)
    status = connection.execute(select(periods.c.status).where(periods.c.id == period.id).with_for_update()).scalar()
    if status is not None:
        return PeriodStatus(status)
    _refuse_out_of_order(connection, period)
    connection.execute(
        insert(periods).values(
            id=period.id,
            starts_on=period.start,
            ends_on=period.end,
            status=PeriodStatus.SETTLING,
            give_to_receive=settings.give_to_receive,
            started_at=now,
        )
    )
    apply_subscriptions(connection, settings, period, now)
    snapshot_budgets(connection, settings, period)
    return PeriodStatus.SETTLING


def _refuse_out_of_order(connection: Connection, period: Period) -> None:
    """Periods settle one after the other, each from the wallets the one before left.

    An earlier period still settling has budgets still in the wallets, which
    this one would count again; a later one begun has taken what this one
    would have, and would leave its budgets unsettled. A period that ended
    before the deployment's first account had no flattrs, and would only
    charge demurrage again.
    """
    unfinished = connection.execute(
        select(periods.c.id).where(periods.c.status == PeriodStatus.SETTLING, periods.c.starts_on < period.start)
    ).scalar()
    if unfinished is not None:
        raise still_settling(unfinished)
    later = connection.execute(
        select(periods.c.id).where(periods.c.starts_on > period.start).order_by(periods.c.starts_on).limit(1)
    ).scalar()
    if later is not None:
        raise Conflict(f"the period {later} has begun settling: periods settle in order, so {period.id} no longer can")
    first = connection.execute(select(func.min(participants.c.created_at))).scalar()
    if first is not None and period.ends_at <= first:
        raise Conflict(f"the period {period.id} ended before this deployment's first account: there is nothing to settle")


def still_settling(period_id: str) -> Conflict:
    return Conflict(f"the period {period_id} is still settling: finish it first (gateway settle --period {period_id})")


def apply_subscriptions(connection: Connection, settings: Settings, period: Period, now: datetime) -> None:
    due = connection.execute(
        select(
            subscriptions.c.id,
            subscriptions.c.funder_id,
            subscriptions.c.thing_id,
            subscriptions.c.points,
            subscriptions.c.periods_left,
        )
        .join(things, things.c.id == subscriptions.c.thing_id)
        .where(
            subscriptions.c.status == "active",
            subscriptions.c.created_at < period.ends_at,
            (subscriptions.c.last_period.is_(None)) | (subscriptions.c.last_period < period.id),
            things.c.hidden.is_(False),
            things.c.owner_id != subscriptions.c.funder_id,
        )
        .order_by(subscriptions.c.id)
    ).all()
    for sub in due:
        points = min(sub.points, settings.max_points)
        row = dict(
            period=period.id, funder_id=sub.funder_id, thing_id=sub.thing_id, points=points, source="subscription", created_at=now
        )
        insert_ignore(connection, flattrs, row, ["period", "funder_id", "thing_id"])
        connection.execute(
            update(flattrs)
            .where(
                flattrs.c.period == period.id,
                flattrs.c.funder_id == sub.funder_id,
                flattrs.c.thing_id == sub.thing_id,
                flattrs.c.points < points,
            )
            .values(points=points)
        )
        left = None if sub.periods_left is None else sub.periods_left - 1
        connection.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id)
            .values(last_period=period.id, periods_left=left, status="finished" if left == 0 else "active")
        )


def snapshot_budgets(connection: Connection, settings: Settings, period: Period) -> None:
    """One settlements row per funder and currency: what they give, or why nothing.

    Participants are taken in id order, ``SNAPSHOT_CHUNK`` at a time, so memory
    stays the same whatever their number; the rows go in in funder order.
    """
    after = 0
    while True:
        ids = read_rows(
            connection,
            "SELECT id FROM participants WHERE id > ? ORDER BY id LIMIT ?",
            (after, SNAPSHOT_CHUNK),
        )
        if not ids:
            return
        first, last = ids[0][0], ids[-1][0]
        bulk_insert(
            connection,
            settlements,
            ("period", "funder_id", "currency", "amount", "status", "flattrs"),
            _snapshot_rows(connection, settings, period, first, last),
        )
        after = last


def _snapshot_rows(connection: Connection, settings: Settings, period: Period, first: int, last: int) -> list[tuple[Any, ...]]:
    """The settlements rows of the funders whose ids are from ``first`` to ``last``."""

    def rows_of(statement: str, *params: Any) -> list[tuple[Any, ...]]:
        return read_rows(connection, statement, (*params, first, last))

    counts = dict(
        rows_of(
            "SELECT funder_id, count(*) FROM flattrs WHERE period = ? AND funder_id BETWEEN ? AND ? GROUP BY funder_id", period.id
        )
    )
    explicit: dict[int, dict[str, int]] = defaultdict(dict)
    for funder, code, amount in rows_of("SELECT funder_id, currency, amount FROM budgets WHERE funder_id BETWEEN ? AND ?"):
        explicit[funder][code] = amount
    funders = set(counts)
    if settings.unspent_account:
        funders |= set(explicit)  # their budget goes to the named account even without a flattr
    preferred = dict(rows_of("SELECT id, preferred_currency FROM participants WHERE kind = 'person' AND id BETWEEN ? AND ?"))
    wallets = {
        (owner, code): (balance, floor)
        for owner, code, balance, floor in rows_of(
            "SELECT owner_id, currency, balance, floor FROM accounts WHERE purpose = 'wallet' AND owner_id BETWEEN ? AND ?"
        )
    }
    rows = []
    for funder in sorted(funders):
        for code, budget in sorted(budget_targets(settings, explicit.get(funder, {}), preferred.get(funder)).items()):
            balance, floor = wallets.get((funder, code), (None, None))
            amount = min(budget, available(settings, code, balance, floor))
            status = SettlementStatus.PENDING if amount >= settings.policies[code].minimum_budget else SettlementStatus.NO_MEANS
            rows.append(
                (period.id, funder, code, amount if status == SettlementStatus.PENDING else 0, status, counts.get(funder, 0))
            )
    return rows
