"""Whole journeys over real HTTP (aiohttp's test server on 127.0.0.1), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from tests.http_support import operator, settle_and_wait, sign_up
from tests.support import NOVEMBER, config


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


def money(amount, currency="EUR"):
    return {"amount": amount, "currency": currency}


async def post(client, path, user, body=None, key=None, expect=None):
    headers = dict(user.auth)
    if key:
        headers["Idempotency-Key"] = key
    response = await client.post(path, json=body if body is not None else {}, headers=headers)
    if expect is not None:
        assert response.status == expect, await response.text()
    return response


async def test_fund_flattr_settle_receipts_withdraw(client, deployment, outbox):
    fan = await sign_up(client, outbox, "fan")
    artist = await sign_up(client, outbox, "artist", currency="USD")
    boss = await operator(client, outbox, deployment)

    thing = await (
        await post(
            client,
            "/api/v1/things",
            artist,
            {
                "url": "https://artist.example/song",
                "title": "A song",
                "language": "en",
                "category": "music",
                "tags": ["Folk"],
            },
            expect=201,
        )
    ).json()
    assert thing["tags"] == ["folk"] and thing["owner"] == "artist"

    top = await (await post(client, "/api/v1/me/top-ups", fan, {"amount": money("20.00")}, key="t1", expect=201)).json()
    assert top["status"] == "succeeded" and top["amount"] == money("20.00")
    budget = await client.put("/api/v1/me/budgets/EUR", json={"amount": "10.00"}, headers=fan.auth)
    assert budget.status == 200 and await budget.json() == money("10.00")

    flattred = await (await post(client, f"/api/v1/things/{thing['id']}/flattr", fan, {}, expect=200)).json()
    assert flattred == {"period": "2026-10", "thing_id": thing["id"], "points": 1}
    again = await post(client, f"/api/v1/things/{thing['id']}/flattr", fan, {})
    assert again.status == 409 and (await again.json())["type"] == "already_flattred"
    assert again.content_type == "application/problem+json"

    deployment.clock.set(NOVEMBER)
    report = await settle_and_wait(client, boss, "2026-10", key="s1")
    assert report["status"] == "closed" and report["creators"] == [{"handle": "artist", "earned": money("9.00"), "funders": 1}]

    receipts = await (await client.get("/api/v1/me/receipts?period=2026-10", headers=fan.auth)).json()
    (receipt,) = receipts["items"]
    assert receipt["fee"] == money("1.00") and receipt["lines"][0]["share"] == money("9.00")

    paid = await (await post(client, "/api/v1/me/withdrawals", artist, {"amount": money("9.00")}, key="w1", expect=201)).json()
    assert paid["status"] == "succeeded" and paid["payout"] == money("10.05", "USD")
    assert paid["rate"]["value"] == "1.1172" and paid["rate"]["date"] == "2026-10-30"
    balances = await (await client.get("/api/v1/me/balances", headers=artist.auth)).json()
    assert {b["purpose"]: b["balance"] for b in balances["items"]}["earnings"] == money("0.00")

    check = await (await client.get("/api/v1/operator/ledger-check", headers=boss.auth)).json()
    assert check == {"ok": True, "breaches": []}


async def test_weighted_points_and_a_community_currency(deployment_factory, aiohttp_client, outbox):
    deployment = deployment_factory(config(weighted_points=True, max_points=3))
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))
    member = await sign_up(client, outbox, "member", currency="LETS")
    baker = await sign_up(client, outbox, "baker", currency="LETS")
    boss = await operator(client, outbox, deployment)
    bread = await (
        await post(client, "/api/v1/things", baker, {"url": "https://baker.example/bread", "title": "Bread"}, expect=201)
    ).json()
    cake = await (
        await post(client, "/api/v1/things", baker, {"url": "https://baker.example/cake", "title": "Cake"}, expect=201)
    ).json()
    budget = await client.put("/api/v1/me/budgets/LETS", json={"amount": "30"}, headers=member.auth)
    assert budget.status == 200, await budget.text()
    await post(client, f"/api/v1/things/{bread['id']}/flattr", member, {"points": 1}, expect=200)
    three = await (await post(client, f"/api/v1/things/{cake['id']}/flattr", member, {"points": 2}, expect=200)).json()
    assert three["points"] == 2
    deployment.clock.set(NOVEMBER)
    await settle_and_wait(client, boss, key="s")
    receipts = await (await client.get("/api/v1/me/receipts?period=2026-10", headers=member.auth)).json()
    assert [line["share"] for line in receipts["items"][0]["lines"]] == [money("10.00", "LETS"), money("20.00", "LETS")]
    balances = await (await client.get("/api/v1/me/balances", headers=member.auth)).json()
    assert balances["items"] == [{"purpose": "wallet", "balance": money("-30.00", "LETS"), "available": money("70.00", "LETS")}]


async def test_subscriptions_over_http(client, deployment, outbox):
    fan = await sign_up(client, outbox, "fan")
    artist = await sign_up(client, outbox, "artist")
    thing = await (await post(client, "/api/v1/things", artist, {"url": "https://a.example/x", "title": "X"}, expect=201)).json()
    await post(client, "/api/v1/me/top-ups", fan, {"amount": money("20.00")}, key="t", expect=201)
    created = await client.put(f"/api/v1/me/subscriptions/{thing['id']}", json={"points": 1, "periods": 3}, headers=fan.auth)
    assert (await created.json())["status"] == "active"
    paused = await post(client, f"/api/v1/me/subscriptions/{thing['id']}/pause", fan, expect=200)
    assert (await paused.json())["status"] == "paused"
    resumed = await post(client, f"/api/v1/me/subscriptions/{thing['id']}/resume", fan, expect=200)
    assert (await resumed.json())["status"] == "active"
    cancelled = await client.delete(f"/api/v1/me/subscriptions/{thing['id']}", headers=fan.auth)
    assert (await cancelled.json())["status"] == "cancelled"
    listed = await (await client.get("/api/v1/me/subscriptions", headers=fan.auth)).json()
    assert [s["status"] for s in listed["items"]] == ["cancelled"]
