"""Phase 1: freeze the period, apply subscriptions, fix what each funder gives."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from gateway.config import Settings
from gateway.core.means import budget_targets, to_give
from gateway.core.periods import Period, parse_period, period_containing
from gateway.core.states import PeriodStatus, SettlementStatus
from gateway.errors import Conflict, EarlierPeriodUnsettled
from gateway.storage.bulk import bulk_insert, read_rows
from gateway.storage.locks import lock_period_flattrs
from gateway.storage.schema import (
    budgets,
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
    _refuse_out_of_order(connection, settings, period)
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


def _refuse_out_of_order(connection: Connection, settings: Settings, period: Period) -> None:
    """Periods settle one after the other, each from the wallets the one before left.

    An earlier period still settling has budgets still in the wallets, which
    this one would count again; a later one begun has taken what this one
    would have, and would leave its budgets unsettled. A period that ended
    before the deployment's first account had no flattrs, and would only
    charge demurrage again. An earlier period with something to settle is
    refused here too, in the transaction that begins this one, so that no
    run slips past the check ``period_to_settle`` made before.
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
    refuse_skipping(connection, settings, period)


def still_settling(period_id: str) -> EarlierPeriodUnsettled:
    """An earlier period begun and not closed: its budgets are still in the wallets, for it to settle first."""
    return EarlierPeriodUnsettled(
        f"the period {period_id} is still settling: finish it first (gateway settle --period {period_id})", period=period_id
    )


def refuse_skipping(connection: Connection, settings: Settings, period: Period) -> None:
    """Refuse ``period`` while an earlier one has something to settle (``earliest_unsettled``): it would be lost for good."""
    found = earliest_unsettled(connection, settings, period)
    if found is None:
        return
    earlier, what = found
    raise EarlierPeriodUnsettled(
        f"the period {earlier.id} has {what}: settle {earlier.id} first (gateway settle --period {earlier.id});"
        f" periods settle in order, and settling {period.id} would leave {earlier.id} unsettled for good",
        period=earlier.id,
    )


def earliest_unsettled(connection: Connection, settings: Settings, period: Period) -> tuple[Period, str] | None:
    """The earliest period before ``period`` that has something to settle, and what; None if there is none.

    An earlier period still settling is refused outright (``still_settling``).

    Only the periods after the newest one begun count: those before it can
    no longer settle (``_refuse_out_of_order``), and blocking on them would
    block the deployment for ever. A period begun has none (it was checked
    when it began), nor one before a period begun (refused for that). What a
    period has to settle is what ``prepare`` would find in it:

    - flattrs: the first one's period in between, read from the
      (period, funder, thing) index, stopping at its first entry;
    - subscriptions: an active one made before a period's end adds a flattr
      to it at prepare, so a month with only subscriptions is one to settle;
    - budgets: only with ``unspent = "account:…"``, and only after a period
      settled. Then the next period settles every standing budget to that
      account, flattr or none, and skipping it would take that money from
      the account. With ``return`` a budget no flattr used stays in the
      wallet: a month with only budgets moves nothing, and skipping it loses
      nothing. On a deployment that settled none they do not count: a budget
      keeps no date, so no month can be said to have had it, and the first
      period is the oldest with a flattr or a subscription (``period_to_settle``).
    """
    newest = connection.execute(
        select(periods.c.id, periods.c.status, periods.c.starts_on).order_by(periods.c.starts_on.desc()).limit(1)
    ).first()
    if newest is not None and newest.starts_on >= period.start:
        return None  # begun itself, or refused as before one begun
    if newest is not None and newest.status != PeriodStatus.CLOSED:
        raise still_settling(newest.id)
    after = None if newest is None else parse_period(newest.id, settings.period)
    found = [
        _first_flattred(connection, settings, after, period),
        _first_subscribed(connection, settings, after),
        _first_budgeted(connection, settings, after),
    ]
    return min((f for f in found if f is not None and f[0] < period), key=lambda f: f[0], default=None)


def _first_flattred(
    connection: Connection, settings: Settings, after: Period | None, before: Period
) -> tuple[Period, str] | None:
    """The oldest period with a flattr between ``after`` and ``before``: a range of the flattrs' unique index."""
    query = select(flattrs.c.period).where(flattrs.c.period < before.id)
    if after is not None:
        query = query.where(flattrs.c.period > after.id)
    found = connection.execute(query.order_by(flattrs.c.period).limit(1)).scalar()
    return None if found is None else (parse_period(found, settings.period), "unsettled flattrs")


def _first_subscribed(connection: Connection, settings: Settings, after: Period | None) -> tuple[Period, str] | None:
    """The first period after ``after`` that an active subscription flattrs; with no ``after``, the oldest one's."""
    active = subscriptions.c.status == "active"
    if after is None:
        oldest = connection.execute(select(func.min(subscriptions.c.created_at)).where(active)).scalar()
        return None if oldest is None else (period_containing(oldest, settings.period), "subscriptions to apply")
    following = after.next()
    standing = select(subscriptions.c.id).where(active, subscriptions.c.created_at < following.ends_at).limit(1)
    return None if connection.execute(standing).first() is None else (following, "subscriptions to apply")


def _first_budgeted(connection: Connection, settings: Settings, after: Period | None) -> tuple[Period, str] | None:
    """The period after ``after``, if it settles standing budgets to the unspent account."""
    if after is None or not settings.unspent_account:
        return None
    if connection.execute(select(budgets.c.funder_id).limit(1)).first() is None:
        return None
    return after.next(), f"budgets to settle to the account {settings.unspent_account}"


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
            amount = to_give(settings, code, budget, balance, floor)
            status = SettlementStatus.PENDING if amount is not None else SettlementStatus.NO_MEANS
            rows.append((period.id, funder, code, amount or 0, status, counts.get(funder, 0)))
    return rows
