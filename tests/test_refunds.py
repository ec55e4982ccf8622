"""An operator's refunds of top-ups, through the tests' third-party rail, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from moneyed import Money

from gateway.errors import Conflict, ValidationError
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.participants import register_participant
from gateway.usecases.rails_sync import sync
from gateway.usecases.refund import refund_top_up
from gateway.usecases.top_up import top_up
from tests.http_support import member
from tests.rail_support import provider_state, script
from tests.support import balance, ledger_holds


def eur(amount):
    return Money(amount, "EUR")


async def funded(railed, amount="10.00"):
    fan = register_participant(railed, "fan")
    operator = register_participant(railed, "op")
    paid = await top_up(railed, fan, eur(amount), "scripted", key="t")
    return fan, operator, paid


async def test_a_whole_refund_empties_the_wallet_and_marks_the_top_up(railed, provider):
    fan, operator, paid = await funded(railed)
    refund = await refund_top_up(railed, operator, paid.id, None, key="r")
    assert (refund.status, refund.amount) == ("succeeded", eur("10.00"))
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "outgoing")) == (0, 0)
    assert provider_state(provider, f"refund:{refund.id}")["payment"] == paid.rail_reference
    again = await refund_top_up(railed, operator, paid.id, None, key="r")  # the same key: the same refund
    assert again.id == refund.id and balance(railed, fan, "wallet") == 0
    ledger_holds(railed)
    with pytest.raises(Conflict):  # refunded: nothing left to give back
        await refund_top_up(railed, operator, paid.id, None, key="r2")


async def test_only_what_is_still_in_the_wallet_goes_back(railed, provider):
    fan, operator, paid = await funded(railed)
    artist = register_participant(railed, "artist")
    given = 600  # settlement gave 6.00 of it to a creator: that part is theirs
    from gateway.core.accounts import account
    from gateway.core.ledger import Entry, Leg, post

    unit = railed.currencies.get("EUR")
    with railed.engine.begin() as connection:
        legs = (Leg(account(connection, fan, "wallet", unit), -given), Leg(account(connection, artist, "earnings", unit), given))
        post(connection, Entry("settlement", legs), railed.clock.now())
    with pytest.raises(ValidationError, match="at most 4.00"):
        await refund_top_up(railed, operator, paid.id, eur("5.00"), key="too-much")
    part = await refund_top_up(railed, operator, paid.id, None, key="r")
    assert (part.status, part.amount) == ("succeeded", eur("4.00"))
    assert balance(railed, fan, "wallet") == 0 and balance(railed, artist, "earnings") == given
    ledger_holds(railed)


async def test_a_refund_the_provider_did_not_answer_is_finished_by_the_janitor(railed, provider):
    fan, operator, paid = await funded(railed)
    script(provider, "lost")
    refund = await refund_top_up(railed, operator, paid.id, eur("3.00"), key="r")
    assert refund.status == "unknown"
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "outgoing")) == (700, 300)  # in flight
    report = await sync(railed)
    assert report.refunds == {"succeeded": 1}
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "outgoing")) == (700, 0)
    ledger_holds(railed)


async def test_a_refund_the_provider_refuses_gives_the_money_back_to_the_wallet(railed, provider):
    fan, operator, paid = await funded(railed)
    script(provider, "failed")
    refund = await refund_top_up(railed, operator, paid.id, eur("3.00"), key="r")
    assert refund.status == "failed"
    assert (balance(railed, fan, "wallet"), balance(railed, fan, "outgoing")) == (1000, 0)
    ledger_holds(railed)


@pytest.fixture
async def client(railed, aiohttp_client):
    return await aiohttp_client(create_app(railed, limiter=MemoryLimiter()))


async def test_refunds_are_the_operators_over_http(client, railed, provider):
    fan = member(railed, "fan")
    boss = member(railed, "boss", role="operator")
    paid = await top_up(railed, fan.id, eur("8.00"), "scripted", key="t")
    path = f"/api/v1/operator/top-ups/{paid.id}/refund"
    refused = await client.post(path, json={}, headers={**fan.auth, "Idempotency-Key": "r"})
    assert refused.status == 403
    made = await client.post(
        path, json={"amount": {"amount": "2.50", "currency": "EUR"}}, headers={**boss.auth, "Idempotency-Key": "r"}
    )
    assert made.status == 201, await made.text()
    body = await made.json()
    assert (body["status"], body["amount"]["amount"]) == ("succeeded", "2.50")
    replay = await client.post(
        path, json={"amount": {"amount": "2.50", "currency": "EUR"}}, headers={**boss.auth, "Idempotency-Key": "r"}
    )
    assert (await replay.json())["id"] == body["id"] and balance(railed, fan.id, "wallet") == 550
    missing = await client.post("/api/v1/operator/top-ups/999999/refund", json={}, headers={**boss.auth, "Idempotency-Key": "x"})
    assert missing.status == 404
