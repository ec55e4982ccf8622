"""``/metrics`` counts the calls to each rail's provider by outcome, and the payments in flight by state."""

from __future__ import annotations

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from tests.http_support import member
from tests.rail_support import script
from tests.test_metrics import parse, value


async def top_up(client, user, amount, key, rail="scripted"):
    response = await client.post(
        "/api/v1/me/top-ups",
        json={"amount": {"amount": amount, "currency": "EUR"}, "rail": rail},
        headers={**user.auth, "Idempotency-Key": key},
    )
    assert response.status == 201, await response.text()
    return await response.json()


async def test_rail_calls_and_payments_in_flight_are_counted(railed, provider, aiohttp_client):
    client = await aiohttp_client(create_app(railed, limiter=MemoryLimiter()))
    boss = member(railed, "boss", role="operator")
    fan = member(railed, "fan")

    async def scrape():
        response = await client.get("/metrics", headers=boss.auth)
        assert response.status == 200
        return parse(await response.text())

    before = await scrape()
    script(provider, "succeeded", "failed", "processing", "down")
    for n in range(4):
        await top_up(client, fan, "3.00", key=f"k{n}")
    after = await scrape()

    def counted(outcome):
        labels = {"rail": "scripted", "call": "start_top_up", "outcome": outcome}
        return value(after, "gateway_rail_calls_total", **labels) - value(before, "gateway_rail_calls_total", **labels)

    assert [counted(o) for o in ("succeeded", "failed", "processing", "rail_unavailable")] == [1, 1, 1, 1]
    timed = {"rail": "scripted", "call": "start_top_up"}
    assert (
        value(after, "gateway_rail_call_duration_seconds_count", **timed)
        - value(before, "gateway_rail_call_duration_seconds_count", **timed)
        == 4
    )
    in_flight = {
        state: value(after, "gateway_payments_in_flight", kind="top_ups", state=state) for state in ("processing", "unknown")
    }
    assert in_flight == {"processing": 1, "unknown": 1}
    assert value(after, "gateway_payments_in_flight", kind="withdrawals", state="unknown") == 0
