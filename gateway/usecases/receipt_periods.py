"""The settled periods in which a funder has a receipt, for the list their dashboard links to."""

from __future__ import annotations

from sqlalchemy import select

from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import periods, settlements


def receipt_periods(deployment: Deployment, funder_id: int) -> list[str]:
    """The closed periods with a settlement row of ``funder_id`` (one a budget: given, returned or without means), newest first."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(settlements.c.period)
            .distinct()
            .join(periods, periods.c.id == settlements.c.period)
            .where(settlements.c.funder_id == funder_id, periods.c.status == "closed")
            .order_by(settlements.c.period.desc())
        )
        return [row.period for row in rows]
