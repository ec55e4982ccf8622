"""Money that moves inside the platform: earnings into one's wallet, payments between members, and no top-up of community money."""

from __future__ import annotations

from collections import Counter

import pytest
from moneyed import Money
from sqlalchemy import func, select

from gateway.core.accounts import system_participant
from gateway.core.check import check_ledger
from gateway.deployment import open_deployment
from gateway.errors import (
    HasOutsideWorld,
    IdempotencyKeyReused,
    InsufficientFunds,
    NoOutsideWorld,
    NotFound,
    ValidationError,
)
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.engine import make_engine
from gateway.storage.schema import top_ups, transactions
from gateway.usecases.identity.roles import freeze
from gateway.usecases.participants import register_participant
from gateway.usecases.transfers import move_earnings, pay
from tests.http_support import member
from tests.support import config, eur, top_up
from tests.test_concurrency import all_at_once
from tests.test_money_flows import balance_of, earnings


def lets(amount: str) -> Money:
    return Money(amount, "LETS")


def count(deployment, kind: str) -> int:
    with deployment.engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(transactions).where(transactions.c.kind == kind)).scalar()


def assert_ledger_ok(deployment):
    with deployment.engine.connect() as connection:
        assert check_ledger(connection) == []


# Earnings into one's own wallet, in any currency.


def test_moving_earnings_is_keyed_and_moves_once(deployment):
    creator = register_participant(deployment, "artist")
    earnings(deployment, creator, "10.00")
    first = move_earnings(deployment, creator, eur("4.00"), key="m")
    again = move_earnings(deployment, creator, eur("4.00"), key="m")
    assert again == first and first.amount == eur("4.00")
    assert (balance_of(deployment, creator, "earnings"), balance_of(deployment, creator, "wallet")) == (600, 400)
    assert count(deployment, "earnings_move") == 1
    with pytest.raises(IdempotencyKeyReused):
        move_earnings(deployment, creator, eur("5.00"), key="m")
    # All that is left moves too; the first request, asked again, still answers as it did.
    move_earnings(deployment, creator, eur("6.00"), key="rest")
    assert move_earnings(deployment, creator, eur("4.00"), key="m") == first
    assert (balance_of(deployment, creator, "earnings"), balance_of(deployment, creator, "wallet")) == (0, 1000)
    assert_ledger_ok(deployment)


def test_moving_more_than_the_earnings_is_refused_and_nothing_moves(deployment):
    creator = register_participant(deployment, "artist")
    earnings(deployment, creator, "10.00")
    with pytest.raises(InsufficientFunds, match="at most 10.00 EUR"):
        move_earnings(deployment, creator, eur("10.01"), key="m")
    with pytest.raises(InsufficientFunds, match="at most 0.00 LETS"):
        move_earnings(deployment, creator, lets("1"), key="n")  # no earnings at all in LETS
    assert balance_of(deployment, creator, "earnings") == 1000 and balance_of(deployment, creator, "wallet") is None
    assert count(deployment, "earnings_move") == 0


# Payments between members, in money without an outside world.


def test_a_member_pays_another_once_per_key(deployment):
    payer = register_participant(deployment, "baker")
    payee = register_participant(deployment, "miller")
    first = pay(deployment, payer, "miller", lets("30"), key="p", memo="  flour  ")
    assert pay(deployment, payer, "miller", lets("30"), key="p", memo="flour") == first
    assert (first.payee, first.amount, first.memo) == ("miller", lets("30"), "flour")
    assert (balance_of(deployment, payer, "wallet", "LETS"), balance_of(deployment, payee, "wallet", "LETS")) == (-3000, 3000)
    with deployment.engine.connect() as connection:
        assert connection.execute(select(transactions.c.meta).where(transactions.c.kind == "payment")).scalar() == {
            "memo": "flour"
        }
    with pytest.raises(IdempotencyKeyReused):
        pay(deployment, payer, "miller", lets("31"), key="p")
    pay(deployment, payer, "miller", Money("1.5", "HOUR"), key="h")  # an hour and a half, from the payer's credit
    assert balance_of(deployment, payee, "wallet", "HOUR") == 90
    assert_ledger_ok(deployment)


def test_a_payment_goes_down_to_the_credit_floor_and_no_further(deployment):
    payer = register_participant(deployment, "baker")
    register_participant(deployment, "miller")
    pay(deployment, payer, "miller", lets("99.99"), key="most")
    before = count(deployment, "payment")
    with pytest.raises(InsufficientFunds, match="at most 0.01 LETS"):
        pay(deployment, payer, "miller", lets("0.02"), key="past")
    assert count(deployment, "payment") == before and balance_of(deployment, payer, "wallet", "LETS") == -9999
    pay(deployment, payer, "miller", lets("0.01"), key="last")  # to the floor itself (credit_limit = 100)
    assert balance_of(deployment, payer, "wallet", "LETS") == -10000
    assert_ledger_ok(deployment)


