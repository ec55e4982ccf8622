"""The settlement driver: phases in order, each in its own database transaction."""

from __future__ import annotations

import gc
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager, nullcontext
from datetime import datetime
from functools import partial

from sqlalchemy import Connection, Engine, func, select

from gateway.config import Settings
from gateway.core.periods import Period, parse_period
from gateway.core.states import PeriodStatus, SettlementStatus
from gateway.deployment import Deployment
from gateway.errors import PeriodNotEnded
from gateway.storage.engine import (
    bulk_writing,
    read_only,
    reading,
    run_in_transaction,
    single_writer,
)
from gateway.storage.schema import periods, settlements
from gateway.usecases.calendar import current_period
from gateway.usecases.reports import PeriodReport, period_report
from gateway.usecases.settlement.batch import (
    Known,
    eligible_creators,
    pending_ranges,
    settle_batch,
)
from gateway.usecases.settlement.close import charge_demurrage, close, demurrage_due
from gateway.usecases.settlement.prepare import earliest_unsettled, prepare, refuse_skipping, still_settling

Progress = Callable[[int, int], None]  # (settled so far, to settle in all)


def settle(
    deployment: Deployment,
    period: Period | None = None,
    progress: Progress | None = None,
    *,
    pause_gc: bool = False,
    stop: threading.Event | None = None,
) -> PeriodReport:
    """Settle ``period`` (by default the next in order: ``period_to_settle``); safe to run again, and to resume.

    ``pause_gc``: no cyclic garbage collection while batches run, in the
    whole process (``_without_cycle_collection``); for ``gateway settle``,
    never for a process that serves requests meanwhile. ``stop``: once set,
    no further batch starts, and the period is left settling (the report
    says so) for the next run to finish.
    """
    settings, engine = deployment.settings, deployment.engine
    now = deployment.clock.now()
    period = period_to_settle(deployment, period)
    with bulk_writing(engine) as connection:
        status = run_in_transaction(connection, lambda c: prepare(c, settings, period, now))
        if status != PeriodStatus.CLOSED:
            with read_only(connection):  # no write lock on SQLite for these reads
                give_to_receive = connection.execute(select(periods.c.give_to_receive).where(periods.c.id == period.id)).scalar()
                eligible = eligible_creators(connection, period) if give_to_receive else None
                total = (
                    connection.execute(
                        select(func.count()).where(
                            settlements.c.period == period.id, settlements.c.status == SettlementStatus.PENDING
                        )
                    ).scalar()
                    or 0
                )
                ranges = pending_ranges(connection, period.id, settings.settle_batch)
            batches = _Batches(ranges, _Counter(total, progress), stop)
            work = partial(_drain, settings=settings, period=period, now=now, eligible=eligible, batches=batches)
            with _without_cycle_collection() if pause_gc else nullcontext():
                _run_workers(engine, connection, _worker_count(settings, connection, len(ranges)), work)
            if stop is None or not stop.is_set():  # else the next run does the rest: demurrage and close never stop halfway
                for unit in demurrage_due(settings, period):
                    run_in_transaction(connection, partial(charge_demurrage, unit=unit, period=period, now=now))
                run_in_transaction(connection, lambda c: close(c, period, now))
    return period_report(deployment, period.id)


def period_to_settle(deployment: Deployment, period: Period | None = None) -> Period:
    """The period ``settle`` takes: ``period``, else the oldest one left settling, else the next in order.

    The next in order is the one after the newest settled, or, on a
    deployment that settled none, the oldest with a flattr: a period skipped
    (nobody ran the settlement that month) is settled before the one after
    it, since periods settle in order (``prepare``). Once the newest settled
    period is the last that ended, it is the answer again: running
    ``gateway settle`` twice changes nothing. Refuses, before any work, a
    period that has not ended, one after a period still settling, and one
    after a period with something left to settle (``earliest_unsettled``),
    which settling this one would lose for good; ``prepare`` checks that
    again in its own transaction.
    """
    now = deployment.clock.now()
    unfinished = _unfinished(deployment.engine, deployment.settings)
    period = period or unfinished or _next_in_order(deployment, now)
    if now < period.ends_at:
        raise PeriodNotEnded(f"the period {period.id} ends on {period.end.isoformat()}; it cannot be settled before")
    if unfinished is not None and unfinished.start < period.start:
        raise still_settling(unfinished.id)
    with reading(deployment.engine) as connection:
        refuse_skipping(connection, deployment.settings, period)
    return period


