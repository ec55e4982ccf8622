"""Community money through a whole period: mutual credit, time banks, demurrage, weekly periods."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from moneyed import Money
from sqlalchemy import func, select, update

from gateway.clock import FixedClock
from gateway.config import load_settings
from gateway.core.accounts import Purpose
from gateway.core.check import check_ledger
from gateway.core.periods import parse_period
from gateway.deployment import open_deployment
from gateway.errors import GatewayError, InsufficientFunds, NoMeans, NoOutsideWorld
from gateway.storage.schema import accounts, participants, receipts, settlements, transactions
from gateway.usecases.budgets import set_budget
from gateway.usecases.calendar import current_period
from gateway.usecases.flattr import Click, flattr, flattr_many
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement import batch, settle
from gateway.usecases.things import register_thing
from gateway.usecases.transfers import move_earnings, pay
from tests.support import DECEMBER, NOVEMBER, config, top_up

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
    # No outside world: the maker's share lands in their wallet, to be given again, never in earnings.
    assert holdings(deployment, "LETS") == {("member", "wallet"): -3000, ("maker", "wallet"): 3000}
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
    earned = sorted(b for (h, p), b in holdings(deployment, "HOUR").items() if h.startswith("maker"))
    assert earned == [30, 30, 30] and holdings(deployment, "HOUR")[("member", "wallet")] == -90
    assert {p for (h, p) in holdings(deployment, "HOUR")} == {"wallet"}
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


def test_shares_of_money_without_an_outside_world_land_in_wallets_across_batches(deployment):
    """Seven members in a ring, each flattring the next two; batches of 3 (side by side on PostgreSQL) pay each other's wallets."""
    ring = [register_participant(deployment, f"m{i}", preferred_currency="LETS") for i in range(7)]
    things = [register_thing(deployment, m, f"https://example.org/{i}", f"Work {i}").id for i, m in enumerate(ring)]
    for i, member in enumerate(ring):
        set_budget(deployment, member, Money(str(5 + i), "LETS"))
        flattr(deployment, member, things[(i + 1) % 7])
        flattr(deployment, member, things[(i + 2) % 7])
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    with deployment.engine.connect() as connection:
        received = dict(
            connection.execute(select(receipts.c.creator_id, func.sum(receipts.c.share)).group_by(receipts.c.creator_id)).all()
        )
        given = dict(connection.execute(select(settlements.c.funder_id, settlements.c.amount)).all())
    assert sum(given.values()) == sum(range(500, 1200, 100)) == sum(received.values())
    wallets = holdings(deployment, "LETS")
    assert {purpose for _, purpose in wallets} == {"wallet"}
    assert {f"m{i}": wallets.get((f"m{i}", "wallet"), 0) for i in range(7)} == {
        f"m{i}": received[member] - given[member] for i, member in enumerate(ring)
    }
    ledger_ok(deployment)


def test_the_ledger_check_ties_receipts_to_creators_wallets(deployment):
    """S4 counts a share paid into a wallet as it counts one paid into earnings, and still names a receipt's wrong creator."""
    fan = register_participant(deployment, "fan", preferred_currency="LETS")
    a, b = (register_participant(deployment, handle) for handle in ("a", "b"))
    for owner in (a, b):
        flattr(deployment, fan, register_thing(deployment, owner, f"https://example.org/{owner}", "Work").id)
    set_budget(deployment, fan, Money("10", "LETS"))
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    ledger_ok(deployment)
    with deployment.engine.begin() as connection:
        connection.execute(update(receipts).where(receipts.c.creator_id == a).values(creator_id=b))
        assert sorted(str(breach) for breach in check_ledger(connection)) == [
            f"S4 earnings: 2026-10 creator #{a} LETS: receipts add up to 0, the ledger paid 500 into their earnings",
            f"S4 earnings: 2026-10 creator #{b} LETS: receipts add up to 1000, the ledger paid 500 into their earnings",
        ]
        connection.rollback()


def test_earnings_of_money_without_an_outside_world_from_before_still_check_and_move(deployment, monkeypatch):
    """A period settled into earnings (before shares went to wallets) and one into wallets: one ledger that holds.

    The creator moves the old earnings into their wallet, the one way they ever reach it.
    """
    fan = register_participant(deployment, "fan", preferred_currency="LETS")
    maker = register_participant(deployment, "maker", preferred_currency="LETS")
    thing = register_thing(deployment, maker, "https://example.org/bread", "Bread").id
    flattr(deployment, fan, thing)
    monkeypatch.setattr(batch, "paid_into", lambda unit: Purpose.EARNINGS)  # as settlement was
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    monkeypatch.undo()
    flattr(deployment, fan, thing)
    deployment.clock.set(DECEMBER)
    settle(deployment, parse_period("2026-11", "month"))
    assert holdings(deployment, "LETS") == {("fan", "wallet"): -1000, ("maker", "earnings"): 500, ("maker", "wallet"): 500}
    ledger_ok(deployment)
    move_earnings(deployment, maker, Money("5", "LETS"), key="old earnings")
    assert holdings(deployment, "LETS") == {("fan", "wallet"): -1000, ("maker", "wallet"): 1000}
    ledger_ok(deployment)


