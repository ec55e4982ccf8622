"""What a funder's flattrs of the running period would get if it closed now: read-only, for their dashboard.

The budget each currency would take comes from ``gateway.core.means.to_give``
and its division from ``settlement.batch.split_budget``: the very rules that
settling applies, so the projection and the receipt cannot disagree while
nothing changes. What can still change before the period settles: the
wallet (a top-up, a budget), the flattrs, subscriptions applied at the close
(not counted here), and with ``give_to_receive`` the creators who fund
(every creator is counted here).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from moneyed import Money
from sqlalchemy import Connection, select

from gateway.core.accounts import Purpose
from gateway.core.means import budget_targets, to_give
from gateway.core.periods import Period
from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import accounts, budgets, flattrs, participants, things
from gateway.usecases.calendar import current_period
from gateway.usecases.participants import person
from gateway.usecases.settlement.batch import split_budget


@dataclass(frozen=True)
class ProjectedFlattr:
    thing_id: int
    title: str
    creator: str  # the creator's handle
    points: int
    shares: dict[str, Money] = field(default_factory=dict)  # currency -> what the thing would get


@dataclass(frozen=True)
class ProjectedBudget:
    currency: str
    budget: Money  # the budget set, or the currency's minimum for a funder who set none
    explicit: bool  # set by the funder
    giving: Money  # what settling now would take from the wallet (zero when the wallet cannot meet the minimum)
    fee: Money
    can_give: bool  # the wallet meets the currency's minimum budget


@dataclass(frozen=True)
class Projection:
    period: str
    ends_at: datetime
    flattrs: list[ProjectedFlattr]
    budgets: list[ProjectedBudget]


def projection(deployment: Deployment, funder_id: int) -> Projection:
    """This period's flattrs of ``funder_id`` with each one's share, per budget, in exact minor units, the fee deducted."""
    period = current_period(deployment)
    settings = deployment.settings
    money = deployment.currencies.money
    with reading(deployment.engine) as connection:
        preferred = person(connection, funder_id).preferred_currency
        claims = _claims(connection, period, funder_id)
        explicit = _budgets(connection, funder_id)
        wallets = _wallets(connection, funder_id)
    shares: dict[int, dict[str, Money]] = {thing: {} for thing, *_ in claims}
    projected = []
    for code, budget in sorted(budget_targets(settings, explicit, preferred).items()):
        balance, floor = wallets.get(code, (None, None))
        amount = to_give(settings, code, budget, balance, floor)
        fee = 0
        if amount and claims:
            allocation = split_budget(
                settings, period, funder_id, code, amount, [(thing, points) for thing, _, _, points in claims]
            )
            fee = allocation.fee
            for thing, share in allocation.shares.items():
                shares[thing][code] = money(share, code)
        giving = amount or 0
        projected.append(
            ProjectedBudget(
                code, money(budget, code), code in explicit, money(giving, code), money(fee, code), amount is not None
            )
        )
    lines = [ProjectedFlattr(thing, title, creator, points, shares[thing]) for thing, title, creator, points in claims]
    return Projection(period.id, period.ends_at, lines, projected)


def _claims(connection: Connection, period: Period, funder_id: int) -> Sequence[tuple[int, str, str, int]]:
    rows = connection.execute(
        select(flattrs.c.thing_id, things.c.title, participants.c.handle, flattrs.c.points)
        .join(things, things.c.id == flattrs.c.thing_id)
        .join(participants, participants.c.id == things.c.owner_id)
        .where(flattrs.c.period == period.id, flattrs.c.funder_id == funder_id)
        .order_by(flattrs.c.thing_id)
    )
    return [(row.thing_id, row.title, row.handle, row.points) for row in rows]


def _budgets(connection: Connection, funder_id: int) -> dict[str, int]:
    rows = connection.execute(select(budgets.c.currency, budgets.c.amount).where(budgets.c.funder_id == funder_id))
    return {row.currency: row.amount for row in rows}


def _wallets(connection: Connection, funder_id: int) -> dict[str, tuple[int, int | None]]:
    rows = connection.execute(
        select(accounts.c.currency, accounts.c.balance, accounts.c.floor).where(
            accounts.c.owner_id == funder_id, accounts.c.purpose == Purpose.WALLET
        )
    )
    return {row.currency: (row.balance, row.floor) for row in rows}
