"""Phase 1: freeze the period, apply subscriptions, fix what each funder gives."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from sqlalchemy import Connection, func, insert, select, update

from ..config import Settings
from ..funding import available, budget_targets
from ..periods import Period
from ..storage.bulk import bulk_insert
from ..storage.schema import accounts, budgets, flattrs, participants, periods, settlements, subscriptions, things
from ..storage.upsert import insert_ignore


def prepare(connection: Connection, settings: Settings, period: Period, now: datetime) -> str:
    """Start settling ``period``, or say how far it got: 'settling' or 'closed'."""
    status = connection.execute(select(periods.c.status).where(periods.c.id == period.id).with_for_update()).scalar()
    if status is not None:
        return status
    connection.execute(
        insert(periods).values(
            id=period.id, starts_on=period.start, ends_on=period.end, status="settling",
            give_to_receive=settings.give_to_receive, started_at=now,
        )
    )
    apply_subscriptions(connection, settings, period, now)
    snapshot_budgets(connection, settings, period)
    return "settling"


def apply_subscriptions(connection: Connection, settings: Settings, period: Period, now: datetime) -> None:
    due = connection.execute(
        select(subscriptions.c.id, subscriptions.c.funder_id, subscriptions.c.thing_id, subscriptions.c.points,
               subscriptions.c.periods_left)
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
        row = dict(period=period.id, funder_id=sub.funder_id, thing_id=sub.thing_id, points=points,
                   source="subscription", created_at=now)
        insert_ignore(connection, flattrs, row, ["period", "funder_id", "thing_id"])
        connection.execute(
            update(flattrs)
            .where(flattrs.c.period == period.id, flattrs.c.funder_id == sub.funder_id,
                   flattrs.c.thing_id == sub.thing_id, flattrs.c.points < points)
            .values(points=points)
        )
        left = None if sub.periods_left is None else sub.periods_left - 1
        connection.execute(
            update(subscriptions)
            .where(subscriptions.c.id == sub.id)
            .values(last_period=period.id, periods_left=left, status="finished" if left == 0 else "active")
        )


def snapshot_budgets(connection: Connection, settings: Settings, period: Period) -> None:
    """One settlements row per funder and currency: what they give, or why nothing."""
    counts = dict(
        connection.execute(
            select(flattrs.c.funder_id, func.count()).where(flattrs.c.period == period.id).group_by(flattrs.c.funder_id)
        ).all()
    )
    explicit: dict[int, dict[str, int]] = defaultdict(dict)
    for row in connection.execute(select(budgets.c.funder_id, budgets.c.currency, budgets.c.amount)):
        explicit[row.funder_id][row.currency] = row.amount
    funders = set(counts)
    if settings.unspent_account:
        funders |= set(explicit)  # their budget goes to the named account even without a flattr
    preferred = dict(
        connection.execute(select(participants.c.id, participants.c.preferred_currency).where(participants.c.kind == "person")).all()
    )
    wallets = {
        (row.owner_id, row.currency): (row.balance, row.floor)
        for row in connection.execute(
            select(accounts.c.owner_id, accounts.c.currency, accounts.c.balance, accounts.c.floor).where(accounts.c.purpose == "wallet")
        )
    }
    rows = []
    for funder in sorted(funders):
        for code, budget in sorted(budget_targets(settings, explicit.get(funder, {}), preferred.get(funder)).items()):
            balance, floor = wallets.get((funder, code), (None, None))
            amount = min(budget, available(settings, code, balance, floor))
            status = "pending" if amount >= settings.policies[code].minimum_budget else "no_means"
            rows.append((period.id, funder, code, amount if status == "pending" else 0, status, counts.get(funder, 0)))
    bulk_insert(connection, settlements, ("period", "funder_id", "currency", "amount", "status", "flattrs"), rows)
