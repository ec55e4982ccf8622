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
from dataclasses import dataclass, field

from sqlalchemy import select

from adapters import IN_FLIGHT
from gateway.deployment import Deployment
from gateway.errors import GatewayError
from gateway.storage.engine import reading
from gateway.storage.schema import top_ups, withdrawals
from gateway.usecases.rail_calls import in_thread
from gateway.usecases.top_up import refresh_top_up
from gateway.usecases.withdraw import refresh_withdrawal

log = logging.getLogger("gateway.payments")


@dataclass
class SyncReport:
    """What became of each payment asked about, counted by the state it is in now."""

    top_ups: Counter[str] = field(default_factory=Counter)
    withdrawals: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)

    @property
    def still_in_flight(self) -> int:
        return sum(n for state, n in (self.top_ups + self.withdrawals).items() if state in IN_FLIGHT)


async def sync(deployment: Deployment) -> SyncReport:
    """Ask about every top-up and withdrawal in flight, on every rail of the deployment."""
    top_up_ids, withdrawal_ids = await in_thread(in_flight, deployment)
    report = SyncReport()
    for top_up_id in top_up_ids:
        try:
            report.top_ups[(await refresh_top_up(deployment, top_up_id)).status] += 1
        except GatewayError as error:  # a rail no longer enabled, say: the others are still asked
            report.errors.append(f"top-up {top_up_id}: {error}")
    for withdrawal_id in withdrawal_ids:
        try:
            report.withdrawals[(await refresh_withdrawal(deployment, withdrawal_id)).status] += 1
        except GatewayError as error:
            report.errors.append(f"withdrawal {withdrawal_id}: {error}")
    for line in report.errors:
        log.warning("rails sync: %s", line)
    return report


def in_flight(deployment: Deployment) -> tuple[list[int], list[int]]:
    """The ids of the top-ups and withdrawals in flight, oldest first."""
    with reading(deployment.engine) as connection:
        ups = connection.execute(select(top_ups.c.id).where(top_ups.c.status.in_(IN_FLIGHT)).order_by(top_ups.c.id))
        outs = connection.execute(select(withdrawals.c.id).where(withdrawals.c.status.in_(IN_FLIGHT)).order_by(withdrawals.c.id))
        return list(ups.scalars()), list(outs.scalars())
