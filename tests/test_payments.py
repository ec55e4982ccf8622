"""Payments in flight: the state machine, two-phase top-ups, unknown answers, the janitor and webhooks.

The provider is the tests' own third-party rail (``tests/rails/scripted``),
installed as a package; its provider is a folder of files that the tests
script, so what the provider did is known apart from what we recorded.
"""

from __future__ import annotations

import logging
from itertools import product

import pytest
from moneyed import Money
from sqlalchemy import select

from adapters import Outcome, PaymentState
from gateway.core.states import may_move
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.schema import rail_events
from gateway.usecases.participants import register_participant
from gateway.usecases.rails_sync import sync
from gateway.usecases.top_up import record_top_up, refresh_top_up, top_up
from gateway.usecases.withdraw import withdraw
from tests.http_support import member
from tests.rail_support import provider_state, script, set_provider_state, signed
from tests.support import balance, ledger_holds, payable

S = PaymentState
# The state machine, written out again by hand: the code's table must agree with it, pair by pair.
ALLOWED = {
    S.CREATED: {S.CREATED, S.REQUIRES_ACTION, S.PROCESSING, S.UNKNOWN, S.SUCCEEDED, S.FAILED},
    S.UNKNOWN: {S.CREATED, S.REQUIRES_ACTION, S.PROCESSING, S.UNKNOWN, S.SUCCEEDED, S.FAILED},
    S.REQUIRES_ACTION: {S.REQUIRES_ACTION, S.PROCESSING, S.UNKNOWN, S.SUCCEEDED, S.FAILED},
    S.PROCESSING: {S.REQUIRES_ACTION, S.PROCESSING, S.UNKNOWN, S.SUCCEEDED, S.FAILED},
    S.SUCCEEDED: {S.SUCCEEDED, S.REFUNDED, S.DISPUTED},
    S.DISPUTED: {S.DISPUTED, S.SUCCEEDED, S.REFUNDED},
    S.REFUNDED: {S.REFUNDED},
    S.FAILED: {S.FAILED},
}


@pytest.mark.parametrize(("current", "new"), list(product(PaymentState, PaymentState)))
def test_the_state_machine_allows_exactly_its_moves(current, new):
    assert may_move(current, new) == (new in ALLOWED[current])


def eur(amount):
    return Money(amount, "EUR")


async def test_a_top_up_credits_the_wallet_only_when_the_provider_confirms_it(railed, provider):
    fan = register_participant(railed, "fan")
    script(provider, "requires_action")
    pending = await top_up(railed, fan, eur("10.00"), "scripted", key="k")
    assert pending.status == "requires_action" and pending.next_action["type"] == "redirect"
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "incoming")) == (0, 1000)  # in flight, not spendable

    set_provider_state(provider, f"top_up:{pending.id}", "succeeded")  # the funder passed 3-D Secure
    done = await refresh_top_up(railed, pending.id)
    assert done.status == "succeeded" and done.next_action is None and done.fee == eur("0.30")
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "incoming")) == (1000, 0)
    # The platform pays the provider's fee: the funder's budget is what they put in.
    platform_fee = balance(railed, register_participant_id(railed, "platform"), "provider_fee")
    assert platform_fee == -30
    ledger_holds(railed)


def register_participant_id(deployment, handle):
    from gateway.storage.schema import participants

    with deployment.engine.connect() as connection:
        return connection.execute(select(participants.c.id).where(participants.c.handle == handle)).scalar_one()


async def test_a_refused_top_up_gives_the_money_in_flight_back(railed, provider):
    fan = register_participant(railed, "fan")
    script(provider, "failed")
    result = await top_up(railed, fan, eur("10.00"), "scripted", key="k")
    assert result.status == "failed" and "declined" in result.error
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "incoming")) == (0, 0)
    ledger_holds(railed)


