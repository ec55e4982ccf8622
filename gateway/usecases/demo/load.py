"""Loading the demo data through the use cases, as people would have done it over a month and a bit.

Everything of the settled period happens on its first day, on a clock set
there: the sign-ups, the things, the top-ups, budgets, flattrs and the
subscription. Then, at the deployment's own "now", that period settles (so
there are receipts, earnings and a public report), a creator withdraws, and
the funders flattr in the current period, which stays open.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime, time, timedelta

from moneyed import Money

from gateway.clock import FixedClock
from gateway.deployment import Deployment
from gateway.errors import NotDemoData
from gateway.usecases.budgets import set_budget
from gateway.usecases.calendar import current_period
from gateway.usecases.demo.content import FUNDERS, FUNDINGS, PASSWORD, PEOPLE, WITHDRAWAL, WORKS, Funding
from gateway.usecases.demo.inbox import open_mailed_links
from gateway.usecases.demo.mark import holds_anyone, is_demo_database, mark_demo
from gateway.usecases.flattr import flattr
from gateway.usecases.identity.principal import OPERATOR
from gateway.usecases.identity.profile import update_profile
from gateway.usecases.identity.roles import set_role
from gateway.usecases.identity.signup import sign_up
from gateway.usecases.settlement import settle
from gateway.usecases.subscriptions import subscribe
from gateway.usecases.things import register_thing
from gateway.usecases.top_up import top_up
from gateway.usecases.withdraw import withdraw

RAIL = "sandbox"
STEP = timedelta(minutes=7)  # between two things people do on the settled period's first day


@dataclass(frozen=True)
class DemoData:
    """The periods of the demo data: the one settled, and the one in progress (as of now, where it was loaded before).

    ``loaded`` is False where the database held the demo data already, and nothing was done.
    """

    loaded: bool
    settled_period: str
    current_period: str


class _Day:
    """A clock on the settled period's first day that moves on a little at each step, so the order shows in the pages."""

    def __init__(self, start: datetime) -> None:
        self.clock = FixedClock(start)

    def step(self) -> None:
        self.clock.set(self.clock.now() + STEP)


async def load_demo(deployment: Deployment) -> DemoData:
    """Put the demo data into an empty database at the current schema, and mark it a demo's; once.

    A database that holds the demo data already is left as it is; one that
    holds anything else is refused (``NotDemoData``), before anything is
    written. The use cases are called one after the other on this task's
    thread: for a command to run before it serves, not in a server's loop.
    """
    now_period = current_period(deployment)
    settled = now_period.previous()
    if is_demo_database(deployment):
        return DemoData(False, settled.id, now_period.id)
    if holds_anyone(deployment):
        raise NotDemoData("this database holds somebody's data already: the demo data goes only into an empty one")
    day = _Day(datetime.combine(settled.start, time(9, 0), UTC))
    past = replace(deployment, clock=day.clock)
    ids = _people(past, day)
    things = _things(past, day, ids)
    for funding in FUNDINGS:
        await _fund(past, day, ids[funding.funder], funding, things)
    settle(deployment, settled)
    await withdraw(deployment, ids[WITHDRAWAL[0]], Money(WITHDRAWAL[1], "EUR"), RAIL, key="demo-withdrawal")
    most = deployment.settings.max_points
    for funding in FUNDINGS:
        for key, points in funding.current:
            flattr(deployment, ids[funding.funder], things[key], min(points, most))
    mark_demo(deployment)
    return DemoData(True, settled.id, now_period.id)


def _people(deployment: Deployment, day: _Day) -> dict[str, int]:
    """Everyone signs up and opens the link mailed to them; the operator gets the role, the listed creator is listed."""
    for person in PEOPLE:
        sign_up(deployment, person.handle, person.address, PASSWORD, _currency(deployment, person.currency), person.language)
        day.step()
    accounts = open_mailed_links(deployment)
    ids = {person.handle: accounts[person.address] for person in PEOPLE}
    for person in PEOPLE:
        if person.operator:
            set_role(deployment, ids[person.handle], OPERATOR)
        if person.listed:
            update_profile(deployment, ids[person.handle], listed=True)
    return ids


def _things(deployment: Deployment, day: _Day, ids: dict[str, int]) -> dict[str, int]:
    made = {}
    for work in WORKS:
        thing = register_thing(
            deployment, ids[work.owner], work.url, work.title, work.language, work.category, work.description, work.tags
        )
        made[work.key] = thing.id
        day.step()
    return made


async def _fund(deployment: Deployment, day: _Day, funder: int, funding: Funding, things: dict[str, int]) -> None:
    """A funder's day: top up, set a budget, flattr, subscribe."""
    person = next(person for person in FUNDERS if person.handle == funding.funder)
    code = _currency(deployment, person.currency)
    await top_up(deployment, funder, Money(funding.top_up, code), RAIL, key=f"demo-top-up-{funding.funder}")
    set_budget(deployment, funder, Money(funding.budget, code))
    most = deployment.settings.max_points
    for key, points in funding.settled:
        day.step()
        flattr(deployment, funder, things[key], min(points, most))
    if funding.subscription is not None:
        key, points = funding.subscription
        subscribe(deployment, funder, things[key], min(points, most))
    day.step()


def _currency(deployment: Deployment, code: str) -> str:
    """``code``, where the deployment and its sandbox rail take it; else the default currency."""
    if code in deployment.settings.policies and deployment.rail(RAIL).takes(code):
        return code
    return deployment.settings.default_currency
