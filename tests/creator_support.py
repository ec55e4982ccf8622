"""A creator with earnings, as settlement makes them, for the creator's pages (tests/test_web_creator*.py)."""

from __future__ import annotations

from aiohttp.test_utils import TestClient
from moneyed import Money

from gateway.core.periods import parse_period
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement import settle
from gateway.usecases.things import register_thing
from gateway.usecases.top_up import top_up
from tests.support import DECEMBER, NOVEMBER, PASSWORD, payable
from tests.web_support import post_form

OCTOBER_PERIOD = parse_period("2026-10", "month")
NOVEMBER_PERIOD = parse_period("2026-11", "month")


async def creator_with_earnings(deployment, handle: str = "artist", rail: str = "sandbox", periods: int = 2) -> dict[str, int]:
    """A fan tops up through ``rail``, gives a 10.00 budget to the creator's one thing, and ``periods`` periods settle
    (October, then November): 9.00 of earnings each, after the 10% fee. The clock is left after the last."""
    ids = {"fan": register_participant(deployment, "fan"), handle: payable(deployment, handle)}
    await top_up(deployment, ids["fan"], Money("10.00", "EUR") * periods, rail, key="fan-card")
    set_budget(deployment, ids["fan"], Money("10.00", "EUR"))
    thing = register_thing(deployment, ids[handle], f"https://{handle}.example/comic", "The comic")
    ids["thing"] = thing.id
    flattr(deployment, ids["fan"], thing.id)
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER_PERIOD)
    if periods > 1:
        flattr(deployment, ids["fan"], thing.id)
        deployment.clock.set(DECEMBER)
        settle(deployment, NOVEMBER_PERIOD)
    return ids


async def signed_in(client: TestClient, handle: str, language: str = "en") -> None:
    """Sign ``handle`` (made by ``payable``: its password is ``PASSWORD``) in on the pages."""
    response, html = await post_form(
        client, "/signin", {"login": handle, "password": PASSWORD}, headers={"Accept-Language": language}
    )
    assert response.status == 303, html