async def test_a_lost_answer_is_unknown_and_the_same_key_finishes_it_charging_once(railed, provider):
    fan = register_participant(railed, "fan")
    script(provider, "lost")  # the provider charged, but its answer timed out
    first = await top_up(railed, fan, eur("7.00"), "scripted", key="k")
    assert first.status == "unknown" and balance(railed, fan, "wallet") == 0
    assert provider_state(provider, f"top_up:{first.id}")["state"] == "succeeded"

    again = await top_up(railed, fan, eur("7.00"), "scripted", key="k")
    assert (again.id, again.status) == (first.id, "succeeded")
    assert balance(railed, fan, "wallet") == 700  # once
    assert sorted(p.name for p in provider.glob("top_up_*.json")) == [f"top_up_{first.id}.json"]  # charged once
    ledger_holds(railed)


async def test_the_janitor_asks_about_everything_in_flight(railed, provider):
    fan = register_participant(railed, "fan")
    artist = payable(railed, "artist")
    await top_up(railed, artist, eur("20.00"), "scripted", key="seed")
    move_to_earnings(railed, artist, 1500)
    script(provider, "lost", "down", "processing")
    lost = await top_up(railed, fan, eur("3.00"), "scripted", key="a")
    unreached = await top_up(railed, fan, eur("4.00"), "scripted", key="b")
    paying = await withdraw(railed, artist, eur("5.00"), "scripted", key="w")
    assert (lost.status, unreached.status, paying.status) == ("unknown", "unknown", "processing")
    assert provider_state(provider, f"top_up:{unreached.id}") is None  # never reached the provider
    set_provider_state(provider, f"withdrawal:{paying.id}", "succeeded")

    report = await sync(railed)
    assert report.top_ups == {"succeeded": 2} and report.withdrawals == {"succeeded": 1} and report.errors == []
    assert balance(railed, fan, "wallet") == 700
    assert (balance(railed, artist, "earnings"), balance(railed, artist, "payout")) == (1000, 0)
    again = await sync(railed)  # nothing left in flight: a second run asks nobody
    assert again.top_ups == {} and again.withdrawals == {}
    ledger_holds(railed)


def move_to_earnings(deployment, creator, minor):
    """Earnings the way settlement makes them: a balanced transaction from the creator's wallet."""
    from gateway.core.accounts import account
    from gateway.core.ledger import Entry, Leg, post

    unit = deployment.currencies.get("EUR")
    with deployment.engine.begin() as connection:
        legs = (
            Leg(account(connection, creator, "wallet", unit), -minor),
            Leg(account(connection, creator, "earnings", unit), minor),
        )
        post(connection, Entry("settlement", legs), deployment.clock.now())


async def test_a_payout_that_fails_or_comes_back_returns_to_earnings(railed, provider):
    artist = payable(railed, "artist")
    await top_up(railed, artist, eur("20.00"), "scripted", key="seed")
    move_to_earnings(railed, artist, 2000)
    script(provider, "processing")
    failing = await withdraw(railed, artist, eur("5.00"), "scripted", key="w1")
    assert (balance(railed, artist, "earnings"), balance(railed, artist, "payout")) == (1500, 500)
    set_provider_state(provider, f"withdrawal:{failing.id}", "failed")
    await sync(railed)
    assert (balance(railed, artist, "earnings"), balance(railed, artist, "payout")) == (2000, 0)

    paid = await withdraw(railed, artist, eur("8.00"), "scripted", key="w2")
    assert paid.status == "succeeded" and balance(railed, artist, "earnings") == 1200
    set_provider_state(provider, f"withdrawal:{paid.id}", "refunded")  # the transfer was reversed
    from gateway.usecases.withdraw import refresh_withdrawal

    back = await refresh_withdrawal(railed, paid.id)
    assert back.status == "refunded" and balance(railed, artist, "earnings") == 2000
    ledger_holds(railed)