def _next_in_order(deployment: Deployment, now: datetime) -> Period:
    """The one after the newest begun; on a deployment that began none, the oldest ended with something to settle.

    That is the oldest with a flattr or a subscription (``earliest_unsettled``),
    so that the period picked is never one refused for an earlier one; else the last that ended.
    """
    settings = deployment.settings
    this_one = current_period(deployment)
    with reading(deployment.engine) as connection:
        newest = connection.execute(select(periods.c.id).order_by(periods.c.starts_on.desc()).limit(1)).scalar()
        oldest = None if newest else earliest_unsettled(connection, settings, this_one)
    if newest is not None:
        settled = parse_period(newest, settings.period)
        following = settled.next()
        return following if following.ends_at <= now else settled
    return oldest[0] if oldest is not None else this_one.previous()


def _unfinished(engine: Engine, settings: Settings) -> Period | None:
    """The oldest period a crash left settling: with no period named, that is the one to finish first."""
    with reading(engine) as connection:
        found = connection.execute(
            select(periods.c.id).where(periods.c.status == PeriodStatus.SETTLING).order_by(periods.c.starts_on).limit(1)
        ).scalar()
    return parse_period(found, settings.period) if found else None


class _Counter:
    """Rows settled so far, reported to ``progress`` from whichever worker settled them."""

    def __init__(self, total: int, progress: Progress | None) -> None:
        self.total, self.done, self.progress = total, 0, progress
        self.lock = threading.Lock()

    def add(self, count: int) -> None:
        with self.lock:
            self.done += count
            if self.progress:
                self.progress(self.done, self.total)


class _Batches:
    """The batches left to settle, handed out one at a time to the workers; none once one has failed or ``stop`` is set."""

    def __init__(self, ranges: list[tuple[int, int | None]], counter: _Counter, stop: threading.Event | None = None) -> None:
        self.ranges = iter(ranges)
        self.counter = counter
        self.stop = stop
        self.failed = False
        self.lock = threading.Lock()

    def next(self) -> tuple[int, int | None] | None:
        with self.lock:
            if self.failed or (self.stop is not None and self.stop.is_set()):
                return None
            return next(self.ranges, None)


def _drain(
    connection: Connection, *, settings: Settings, period: Period, now: datetime, eligible: set[int] | None, batches: _Batches
) -> None:
    """Settle batches, one database transaction each, until none is left."""
    known = Known()  # this worker's: only what its own committed batches found
    while (funders := batches.next()) is not None:
        try:
            result = run_in_transaction(connection, lambda c: settle_batch(c, settings, period, now, funders, eligible, known))
        except BaseException:
            batches.failed = True
            raise
        known.merge(result.found)
        batches.counter.add(result.count)


def _worker_count(settings: Settings, connection: Connection, batches: int) -> int:
    """SQLite has one writer at a time; PostgreSQL settles batches side by side, one a core by default.

    Batches never share a funder, so their wallets' row locks never meet;
    they meet on creators' accounts only for the balance update at their end,
    taken in account order, so the costly part (the inserts and their
    foreign-key checks) runs in parallel.
    """
    if single_writer(connection.engine):
        return 1
    return max(1, min(batches, settings.settle_workers or min(4, os.cpu_count() or 1)))


def _run_workers(engine: Engine, connection: Connection, count: int, work: Callable[[Connection], None]) -> None:
    """``work`` on the settling connection, or in ``count`` threads with a connection each."""
    if count == 1:
        work(connection)
        return

    def on_own_connection() -> None:
        with engine.connect() as own:
            work(own)

    with ThreadPoolExecutor(count, thread_name_prefix="settle") as pool:
        futures = [pool.submit(on_own_connection) for _ in range(count)]
    for future in futures:
        future.result()  # the first failure, raised here


@contextmanager
def _without_cycle_collection() -> Iterator[None]:
    """No cyclic garbage collection while batches run.

    A batch makes a million or so small objects that live until it ends
    (claims, receipts, ledger legs), which sets off full collections over
    all of them, again and again: a tenth of the settlement's time. They
    hold no cycles, so reference counting frees them when the batch ends;
    collection resumes after the last batch, as it was.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
