"""The janitor: ask the providers about every payment still in flight, and record what they say.

As Kill Bill's janitor does, it never guesses: a top-up or payout whose
answer never came (a timeout, a crash between our call and the provider's
answer) stays unknown until its provider says. Every question is keyed with
our own id, so the janitor is safe at any time, from cron, beside a running
server, and twice at once.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Table, func, select

from adapters import IN_FLIGHT
from gateway.deployment import Deployment
from gateway.errors import GatewayError
from gateway.storage.engine import reading
from gateway.storage.schema import refunds, top_ups, withdrawals
from gateway.usecases.rail_calls import in_thread
from gateway.usecases.refund import refresh_refund
from gateway.usecases.top_up import refresh_top_up
from gateway.usecases.withdraw import refresh_withdrawal

log = logging.getLogger("gateway.payments")


@dataclass
class SyncReport:
    """What became of each payment asked about, counted by the state it is in now."""

    top_ups: Counter[str] = field(default_factory=Counter)
    withdrawals: Counter[str] = field(default_factory=Counter)
    refunds: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def still_in_flight(self) -> int:
        return sum(n for state, n in (self.top_ups + self.withdrawals + self.refunds).items() if state in IN_FLIGHT)


async def sync(deployment: Deployment) -> SyncReport:
    """Ask about every top-up, withdrawal and refund in flight, on every rail of the deployment."""
    report = SyncReport()
    kinds: list[tuple[Table, Counter[str], Callable[[Deployment, int], Awaitable[Any]]]] = [
        (top_ups, report.top_ups, refresh_top_up),
        (withdrawals, report.withdrawals, refresh_withdrawal),
        (refunds, report.refunds, refresh_refund),
    ]
    for table, counts, refresh in kinds:
        for row_id in await in_thread(in_flight, deployment, table):
            try:
                counts[(await refresh(deployment, row_id)).status] += 1
            except GatewayError as error:  # a rail no longer enabled, say: the others are still asked
                report.errors.append(f"{table.name} #{row_id}: {error}")
    for line in report.errors:
        log.warning("rails sync: %s", line)
    return report


def in_flight(deployment: Deployment, table: Table) -> list[int]:
    """The ids of a table's payments in flight, oldest first."""
    with reading(deployment.engine) as connection:
        return list(connection.execute(select(table.c.id).where(table.c.status.in_(IN_FLIGHT)).order_by(table.c.id)).scalars())


def in_flight_counts(deployment: Deployment) -> dict[tuple[str, str], int]:
    """How many top-ups, withdrawals and refunds are in each unfinished state (every state named, zeros too)."""
    counts = {(table.name, state.value): 0 for table in (top_ups, withdrawals, refunds) for state in IN_FLIGHT}
    with reading(deployment.engine) as connection:
        for table in (top_ups, withdrawals, refunds):
            rows = connection.execute(
                select(table.c.status, func.count()).where(table.c.status.in_(IN_FLIGHT)).group_by(table.c.status)
            )
            counts.update({(table.name, status): count for status, count in rows})
    return counts
