"""Settling over HTTP: a 202 at once, a status to poll, the report once closed; on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.flattr import flattr
from tests.http_support import member, settle_and_wait
from tests.support import DECEMBER
from tests.test_http_journeys import post
from tests.test_settlement import fund, people, thing

SETTLE = "/api/v1/operator/settle"


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


def october_with_a_funder(deployment) -> None:
    ids = people(deployment, "fan", "a")
    fund(deployment, ids["fan"], budget="3.00")
    flattr(deployment, ids["fan"], thing(deployment, ids["a"], "a"))
    deployment.clock.set(DECEMBER)


async def status_of(client, boss, period="2026-10") -> dict:
    response = await client.get(f"/api/v1/operator/periods/{period}", headers=boss.auth)
    assert response.status == 200, await response.text()
    return await response.json()


async def until_idle(client, boss, period="2026-10") -> dict:
    for _ in range(1500):
        status = await status_of(client, boss, period)
        if not status["running"]:
            return status
        await asyncio.sleep(0.02)
    raise AssertionError(f"still running: {status}")


async def test_settle_answers_202_at_once_then_the_status_says_closed(client, deployment):
    october_with_a_funder(deployment)
    boss = member(deployment, "boss", role="operator")
    before = await status_of(client, boss)
    assert before == {
        "period": "2026-10",
        "status": "open",
        "settled": 0,
        "budgets": 0,
        "running": False,
        "error": None,
        "report": "/api/v1/operator/periods/2026-10/report",
    }

    first = await post(client, SETTLE, boss, {"period": "2026-10"}, key="k1", expect=202)
    started = await first.json()
    assert started["period"] == "2026-10" and started["status"] in ("settling", "closed")
    closed = await until_idle(client, boss)
    assert {k: closed[k] for k in ("status", "settled", "budgets", "error")} == {
        "status": "closed",
        "settled": 1,
        "budgets": 1,
        "error": None,
    }

    replayed = await post(client, SETTLE, boss, {"period": "2026-10"}, key="k1", expect=202)
    assert await replayed.json() == started  # the same key: the first answer
    again = await post(client, SETTLE, boss, {}, key="k2", expect=202)  # the last period that ended is November
    assert (await again.json())["period"] == "2026-11"
    await until_idle(client, boss, "2026-11")
    closed_again = await post(client, SETTLE, boss, {"period": "2026-10"}, key="k3", expect=202)
    assert await closed_again.json() == closed  # closed: nothing started

    report = await settle_and_wait(client, boss, "2026-10")
    assert report["status"] == "closed" and report["creators"][0]["handle"] == "a"


async def test_refusals_come_at_once(client, deployment):
    october_with_a_funder(deployment)
    boss = member(deployment, "boss", role="operator")
    not_ended = await post(client, SETTLE, boss, {"period": "2026-12"}, key="a")
    assert not_ended.status == 409 and (await not_ended.json())["type"] == "period_not_ended"
    fan = member(deployment, "someone")
    forbidden = await post(client, SETTLE, fan, {}, key="b")
    assert forbidden.status == 403


async def test_a_failed_settlement_shows_in_its_status_and_resumes_when_asked_again(client, deployment):
    october_with_a_funder(deployment)
    boss = member(deployment, "boss", role="operator")
    with deployment.engine.begin() as connection:  # the close will fail: its table is gone
        connection.execute(text("ALTER TABLE creator_totals RENAME TO creator_totals_away"))
    await post(client, SETTLE, boss, {"period": "2026-10"}, key="s1", expect=202)
    failed = await until_idle(client, boss)
    assert {k: failed[k] for k in ("status", "settled", "budgets", "error")} == {
        "status": "settling",
        "settled": 1,
        "budgets": 1,
        "error": "internal error: see the server's log",
    }
    with deployment.engine.begin() as connection:
        connection.execute(text("ALTER TABLE creator_totals_away RENAME TO creator_totals"))
    report = await settle_and_wait(client, boss, "2026-10", key="s2")
    assert report["creators"] == [{"handle": "a", "earned": {"amount": "2.70", "currency": "EUR"}, "funders": 1}]
    check = await (await client.get("/api/v1/operator/ledger-check", headers=boss.auth)).json()
    assert check == {"ok": True, "breaches": []}
