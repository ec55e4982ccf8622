"""How far a period's settlement got, as committed: for an operator polling a settlement that runs elsewhere."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.core.states import PeriodStatus, SettlementStatus
from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import periods, settlements


@dataclass(frozen=True)
class SettlementProgress:
    status: PeriodStatus | None  # None: not started
    settled: int  # budgets (one per funder and currency) no longer pending
    budgets: int  # all the period's budgets, once prepare has fixed them


def settlement_progress(deployment: Deployment, period_id: str) -> SettlementProgress:
    with reading(deployment.engine) as connection:
        status = connection.execute(select(periods.c.status).where(periods.c.id == period_id)).scalar()
        if status is None:
            return SettlementProgress(None, 0, 0)
        # Budgets of nothing (no means when prepare fixed them) are none to settle: the CLI's progress leaves them out too.
        counts: dict[str, int] = dict(
            connection.execute(
                select(settlements.c.status, func.count())
                .where(settlements.c.period == period_id, settlements.c.amount > 0)
                .group_by(settlements.c.status)
            ).all()
        )
    budgets = sum(counts.values())
    return SettlementProgress(PeriodStatus(status), budgets - counts.get(SettlementStatus.PENDING, 0), budgets)
