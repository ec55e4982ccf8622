"""The settlement driver: phases in order, each in its own database transaction."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import func, select

from ..deployment import Deployment
from ..errors import PeriodNotEnded
from ..periods import Period, period_containing
from ..reports import PeriodReport, period_report
from ..storage.engine import run_in_transaction
from ..storage.schema import periods, settlements
from .batch import eligible_creators, settle_batch
from .close import charge_demurrage, close, demurrage_due
from .prepare import prepare

Progress = Callable[[int, int], None]  # (settled so far, to settle in all)


def settle(deployment: Deployment, period: Period | None = None, progress: Progress | None = None) -> PeriodReport:
    """Settle ``period`` (by default the last one that ended), or finish settling it."""
    settings = deployment.settings
    engine = deployment.engine
    now = deployment.clock.now()
    period = period or period_containing(now, settings.period).previous()
    if now < period.ends_at:
        raise PeriodNotEnded(f"the period {period.id} ends on {period.end.isoformat()}; it cannot be settled before")
    status = run_in_transaction(engine, lambda c: prepare(c, settings, period, now))
    if status != "closed":
        with engine.connect() as connection:
            give_to_receive = connection.execute(select(periods.c.give_to_receive).where(periods.c.id == period.id)).scalar()
            eligible = eligible_creators(connection, period) if give_to_receive else None
            total = connection.execute(
                select(func.count()).where(settlements.c.period == period.id, settlements.c.status == "pending")
            ).scalar()
        done = 0
        while True:
            count = run_in_transaction(
                engine, lambda c: settle_batch(c, settings, period, now, settings.settle_batch, eligible)
            )
            if not count:
                break
            done += count
            if progress:
                progress(done, total)
        for unit in demurrage_due(settings, period):
            run_in_transaction(engine, lambda c: charge_demurrage(c, unit, period, now))
        run_in_transaction(engine, lambda c: close(c, period, now))
    with engine.connect() as connection:
        return period_report(connection, settings, period.id)
