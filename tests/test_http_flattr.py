"""Flattrs over HTTP at once, as the group commit takes them: each answer is its own, and each 200 is stored."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.engine import reading
from gateway.storage.schema import flattrs
from gateway.usecases.participants import register_participant
from gateway.usecases.things import register_thing
from tests.http_support import member, top_up


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


async def test_concurrent_flattrs_each_get_their_own_answer(client, deployment):
    thing = register_thing(deployment, register_participant(deployment, "artist"), "https://example.org/a", "A").id
    funders = [member(deployment, f"fan{n}") for n in range(30)]
    broke = member(deployment, "broke")
    await asyncio.gather(*(top_up(client, funder) for funder in funders))

    async def click(user):
        response = await client.post(f"/api/v1/things/{thing}/flattr", json={}, headers=user.auth)
        return response.status, (await response.json()).get("type")

    answers = await asyncio.gather(*(click(f) for f in funders), click(broke), *(click(funders[0]) for _ in range(9)))
    assert answers[1:30] == [(200, None)] * 29
    assert answers[30] == (402, "no_means")
    first_fans = [answers[0], *answers[31:]]  # fan0 clicked ten times at once: one flattr
    assert sorted(first_fans) == [(200, None)] + [(409, "already_flattred")] * 9
    with reading(deployment.engine) as connection:
        stored = connection.execute(select(func.count()).select_from(flattrs).where(flattrs.c.thing_id == thing)).scalar()
    assert stored == 30
    # A bad token among good ones is refused alone.
    statuses = await asyncio.gather(
        client.get("/api/v1/me/flattrs", headers={"Authorization": "Bearer fgw_nobody"}),
        *(client.get("/api/v1/me/flattrs", headers=f.auth) for f in funders[:5]),
    )
    assert [s.status for s in statuses] == [401] + [200] * 5
