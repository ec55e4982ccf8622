"""The API's settlement thread (``BackgroundSettlement``): one period at a time, stopped between batches at shutdown."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import text

from gateway.core.periods import parse_period
from gateway.errors import Conflict
from gateway.storage.engine import make_engine
from gateway.usecases.flattr import flattr
from gateway.usecases.settlement import settle
from gateway.usecases.settlement.background import BackgroundSettlement
from gateway.usecases.settlement.status import settlement_progress
from tests.support import DECEMBER
from tests.test_settlement import fund, people, thing

OCTOBER = parse_period("2026-10", "month")
NOVEMBER = parse_period("2026-11", "month")


@contextmanager
def prepare_waits(url: str) -> Iterator[None]:
    """Hold what ``prepare`` waits for, from another connection: SQLite's write lock; on PostgreSQL, the periods
    table against row locks (``prepare`` locks the period's row), though not against reads."""
    engine = make_engine(url)
    try:
        with engine.begin() as connection:  # BEGIN IMMEDIATE on SQLite: the write lock from here
            if connection.dialect.name == "postgresql":
                connection.execute(text("LOCK TABLE periods IN EXCLUSIVE MODE"))
            yield
    finally:
        engine.dispose()


def wait_until_idle(settler: BackgroundSettlement, period_id: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while settler.state(period_id)[0]:
        assert time.monotonic() < deadline, "the settlement thread did not end"
        time.sleep(0.01)


class StateWhenLogged(logging.Handler):
    """What the settlement thread logs, each message with whether ``state`` still said "running" as it was written.

    A message written after the thread reported itself idle is one that a
    reader who waited for idle may not find yet: the race of a busy machine,
    which this shows on any machine.
    """

    def __init__(self, settler: BackgroundSettlement, period_id: str) -> None:
        super().__init__(logging.INFO)
        self.settler, self.period_id = settler, period_id
        self.seen: list[tuple[str, bool]] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.threadName == f"settle-{self.period_id}":  # not what close logs from the test's thread
            self.seen.append((record.getMessage(), self.settler.state(self.period_id)[0]))


@contextmanager
def state_when_logged(settler: BackgroundSettlement, period_id: str) -> Iterator[StateWhenLogged]:
    logger = logging.getLogger("gateway.usecases.settlement")
    handler, level = StateWhenLogged(settler, period_id), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def a_funder(deployment) -> None:
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(DECEMBER)


def test_one_period_at_a_time_and_a_shutdown_that_does_not_hang(deployment, caplog):
    a_funder(deployment)
    settler = BackgroundSettlement(deployment)
    with state_when_logged(settler, OCTOBER.id) as logged:
        with prepare_waits(deployment.settings.database_url):
            settler.start(OCTOBER)  # its thread now waits in prepare
            settler.start(OCTOBER)  # the same period: the same thread
            assert settler.state(OCTOBER.id) == (True, None)
            with pytest.raises(Conflict, match="2026-10 is settling in this process"):
                settler.start(NOVEMBER)
            settler.close(timeout=0.2)  # shutdown: the thread cannot stop inside prepare, and is left to end
            # close came back although the thread cannot end while prepare waits: it did not hang.
            assert settler.state(OCTOBER.id)[0]
        wait_until_idle(settler, OCTOBER.id)  # prepare done, then no batch: it was told to stop
    assert "settling 2026-10 stopped at shutdown" in caplog.text
    # Written while the thread still said "running": once it says idle, its last word is in the log.
    assert logged.seen == [("settling 2026-10 stopped at shutdown; the next run resumes it", True)]
    progress = settlement_progress(deployment, OCTOBER.id)
    assert (progress.status, progress.settled, progress.budgets) == ("settling", 0, 1)
    assert settle(deployment, OCTOBER).status == "closed"  # the next run finishes it


def test_a_finished_run_is_logged_before_it_is_reported_idle(deployment):
    a_funder(deployment)
    settler = BackgroundSettlement(deployment)
    with state_when_logged(settler, OCTOBER.id) as logged:
        settler.start(OCTOBER)
        wait_until_idle(settler, OCTOBER.id)
    assert logged.seen == [("settled 2026-10", True)]


def test_a_failure_is_logged_and_kept_until_the_next_run(deployment, caplog):
    a_funder(deployment)
    settler = BackgroundSettlement(deployment)
    with deployment.engine.begin() as connection:  # the close will fail: its table is gone
        connection.execute(text("ALTER TABLE creator_totals RENAME TO creator_totals_away"))
    settler.start(OCTOBER)
    wait_until_idle(settler, OCTOBER.id)
    assert settler.state(OCTOBER.id) == (False, "internal error: see the server's log")
    assert "settling 2026-10 failed; the next run resumes it" in caplog.text and "creator_totals" in caplog.text
    with deployment.engine.begin() as connection:
        connection.execute(text("ALTER TABLE creator_totals_away RENAME TO creator_totals"))
    settler.start(OCTOBER)
    wait_until_idle(settler, OCTOBER.id)
    assert settler.state(OCTOBER.id) == (False, None)
    assert settlement_progress(deployment, OCTOBER.id).status == "closed"


def test_a_run_after_a_shutdown_is_not_stopped_by_it(deployment):
    a_funder(deployment)
    settler = BackgroundSettlement(deployment)
    settler.close()  # nothing ran: nothing to stop, and the next run must not inherit the stop
    settler.start(OCTOBER)
    wait_until_idle(settler, OCTOBER.id)
    assert settlement_progress(deployment, OCTOBER.id).status == "closed"