async def test_a_move_the_state_machine_forbids_is_logged_and_not_applied(railed, provider, caplog):
    fan = register_participant(railed, "fan")
    done = await top_up(railed, fan, eur("5.00"), "scripted", key="k")
    with caplog.at_level(logging.WARNING, logger="gateway.payments"):
        after = record_top_up(railed, done.id, Outcome(PaymentState.FAILED, error="late news"))
    assert after.status == "succeeded" and after.error is None
    assert balance(railed, fan, "wallet") == 500
    assert "succeeded -> failed refused" in caplog.text
    ledger_holds(railed)


async def test_a_top_up_of_a_currency_the_rail_does_not_take_is_refused(railed):
    from gateway.errors import CurrencyNotEnabled

    fan = register_participant(railed, "fan")
    with pytest.raises(CurrencyNotEnabled):
        await top_up(railed, fan, Money("5.00", "USD"), "scripted", key="k")


@pytest.fixture
async def client(railed, aiohttp_client):
    return await aiohttp_client(create_app(railed, limiter=MemoryLimiter()))


def event(event_id, operation, subject="top_up", type_="payment.updated"):
    return {"id": event_id, "type": type_, "subject": subject, "operation": operation, "reference": None}


async def test_webhooks_are_verified_kept_once_and_taken_as_hints(client, railed, provider):
    fan = member(railed, "fan")
    script(provider, "processing")
    response = await client.post(
        "/api/v1/me/top-ups",
        json={"amount": {"amount": "6.00", "currency": "EUR"}, "rail": "scripted"},
        headers={**fan.auth, "Idempotency-Key": "k"},
    )
    assert response.status == 201, await response.text()
    top_up_id = (await response.json())["id"]
    operation = f"top_up:{top_up_id}"
    hook = "/api/v1/rails/scripted/webhooks"

    body, headers = signed(event("evt_1", operation))
    forged = await client.post(hook, data=body, headers={**headers, "X-Scripted-Signature": "0" * 64})
    assert forged.status == 400 and (await forged.json())["type"].endswith("webhook_refused")
    unsigned = await client.post(hook, data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status == 400
    assert balance(railed, fan.id, "wallet") == 0

    set_provider_state(provider, operation, "succeeded")
    applied = await client.post(hook, data=body, headers=headers)
    assert (applied.status, (await applied.json())["result"]) == (200, "applied")
    assert balance(railed, fan.id, "wallet") == 600
    replayed = await client.post(hook, data=body, headers=headers)
    assert (await replayed.json())["result"] == "duplicate"

    # A late event of an earlier state, after success: the provider is asked, and says succeeded; nothing moves.
    late, late_headers = signed(event("evt_0", operation, type_="payment.processing"))
    assert (await (await client.post(hook, data=late, headers=late_headers)).json())["result"] == "applied"
    assert balance(railed, fan.id, "wallet") == 600
    with railed.engine.connect() as connection:
        assert connection.execute(select(rail_events.c.event_id).order_by(rail_events.c.event_id)).scalars().all() == [
            "evt_0",
            "evt_1",
        ]
    ledger_holds(railed)


async def test_the_funder_asks_again_after_an_approval(client, railed, provider):
    fan = member(railed, "fan")
    stranger = member(railed, "stranger")
    script(provider, "requires_action")
    response = await client.post(
        "/api/v1/me/top-ups",
        json={"amount": {"amount": "6.00", "currency": "EUR"}, "rail": "scripted"},
        headers={**fan.auth, "Idempotency-Key": "k"},
    )
    created = await response.json()
    assert created["status"] == "requires_action" and created["next_action"]["type"] == "redirect"
    set_provider_state(provider, f"top_up:{created['id']}", "succeeded")
    refresh = f"/api/v1/me/top-ups/{created['id']}/refresh"
    assert (await client.post(refresh, json={}, headers=stranger.auth)).status == 404  # not theirs
    answer = await client.post(refresh, json={}, headers=fan.auth)
    assert answer.status == 200 and (await answer.json())["status"] == "succeeded"
    assert balance(railed, fan.id, "wallet") == 600
