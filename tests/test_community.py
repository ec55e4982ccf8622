"""Community money through a whole period: mutual credit, time banks, demurrage, weekly periods."""

from __future__ import annotations

from datetime import UTC, datetime

from moneyed import Money
from sqlalchemy import select

from gateway.core.check import check_ledger
from gateway.core.periods import parse_period
from gateway.storage.schema import accounts, participants, transactions
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement import settle
from gateway.usecases.things import register_thing
from tests.support import NOVEMBER, config, top_up

OCTOBER = parse_period("2026-10", "month")


def holdings(deployment, code):
    with deployment.engine.connect() as connection:
        rows = connection.execute(
            select(participants.c.handle, accounts.c.purpose, accounts.c.balance)
            .join(participants, participants.c.id == accounts.c.owner_id)
            .where(accounts.c.currency == code)
        )
        return {(handle, purpose): balance for handle, purpose, balance in rows if balance}


def ledger_ok(deployment):
    with deployment.engine.connect() as connection:
        assert check_ledger(connection) == []


def test_mutual_credit_budgets_create_money_that_sums_to_zero(deployment):
    member = register_participant(deployment, "member", preferred_currency="LETS")
    maker = register_participant(deployment, "maker", preferred_currency="LETS")
    thing = register_thing(deployment, maker, "https://example.org/bread", "Bread").id
    set_budget(deployment, member, Money("30", "LETS"))
    flattr(deployment, member, thing)
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    assert holdings(deployment, "LETS") == {("member", "wallet"): -3000, ("maker", "earnings"): 3000}
    ledger_ok(deployment)


def test_a_credit_limit_caps_the_budget(deployment):
    member = register_participant(deployment, "member", preferred_currency="LETS")
    maker = register_participant(deployment, "maker")
    thing = register_thing(deployment, maker, "https://example.org/bread", "Bread").id
    set_budget(deployment, member, Money("250", "LETS"))  # more than the 100 LETS credit limit
    flattr(deployment, member, thing)
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    assert holdings(deployment, "LETS")[("member", "wallet")] == -10000


def test_time_bank_hours_split_in_whole_minutes(deployment):
    member = register_participant(deployment, "member", preferred_currency="HOUR")
    makers = [register_participant(deployment, f"maker{i}") for i in range(3)]
    for i, maker in enumerate(makers):
        flattr_target = register_thing(deployment, maker, f"https://example.org/{i}", f"Help {i}").id
        if i == 0:
            set_budget(deployment, member, Money("1.5", "HOUR"))  # 1:30, ninety minutes
        flattr(deployment, member, flattr_target)
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    earned = sorted(b for (h, p), b in holdings(deployment, "HOUR").items() if p == "earnings")
    assert earned == [30, 30, 30] and holdings(deployment, "HOUR")[("member", "wallet")] == -90
    ledger_ok(deployment)


def hold(deployment, handle, code, amount):
    person = register_participant(deployment, handle)
    top_up(deployment, person, Money(amount, code), "sandbox", key=f"hold-{handle}-{code}")
    return person


def test_demurrage_is_charged_at_the_close_exactly_and_once(deployment):
    hold(deployment, "saver", "WOE", "100.00")
    hold(deployment, "spender", "WOE", "50.55")
    hold(deployment, "keeper", "CHI", "100.00")  # quarterly: not due at the end of October
    deployment.clock.set(NOVEMBER)
    report = settle(deployment, OCTOBER)
    woe = holdings(deployment, "WOE")
    # 1% of 150.55 = 1.5055, rounded half-up: 1.51, split 1.00 / 0.51 by largest remainder.
    assert woe[("saver", "wallet")] == 9900 and woe[("spender", "wallet")] == 5004
    assert woe[("community-fund", "fund")] == 151
    assert holdings(deployment, "CHI")[("keeper", "wallet")] == 10000
    assert {t.currency: t.demurrage for t in report.currencies} == {"WOE": Money("1.51", "WOE")}
    settle(deployment, OCTOBER)
    assert holdings(deployment, "WOE")[("community-fund", "fund")] == 151
    ledger_ok(deployment)


def test_quarterly_demurrage_falls_due_at_the_end_of_december(deployment):
    hold(deployment, "keeper", "CHI", "100.00")
    for month in ("2026-10", "2026-11", "2026-12"):
        period = parse_period(month, "month")
        deployment.clock.set(period.ends_at)
        settle(deployment, period)
    assert holdings(deployment, "CHI")[("keeper", "wallet")] == 9800
    with deployment.engine.connect() as connection:
        charged = connection.execute(select(transactions.c.period).where(transactions.c.kind == "demurrage")).scalars().all()
    assert charged == ["2026-12"]
    ledger_ok(deployment)


def test_weekly_periods(deployment_factory):
    moment = datetime(2026, 11, 18, 12, tzinfo=UTC)
    deployment = deployment_factory(config(period="week"), moment=moment)
    fan = register_participant(deployment, "fan")
    maker = register_participant(deployment, "maker")
    top_up(deployment, fan, Money("10.00", "EUR"), "sandbox", key="t")
    flattr(deployment, fan, register_thing(deployment, maker, "https://example.org/x", "X").id)
    week = parse_period("2026-W47", "week")
    deployment.clock.set(week.ends_at)
    report = settle(deployment, week)
    assert report.period == "2026-W47" and report.creators[0].earned == Money("1.80", "EUR")
