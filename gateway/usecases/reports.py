"""What a settled period says: totals per currency and per creator, and each funder's receipts."""

from __future__ import annotations

from dataclasses import dataclass, replace

from moneyed import Money
from sqlalchemy import select

from gateway.core.states import PeriodStatus
from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.storage.engine import reading
from gateway.storage.schema import (
    creator_totals,
    participants,
    period_totals,
    periods,
    receipts,
    settlements,
    things,
)


@dataclass(frozen=True)
class CurrencyTotals:
    currency: str
    funders: int
    budgets: Money
    fees: Money
    distributed: Money
    unspent: Money
    demurrage: Money


@dataclass(frozen=True)
class CreatorTotal:
    handle: str
    earned: Money
    funders: int


@dataclass(frozen=True)
class PeriodReport:
    period: str
    status: str
    currencies: list[CurrencyTotals]
    creators: list[CreatorTotal]


@dataclass(frozen=True)
class ReceiptLine:
    thing_id: int
    title: str
    creator: str
    points: int
    share: Money


@dataclass(frozen=True)
class Receipt:
    """Where one funder's budget went in one period and currency."""

    period: str
    currency: str
    status: str
    budget: Money
    fee: Money
    unspent: Money
    lines: list[ReceiptLine]


def period_report(deployment: Deployment, period_id: str) -> PeriodReport:
    """A period's totals, per currency and per creator (all creators: this is the operator's)."""
    with reading(deployment.engine) as connection:
        status = connection.execute(select(periods.c.status).where(periods.c.id == period_id)).scalar()
        if status is None:
            raise NotFound(f"the period {period_id} has not been settled")
        sums = connection.execute(
            select(period_totals).where(period_totals.c.period == period_id).order_by(period_totals.c.currency)
        ).all()
        earned = connection.execute(
            select(participants.c.handle, creator_totals.c.currency, creator_totals.c.earned, creator_totals.c.funders)
            .join(participants, participants.c.id == creator_totals.c.creator_id)
            .where(creator_totals.c.period == period_id)
            .order_by(creator_totals.c.currency, creator_totals.c.earned.desc(), participants.c.handle)
        ).all()
    settings = deployment.settings
    money = settings.currencies.money
    totals = [
        CurrencyTotals(
            row.currency,
            row.funders,
            money(row.budgets, row.currency),
            money(row.fees, row.currency),
            money(row.distributed, row.currency),
            money(row.unspent, row.currency),
            money(row.demurrage, row.currency),
        )
        for row in sums
        if row.currency in settings.currencies
    ]
    creators = [
        CreatorTotal(row.handle, money(row.earned, row.currency), row.funders)
        for row in earned
        if row.currency in settings.currencies
    ]
    return PeriodReport(period_id, status, totals, creators)


def public_report(deployment: Deployment, period_id: str) -> PeriodReport:
    """A closed period's report as anyone may read it: the creators who chose to be listed, no others."""
    report = period_report(deployment, period_id)
    if report.status != PeriodStatus.CLOSED:
        raise NotFound(f"the period {period_id} is not closed yet")
    with reading(deployment.engine) as connection:
        listed = set(connection.execute(select(participants.c.handle).where(participants.c.listed.is_(True))).scalars())
    return replace(report, creators=[c for c in report.creators if c.handle in listed])


def receipts_of(deployment: Deployment, funder_id: int, period_id: str) -> list[Receipt]:
    """Where one funder's budgets went in a period: one receipt a currency, each with its lines."""
    with reading(deployment.engine) as connection:
        shares = connection.execute(
            select(
                receipts.c.currency,
                receipts.c.thing_id,
                things.c.title,
                participants.c.handle,
                receipts.c.points,
                receipts.c.share,
            )
            .join(things, things.c.id == receipts.c.thing_id)
            .join(participants, participants.c.id == receipts.c.creator_id)
            .where(receipts.c.period == period_id, receipts.c.funder_id == funder_id)
            .order_by(receipts.c.currency, receipts.c.thing_id)
        ).all()
        budgets = connection.execute(
            select(settlements)
            .where(settlements.c.period == period_id, settlements.c.funder_id == funder_id)
            .order_by(settlements.c.currency)
        ).all()
    money = deployment.currencies.money
    lines: dict[str, list[ReceiptLine]] = {}
    for row in shares:
        lines.setdefault(row.currency, []).append(
            ReceiptLine(row.thing_id, row.title, row.handle, row.points, money(row.share, row.currency))
        )
    return [
        Receipt(
            period_id,
            row.currency,
            row.status,
            money(row.amount, row.currency),
            money(row.fee, row.currency),
            money(row.unspent, row.currency),
            lines.get(row.currency, []),
        )
        for row in budgets
    ]