# A year of the shipped community deployment: does the money circulate?

COMMUNITY = Path(__file__).resolve().parent.parent / "config" / "examples" / "community.toml"
NEW_YEAR = datetime(2026, 1, 2, 12, tzinfo=UTC)
MEMBERS, IN_HOURS, WITH_WOE = 25, 5, 4  # the last 5 keep time-bank hours; the first 4 also bring in Woergl money


def wallets_in(deployment, code, purpose="wallet"):
    with deployment.engine.connect() as connection:
        rows = connection.execute(
            select(accounts.c.owner_id, accounts.c.balance).where(accounts.c.currency == code, accounts.c.purpose == purpose)
        )
        return dict(rows.all())


def found_community(deployment, rng):
    """25 members, each with one or two things and a budget in their currency; 4 bring in Woergl money (it has a rail)."""
    members, things = [], {}
    for i in range(MEMBERS):
        code = "HOUR" if i >= MEMBERS - IN_HOURS else "LETS"
        member = register_participant(deployment, f"member{i:02d}", preferred_currency=code)
        members.append(member)
        for n in range(rng.randint(1, 2)):
            things[register_thing(deployment, member, f"https://example.org/{i}/{n}", f"Work {i}.{n}").id] = member
        budget = rng.choice((30, 45)) if code == "HOUR" else rng.randint(5, 12) * 100  # minutes, or hundredths
        set_budget(deployment, member, deployment.currencies.money(budget, code))
        if i < WITH_WOE:
            top_up(deployment, member, Money("30.00", "WOE"), "sandbox", key=f"woe-{i}")
            set_budget(deployment, member, Money("2.00", "WOE"))
    return members, things


def a_month(deployment, rng, month, members, things):
    """Flattrs, payments between members, earnings moved to wallets, a refused top-up; how many flattrs were taken, of how many."""
    clicks = []
    for member in members:
        others = [thing for thing, owner in things.items() if owner != member]
        clicks += [Click(member, thing, rng.randint(1, 3)) for thing in rng.sample(others, rng.randint(1, 4))]
    outcomes = flattr_many(deployment, clicks)  # as the API takes them: in one group commit
    refused = [outcome for outcome in outcomes if isinstance(outcome, GatewayError)]
    assert all(isinstance(refusal, NoMeans) for refusal in refused)
    taken, tried = len(outcomes) - len(refused), len(outcomes)
    for n in range(12):  # a member in credit buys a service from another
        code = rng.choice(("LETS", "LETS", "HOUR"))
        held = {owner: balance for owner, balance in wallets_in(deployment, code).items() if balance > 0}
        if not held:
            continue
        payer = rng.choices(list(held), weights=list(held.values()))[0]
        payee = rng.choice([m for m in members if m != payer])
        minor = rng.randint(15, 120) if code == "HOUR" else rng.randint(100, 2000)
        handle = f"member{members.index(payee):02d}"
        try:
            pay(deployment, payer, handle, deployment.currencies.money(minor, code), key=f"pay-{month}-{n}", memo="a service")
        except InsufficientFunds:
            pass
    for creator, earned in wallets_in(deployment, "WOE", "earnings").items():
        if earned > 0 and rng.random() < 0.7:
            move_earnings(deployment, creator, deployment.currencies.money(earned, "WOE"), key=f"move-{month}-{creator}")
            if wallets_in(deployment, "WOE")[creator] >= 200:
                set_budget(deployment, creator, Money("2.00", "WOE"))
    with pytest.raises(NoOutsideWorld):
        top_up(deployment, rng.choice(members), Money("10", "LETS"), "sandbox", key=f"lets-{month}")
    return taken, tried


@pytest.mark.parametrize("seed", range(5))
def test_community_money_circulates_for_a_year(database_url, seed):
    """``community.toml`` for 12 months, 25 members, random activity under a fixed seed.

    From the third month on, at least 90% of each month's flattrs are
    accepted, and the ledger holds after every period. Batches of 4 funders,
    two side by side on PostgreSQL, so that creators' wallets are other
    batches' funders'.
    """
    rng = random.Random(seed)
    settings = load_settings(COMMUNITY, database_url=database_url, settle_batch=4, settle_workers=2)
    deployment = open_deployment(settings, clock=FixedClock(NEW_YEAR))
    try:
        members, things = found_community(deployment, rng)
        for month in range(1, 13):
            period = current_period(deployment)
            taken, tried = a_month(deployment, rng, month, members, things)
            deployment.clock.set(period.ends_at + timedelta(minutes=5))
            settle(deployment, period)
            ledger_ok(deployment)
            if month >= 3:
                assert taken >= 0.9 * tried, f"{period.id}: {taken} of {tried} flattrs accepted"
    finally:
        deployment.close()
