"""Concurrent requests against one balance and one idempotency key, on real connections."""

from __future__ import annotations

import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from gateway.core.check import check_ledger
from gateway.deployment import open_deployment
from gateway.errors import GatewayError
from gateway.storage.engine import make_engine
from gateway.storage.schema import accounts, top_ups, transactions, withdrawals
from gateway.usecases.identity.sessions import log_in
from gateway.usecases.identity.totp import begin_totp, confirm_totp
from gateway.usecases.participants import register_participant
from tests.support import eur, payable, top_up, withdraw
from tests.test_accounts import PASSWORD, code_now, join
from tests.test_money_flows import balance_of, earnings

pytestmark = pytest.mark.slow


@pytest.fixture
def wide(deployment):
    """The same deployment with a pool of 60 connections, so 50 threads really run at once."""
    engine = make_engine(deployment.settings.database_url, pool_size=60, max_overflow=0)
    wide = open_deployment(deployment.settings, clock=deployment.clock, engine=engine)
    yield wide
    wide.close()


def all_at_once(count, work):
    barrier = threading.Barrier(count)

    def run(i):
        barrier.wait()
        try:
            return work(i)
        except GatewayError as error:
            return error.code

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(run, range(count)))


def test_fifty_withdrawals_never_overdraw_one_balance(wide):
    creator = payable(wide, "artist")
    earnings(wide, creator, "10.00")
    results = all_at_once(50, lambda i: withdraw(wide, creator, eur("1.00"), "sandbox", key=f"w{i}").status)
    assert Counter(results) == {"succeeded": 10, "insufficient_funds": 40}
    assert balance_of(wide, creator, "earnings") == 0
    with wide.engine.connect() as connection:
        assert connection.execute(select(func.min(accounts.c.balance)).where(accounts.c.floor.is_not(None))).scalar() >= 0
        assert connection.execute(select(func.count()).select_from(withdrawals)).scalar() == 10
        assert check_ledger(connection) == []


def test_twenty_top_ups_with_one_key_make_one_transaction(wide):
    funder = register_participant(wide, "fan")
    results = all_at_once(20, lambda i: top_up(wide, funder, eur("7.00"), "sandbox", key="same"))
    assert {r.id for r in results} == {results[0].id}
    assert {r.status for r in results} == {"succeeded"}
    assert balance_of(wide, funder, "wallet") == 700
    with wide.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(top_ups)).scalar() == 1
        assert connection.execute(select(func.count()).select_from(transactions)).scalar() == 2  # in flight, then posted
        assert check_ledger(connection) == []


def test_twenty_withdrawals_with_one_key_pay_once(wide):
    creator = payable(wide, "artist")
    earnings(wide, creator, "10.00")
    results = all_at_once(20, lambda i: withdraw(wide, creator, eur("3.00"), "sandbox", key="same"))
    assert {r.id for r in results} == {results[0].id} and {r.status for r in results} == {"succeeded"}
    assert balance_of(wide, creator, "earnings") == 700
    with wide.engine.connect() as connection:
        kinds = Counter(connection.execute(select(transactions.c.kind)).scalars())
        assert kinds["withdrawal_reserve"] == 1 and kinds["withdrawal"] == 1
        assert check_ledger(connection) == []


def test_one_totp_code_signs_in_once_however_many_send_it_at_once(wide):
    fan = join(wide)
    secret, _ = begin_totp(wide, fan)
    confirm_totp(wide, fan, code_now(wide, secret))
    wide.clock.set(wide.clock.now() + timedelta(seconds=30))
    code = code_now(wide, secret)
    outcomes = all_at_once(8, lambda _: log_in(wide, "fan", PASSWORD, code) and "signed in")
    assert Counter(outcomes) == {"signed in": 1, "invalid_credentials": 7}
