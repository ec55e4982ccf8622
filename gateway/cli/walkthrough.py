"""``gateway walkthrough``: a whole period on a fresh SQLite file, told step by step.

The clock is fixed (activity in October 2026, settlement on 1 November), so
the walk-through prints the same story every time, whatever today is.
"""

from __future__ import annotations

import asyncio
import os
from datetime import UTC, datetime
from functools import partial

from moneyed import Money

from gateway.cli.commands import format_report, print_ledger_check
from gateway.cli.output import money_text, table
from gateway.clock import FixedClock
from gateway.config import Settings
from gateway.deployment import Deployment, open_deployment
from gateway.errors import GatewayError
from gateway.usecases.budgets import set_budget
from gateway.usecases.calendar import current_period
from gateway.usecases.database import upgrade_schema
from gateway.usecases.demo.inbox import open_mailed_links
from gateway.usecases.flattr import flattr
from gateway.usecases.identity.signup import sign_up
from gateway.usecases.participants import register_participant
from gateway.usecases.reports import receipts_of
from gateway.usecases.settlement import settle
from gateway.usecases.subscriptions import subscribe
from gateway.usecases.things import register_thing
from gateway.usecases.top_up import top_up
from gateway.usecases.withdraw import withdraw

DURING = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
CREATORS = ("alice", "bob", "carol", "dave")
PASSWORD = "correct horse battery staple"  # the walk-through's people's, printed nowhere; its database is a fresh file
AFTER = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)


def run_walkthrough(settings: Settings, path: str) -> int:
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(path + suffix):
            os.remove(path + suffix)
    clock = FixedClock(DURING)
    deployment = open_deployment(settings, clock=clock)
    try:
        upgrade_schema(deployment)
        _story(deployment, clock)
        print()
        status = print_ledger_check(deployment)
    finally:
        deployment.close()
    if status == 0:
        print(f"the walk-through's database is {path}; try `gateway --database-url sqlite:///{path} ledger check`")
    return status


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def _story(deployment: Deployment, clock: FixedClock) -> None:
    say = print
    period = current_period(deployment)
    say(f"== {deployment.settings.name}: period {period.id}, fee {deployment.settings.policies['EUR'].fee * 100}% ==")
    ids = {}
    for handle, currency in [
        ("alice", "EUR"),
        ("bob", "USD"),
        ("carol", "EUR"),
        ("dave", "GBP"),
        ("erin", "EUR"),
        ("frank", "EUR"),
        ("grace", "EUR"),
        ("heidi", "EUR"),
    ]:
        if handle in CREATORS:
            sign_up(deployment, handle, f"{handle}@example.org", PASSWORD, preferred_currency=currency)
        else:
            ids[handle] = register_participant(deployment, handle, preferred_currency=currency)
    ids.update({address.partition("@")[0]: account for address, account in open_mailed_links(deployment).items()})
    things = {}
    for owner, key, url, title in [
        ("alice", "comic", "https://alice.example/comic/42", "Alice's comic, episode 42"),
        ("bob", "project", "https://git.example/bob/libfoo", "libfoo, a free-software library"),
        ("carol", "post", "https://carol.example/blog/money", "Carol's post on micropayments"),
        ("carol", "essay", "https://carol.example/blog/commons", "Carol's essay on the commons"),
        ("dave", "song", "https://dave.example/songs/rain", "Dave's song 'Rain'"),
    ]:
        things[key] = register_thing(deployment, ids[owner], url, title, language="en").id
    say("4 creators signed up and opened the link mailed to them (money leaves only for a verified address)")
    say("creators registered 5 things; 4 funders signed up")

    for handle, amount in [("erin", "20.00"), ("frank", "10.00"), ("grace", "5.00")]:
        topped = asyncio.run(top_up(deployment, ids[handle], eur(amount), "sandbox", key=f"walkthrough-top-up-{handle}"))
        say(f"{handle} tops up {money_text(deployment.currencies, topped.amount)} through the sandbox rail: {topped.status}")
    set_budget(deployment, ids["erin"], eur("10.00"))
    set_budget(deployment, ids["frank"], eur("10.00"))
    say("erin and frank set a budget of 10.00 EUR a month; grace keeps the minimum, 2.00 EUR")

    for key in ("comic", "project", "post", "song"):
        flattr(deployment, ids["erin"], things[key])
    say("erin flattrs the comic, the project, the post and the song (1 point each)")
    flattr(deployment, ids["frank"], things["comic"])
    flattr(deployment, ids["frank"], things["project"])
    flattr(deployment, ids["frank"], things["post"], points=2)
    say("frank flattrs the comic and the project, and gives the post 2 points")
    subscribe(deployment, ids["grace"], things["project"], points=3)
    flattr(deployment, ids["grace"], things["essay"])
    say("grace subscribes to the project with 3 points, and flattrs the essay")

    for label, funder, thing in [
        ("heidi (empty wallet) flattrs the comic", "heidi", "comic"),
        ("carol flattrs her own post", "carol", "post"),
    ]:
        try:
            flattr(deployment, ids[funder], things[thing])
        except GatewayError as error:
            say(f"{label}: refused, {error.code} ({error.message})")

    declined = asyncio.run(top_up(deployment, ids["erin"], eur("5.13"), "sandbox", key="walkthrough-declined"))
    say(f"erin tops up 5.13 EUR: {declined.status} ({declined.error}); nothing moved")

    clock.set(AFTER)
    say(f"\n== {AFTER:%Y-%m-%d %H:%M} UTC: the period has ended; settling {period.id} ==")
    report = settle(deployment, period)
    say(format_report(deployment, report))

    say("\nwhere each funder's budget went:")
    for handle in ("erin", "frank", "grace"):
        for receipt in receipts_of(deployment, ids[handle], period.id):
            text = partial(money_text, deployment.currencies)
            say(f"  {handle}: budget {text(receipt.budget)}, fee {text(receipt.fee)}")
            say(
                table(
                    ["thing", "creator", "points", "share"],
                    [[line.title, line.creator, line.points, text(line.share)] for line in receipt.lines],
                    indent="    ",
                )
            )

    say("\ncreators withdraw:")
    for handle, amount in [("bob", "4.00"), ("alice", "4.00"), ("dave", "2.25"), ("carol", "0.50")]:
        try:
            result = asyncio.run(withdraw(deployment, ids[handle], eur(amount), "sandbox", key=f"walkthrough-withdraw-{handle}"))
            rate = (
                f" at {result.rate.value:.4f} ({result.rate.source}, {result.rate.on})"
                if result.rate.base != result.rate.quote
                else ""
            )
            say(
                f"  {handle} withdraws {money_text(deployment.currencies, result.amount)} -> "
                f"{money_text(deployment.currencies, result.payout)}{rate}: {result.status}"
            )
        except GatewayError as error:
            say(f"  {handle} withdraws {amount} EUR: refused, {error.code} ({error.message})")