@pytest.mark.parametrize(
    "payee, amount, code, error",
    [
        ("miller", "1.00", "EUR", HasOutsideWorld),  # EUR comes from outside: it goes by flattrs
        ("miller", "1.00", "WOE", HasOutsideWorld),  # demurrage money too
        ("baker", "1", "LETS", ValidationError),  # oneself
        ("nobody", "1", "LETS", NotFound),
        ("community-fund", "1", "LETS", NotFound),  # a system participant is no member
        ("frozen", "1", "LETS", ValidationError),
        ("not a handle", "1", "LETS", ValidationError),
        ("miller", "0", "LETS", ValidationError),
    ],
)
def test_refused_payments_write_nothing(deployment, payee, amount, code, error):
    payer = register_participant(deployment, "baker")
    top_up(deployment, payer, eur("10.00"), "sandbox", key="t")
    register_participant(deployment, "miller")
    freeze(deployment, register_participant(deployment, "frozen"))
    with deployment.engine.begin() as connection:
        system_participant(connection, "community-fund", deployment.clock.now())
    with pytest.raises(error):
        pay(deployment, payer, payee, Money(amount, code), key="p")
    assert count(deployment, "payment") == 0
    assert balance_of(deployment, payer, "wallet", "LETS") is None


def test_a_frozen_payer_pays_nobody(deployment):
    payer = register_participant(deployment, "baker")
    register_participant(deployment, "miller")
    freeze(deployment, payer)
    with pytest.raises(ValidationError, match="frozen"):
        pay(deployment, payer, "miller", lets("1"), key="p")


@pytest.fixture
def wide(deployment):
    """The same deployment with a connection for each of 40 threads, so that they really run at once."""
    engine = make_engine(deployment.settings.database_url, pool_size=45, max_overflow=0)
    wide = open_deployment(deployment.settings, clock=deployment.clock, engine=engine)
    yield wide
    wide.close()


def test_moves_and_payments_at_once_never_overdraw(wide):
    """Twenty moves of one euro from ten; forty payments both ways between two members: locks, then the floor."""
    creator = register_participant(wide, "artist")
    earnings(wide, creator, "10.00")
    moved = all_at_once(20, lambda i: move_earnings(wide, creator, eur("1.00"), key=f"m{i}").amount)
    assert Counter(moved) == {eur("1.00"): 10, "insufficient_funds": 10}
    assert (balance_of(wide, creator, "earnings"), balance_of(wide, creator, "wallet")) == (0, 1000)
    a, b = register_participant(wide, "a"), register_participant(wide, "b")
    paid = all_at_once(40, lambda i: pay(wide, (a, b)[i % 2], ("b", "a")[i % 2], lets("30"), key=f"p{i}").payee)
    assert set(paid) <= {"a", "b", "insufficient_funds"} and paid.count("a") + paid.count("b") >= 6
    assert balance_of(wide, a, "wallet", "LETS") + balance_of(wide, b, "wallet", "LETS") == 0
    assert min(balance_of(wide, a, "wallet", "LETS"), balance_of(wide, b, "wallet", "LETS")) >= -10000
    assert_ledger_ok(wide)


# No top-up where there is no outside world.


@pytest.mark.parametrize("code", ["LETS", "HOUR"])
def test_community_money_cannot_be_topped_up(deployment_factory, code):
    data = config()
    data["rails"]["sandbox"]["currencies"] += ["LETS", "HOUR"]  # even a rail that says it takes them
    deployment = deployment_factory(data)
    funder = register_participant(deployment, "fan")
    with pytest.raises(NoOutsideWorld, match="no outside world"):
        top_up(deployment, funder, Money("5", code), "sandbox", key="k")
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(top_ups)).scalar() == 0
    assert balance_of(deployment, funder, "wallet", code) is None


# Over HTTP.


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


async def post(client, path, user, body, key):
    response = await client.post(path, json=body, headers={**user.auth, "Idempotency-Key": key})
    return response.status, await response.json()


async def test_earnings_moves_and_payments_over_http(client, deployment):
    artist = member(deployment, "artist")
    baker = member(deployment, "baker")
    earnings(deployment, artist.id, "10.00")

    move = {"amount": {"amount": "2.50", "currency": "EUR"}}
    first = await post(client, "/api/v1/me/earnings-moves", artist, move, "m1")
    assert first[0] == 201 and first[1]["amount"] == move["amount"]
    assert await post(client, "/api/v1/me/earnings-moves", artist, move, "m1") == first
    assert balance_of(deployment, artist.id, "wallet") == 250 and count(deployment, "earnings_move") == 1
    status, body = await post(
        client, "/api/v1/me/earnings-moves", artist, {"amount": {"amount": "7.51", "currency": "EUR"}}, "m2"
    )
    assert (status, body["type"]) == (402, "insufficient_funds")

    payment = {"payee": "artist", "amount": {"amount": "12.00", "currency": "LETS"}, "memo": "bread"}
    status, body = await post(client, "/api/v1/me/payments", baker, payment, "p1")
    assert status == 201 and body["payee"] == "artist" and body["memo"] == "bread"
    assert balance_of(deployment, artist.id, "wallet", "LETS") == 1200
    in_euros = {**payment, "amount": {"amount": "1.00", "currency": "EUR"}}
    status, body = await post(client, "/api/v1/me/payments", baker, in_euros, "p2")
    assert (status, body["type"]) == (422, "has_outside_world")
    too_much = {**payment, "amount": {"amount": "88.01", "currency": "LETS"}}
    status, body = await post(client, "/api/v1/me/payments", baker, too_much, "p3")
    assert (status, body["type"]) == (402, "insufficient_funds")

    status, body = await post(client, "/api/v1/me/top-ups", baker, {"amount": {"amount": "5", "currency": "LETS"}}, "t1")
    assert (status, body["type"]) == (422, "no_outside_world")
    assert_ledger_ok(deployment)
