"""The periods whose settlement has begun: the operator's list of reports, and the public one of closed periods."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select

from gateway.core.states import PeriodStatus
from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import periods


@dataclass(frozen=True)
class BegunPeriod:
    id: str
    status: str  # settling | closed
    closed_at: datetime | None


def begun_periods(deployment: Deployment, closed_only: bool = False) -> list[BegunPeriod]:
    """The periods settled or settling (``closed_only``: settled), newest first."""
    query = select(periods.c.id, periods.c.status, periods.c.closed_at).order_by(periods.c.starts_on.desc())
    if closed_only:
        query = query.where(periods.c.status == PeriodStatus.CLOSED)
    with reading(deployment.engine) as connection:
        return [BegunPeriod(row.id, row.status, row.closed_at) for row in connection.execute(query)]
