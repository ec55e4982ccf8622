"""The chargeback hold, and recovery when a top-up is taken back after its money was split.

The card rail here is the tests' third-party rail with ``hold_days = 60``;
the clock is fixed, so a hold ends exactly on its date.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from moneyed import Money
from sqlalchemy import select

from gateway.core.periods import parse_period
from gateway.errors import EarningsHeld
from gateway.storage.schema import participants, recoveries
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.holds import held_earnings
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement import settle
from gateway.usecases.things import register_thing
from gateway.usecases.top_up import refresh_top_up, top_up
from gateway.usecases.withdraw import withdraw
from tests.rail_support import scripted_options, set_provider_state
from tests.support import NOVEMBER, balance, config, ledger_holds, payable

OCTOBER = parse_period("2026-10", "month")
HOLD = 60


def eur(amount):
    return Money(amount, "EUR")


@pytest.fixture
def carded(deployment_factory, scripted_rail_path, provider):
    data = config()
    data["rails"]["scripted"] = {**scripted_options(provider), "hold_days": HOLD}
    return deployment_factory(data)


async def settled_october(deployment, fan_amount="10.00", rail="scripted"):
    """A fan tops up by card, gives 10.00 to two things of two creators, and October settles."""
    ids = {"fan": register_participant(deployment, "fan"), **{h: payable(deployment, h) for h in ("ann", "bob")}}
    paid = await top_up(deployment, ids["fan"], eur(fan_amount), rail, key="card")
    set_budget(deployment, ids["fan"], eur("10.00"))
    for creator in ("ann", "bob"):
        flattr(deployment, ids["fan"], register_thing(deployment, ids[creator], f"https://{creator}.example/", creator).id)
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    return ids, paid


async def test_card_funded_earnings_are_held_until_their_date(carded):
    ids, _ = await settled_october(carded)
    assert balance(carded, ids["ann"], "earnings") == 450  # 10.00 less the 10% fee, halved
    (part,) = held_earnings(carded, ids["ann"])
    assert (part.period, part.amount) == ("2026-10", 450)
    free_on = part.free_on
    assert free_on.date() == (NOVEMBER + timedelta(days=HOLD)).date()

    with pytest.raises(EarningsHeld) as refused:
        await withdraw(carded, ids["ann"], eur("4.50"), "sandbox", key="early")
    assert refused.value.details["free_on"] == free_on.isoformat()
    assert balance(carded, ids["ann"], "earnings") == 450 and balance(carded, ids["ann"], "payout") == 0

    carded.clock.set(free_on - timedelta(seconds=1))
    with pytest.raises(EarningsHeld):
        await withdraw(carded, ids["ann"], eur("4.50"), "sandbox", key="almost")
    carded.clock.set(free_on)
    assert held_earnings(carded, ids["ann"]) == []
    done = await withdraw(carded, ids["ann"], eur("4.50"), "sandbox", key="on-time")
    assert done.status == "succeeded" and balance(carded, ids["ann"], "earnings") == 0
    ledger_holds(carded)


async def test_the_creator_sees_each_held_part_over_http(carded, aiohttp_client):
    from gateway.http.app import create_app
    from gateway.http.ratelimit import MemoryLimiter
    from tests.http_support import member

    await settled_october(carded)
    ann = member(carded, "ann-viewer")
    client = await aiohttp_client(create_app(carded, limiter=MemoryLimiter()))
    assert (await (await client.get("/api/v1/me/earnings/held", headers=ann.auth)).json()) == {"items": []}
    with carded.engine.connect() as connection:
        ann_id = connection.execute(select(participants.c.id).where(participants.c.handle == "ann")).scalar_one()
    from gateway.usecases.identity.tokens import create_access_token

    _, token = create_access_token(carded, ann_id, "t", ["read"])
    answer = await client.get("/api/v1/me/earnings/held", headers={"Authorization": f"Bearer {token}"})
    (item,) = (await answer.json())["items"]
    assert (item["period"], item["amount"]) == ("2026-10", {"amount": "4.50", "currency": "EUR"})
    assert item["free_on"].startswith((NOVEMBER + timedelta(days=HOLD)).date().isoformat())


async def test_held_earnings_cannot_move_to_the_wallet_either(carded):
    from gateway.usecases.transfers import move_earnings

    ids, _ = await settled_october(carded)
    with pytest.raises(EarningsHeld):
        move_earnings(carded, ids["ann"], eur("0.01"), key="m")
    assert balance(carded, ids["ann"], "wallet") == 0
    carded.clock.set(NOVEMBER + timedelta(days=HOLD))
    move_earnings(carded, ids["ann"], eur("4.50"), key="m")
    assert (balance(carded, ids["ann"], "wallet"), balance(carded, ids["ann"], "earnings")) == (450, 0)
    ledger_holds(carded)


async def test_earnings_from_a_rail_without_a_hold_leave_at_once(carded):
    ids, _ = await settled_october(carded, rail="sandbox")
    assert held_earnings(carded, ids["ann"]) == []
    assert (await withdraw(carded, ids["ann"], eur("4.50"), "sandbox", key="w")).status == "succeeded"


async def test_a_dispute_after_settlement_takes_back_from_the_wallet_then_the_creators(carded, provider):
    ids, paid = await settled_october(carded, fan_amount="12.00")  # 2.00 still in the wallet after the 10.00 budget
    set_provider_state(provider, f"top_up:{paid.id}", "disputed")
    disputed = await refresh_top_up(carded, paid.id)
    assert disputed.status == "disputed"
    # 12.00 taken back: 2.00 from the wallet, then 9.00 from the creators in proportion; the fee's 1.00 is the platform's loss.
    assert balance(carded, ids["fan"], "wallet") == 0
    assert (balance(carded, ids["ann"], "earnings"), balance(carded, ids["bob"], "earnings")) == (0, 0)
    assert balance(carded, platform(carded), "loss") == -100
    assert held_earnings(carded, ids["ann"]) == []  # nothing left to hold
    ledger_holds(carded)

    set_provider_state(provider, f"top_up:{paid.id}", "succeeded")  # the dispute was won
    won = await refresh_top_up(carded, paid.id)
    assert won.status == "succeeded"
    assert balance(carded, ids["fan"], "wallet") == 200
    assert (balance(carded, ids["ann"], "earnings"), balance(carded, ids["bob"], "earnings")) == (450, 450)
    assert balance(carded, platform(carded), "loss") == 0
    with carded.engine.connect() as connection:
        assert all(row.returned_at is not None for row in connection.execute(select(recoveries)))
    ledger_holds(carded)


async def test_what_a_creator_already_withdrew_is_the_platforms_loss(carded, provider):
    ids, paid = await settled_october(carded)
    carded.clock.set(NOVEMBER + timedelta(days=HOLD))
    await withdraw(carded, ids["bob"], eur("4.50"), "sandbox", key="gone")  # free by now, and gone
    set_provider_state(provider, f"top_up:{paid.id}", "refunded")  # refunded at the provider, outside the gateway
    taken = await refresh_top_up(carded, paid.id)
    assert taken.status == "refunded"
    assert balance(carded, ids["ann"], "earnings") == 0
    assert balance(carded, platform(carded), "loss") == -(450 + 100)  # bob's part and the fee
    ledger_holds(carded)


def platform(deployment):
    with deployment.engine.connect() as connection:
        return connection.execute(select(participants.c.id).where(participants.c.handle == "platform")).scalar_one()
