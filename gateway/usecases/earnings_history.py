"""A creator's earnings per settled period and currency: what their dashboard charts.

Read from the receipts, which settlement writes for each funder's share
to each thing (the same rows ``creator_totals`` sums when a period closes),
so a period still settling shows what it paid so far. What a chargeback
later took back is not subtracted: this is what each period paid in.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import receipts


@dataclass(frozen=True)
class PeriodEarnings:
    period: str
    currency: str
    amount: int  # minor units
    funders: int


def earnings_by_period(deployment: Deployment, creator_id: int) -> list[PeriodEarnings]:
    """Every period and currency the creator was paid in, oldest first (by currency, then period)."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(
                receipts.c.period,
                receipts.c.currency,
                func.sum(receipts.c.share).label("amount"),
                func.count(func.distinct(receipts.c.funder_id)).label("funders"),
            )
            .where(receipts.c.creator_id == creator_id, receipts.c.share > 0)
            .group_by(receipts.c.period, receipts.c.currency)
            .order_by(receipts.c.currency, receipts.c.period)
        ).all()
    return [
        PeriodEarnings(row.period, row.currency, int(row.amount), int(row.funders))
        for row in rows
        if row.currency in deployment.currencies
    ]
