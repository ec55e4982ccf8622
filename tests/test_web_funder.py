"""The funder's pages over real HTTP, as a browser without JavaScript uses them, on SQLite and PostgreSQL.

The dashboard: wallets, budgets set and removed (and refused under the
minimum, or when the amount is not one), this period's flattrs with what
each would get now (exact minor units, summing to the budget less the fee,
and equal to what settling then pays), taking one back, subscriptions
paused, resumed and cancelled, earnings moved into the wallet once however
often the form is sent. Top-ups through the sandbox (once per form) and
through PayPal (the fake's approval page, then back to the top-up's page,
which asks PayPal again), a top-up's page for its owner only. Receipts of
a settled period with their chart.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from html import unescape
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from moneyed import Money
from sqlalchemy import select

from gateway.config import settings_from_dict
from gateway.core.periods import parse_period
from gateway.errors import ConfigError
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.schema import top_ups
from gateway.usecases.budgets import budgets_of, set_budget
from gateway.usecases.flattr import flattr, flattrs_of
from gateway.usecases.participants import register_participant
from gateway.usecases.projection import projection
from gateway.usecases.reports import receipts_of
from gateway.usecases.settlement.run import settle
from gateway.usecases.statements import balances_of
from gateway.usecases.subscriptions import subscribe, subscriptions_of
from gateway.usecases.things import register_thing
from tests.support import NOVEMBER, PASSWORD, config, eur, payable, top_up
from tests.test_money_flows import earnings
from tests.web_support import csrf_token, error_text, flash_text, page, post_form

pytest_plugins = ["tests.fakes.paypal"]  # the paypal_fake fixture

OCTOBER = parse_period("2026-10", "month")


@pytest.fixture
def deployment(deployment_factory):
    """Weighted points, so that a flattr's share follows its points."""
    return deployment_factory(config(weighted_points=True))


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))


async def signed_in(client, deployment, handle: str) -> int:
    """A person with a password and a verified address, signed in through the sign-in page; their id."""
    me = await asyncio.to_thread(payable, deployment, handle, preferred_currency="EUR")
    response, html = await post_form(client, "/signin", {"login": handle, "password": PASSWORD})
    assert response.status == 303, html
    return me


def thing(deployment, owner: int, name: str) -> int:
    return register_thing(deployment, owner, f"https://example.org/{name}", name.title()).id


def wallet(deployment, who: int, code: str = "EUR") -> Money | None:
    found = [b.balance for b in balances_of(deployment, who) if b.purpose == "wallet" and b.balance.currency.code == code]
    return found[0] if found else None


def form_key(html: str, action: str, rail: str | None = None) -> str:
    """The request key of the form posting to ``action`` (of ``rail``'s form on the top-up page)."""
    forms = re.findall(r'<form method="post" action="' + re.escape(action) + r'".*?</form>', html, re.S)
    for form in forms:
        if rail is None or f'name="rail" value="{rail}"' in form:
            return re.search(r'name="key" value="([^"]+)"', form).group(1)
    raise AssertionError(f"no form to {action} {rail or ''}")


def text_of(html: str) -> str:
    return unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


# -- the dashboard ---------------------------------------------------------------------------------


async def test_the_dashboard_is_for_the_signed_in(client):
    response, _ = await page(client, "/dashboard")
    assert response.status == 303 and response.headers["Location"] == "/signin"
    for path in ("/dashboard/top-up", "/dashboard/receipts", "/dashboard/top-up/1"):
        response, _ = await page(client, path)
        assert response.status == 303 and response.headers["Location"] == "/signin"


async def test_a_budget_is_set_refused_under_the_minimum_and_removed(client, deployment):
    me = await signed_in(client, deployment, "ann")
    response, html = await page(client, "/dashboard")
    assert response.status == 200
    assert "€2.00 (the minimum)" in text_of(html)  # no budget of her own: the minimum of her currency

    response, html = await post_form(
        client, "/dashboard/budget", {"form": "budget", "amount": "1.50", "currency": "EUR"}, from_page="/dashboard"
    )
    assert response.status == 422
    assert error_text(html) == "The smallest budget is €2.00 a period."
    assert 'id="budget-amount" name="amount" type="text" inputmode="decimal" required value="1.50" aria-invalid="true"' in html
    for bad in ("abc", "-3", "0", "1.234", ""):
        response, html = await post_form(
            client, "/dashboard/budget", {"form": "budget", "amount": bad, "currency": "EUR"}, from_page="/dashboard"
        )
        assert response.status == 422, bad
        assert error_text(html) == "Write an amount above zero, like 5.00.", bad
    response, html = await post_form(
        client, "/dashboard/budget", {"form": "budget", "amount": "5", "currency": "XXX"}, from_page="/dashboard"
    )
    assert response.status == 422 and error_text(html) == "This currency cannot be used for this here."
    assert budgets_of(deployment, me) == []

    response, _ = await post_form(
        client, "/dashboard/budget", {"form": "budget", "amount": "12,50", "currency": "EUR"}, from_page="/dashboard"
    )
    assert response.status == 303 and response.headers["Location"] == "/dashboard"
    assert budgets_of(deployment, me) == [eur("12.50")]
    _, html = await page(client, "/dashboard")
    assert flash_text(html) == "Your budget is saved."
    assert "€12.50" in text_of(html) and "Remove the budget in EUR" in html

    response, _ = await post_form(client, "/dashboard/budget/clear", {"currency": "EUR"}, from_page="/dashboard")
    assert response.status == 303
    assert budgets_of(deployment, me) == []


async def test_each_flattr_shows_what_it_would_get_which_is_what_settling_pays(client, deployment):
    me = await signed_in(client, deployment, "ann")
    creators = [register_participant(deployment, handle) for handle in ("bea", "cy", "dan")]
    things = [thing(deployment, owner, f"song-{index}") for index, owner in enumerate(creators)]
    top_up(deployment, me, eur("20.00"), "sandbox", key="ann-20")
    set_budget(deployment, me, eur("10.00"))
    for thing_id, points in zip(things, (1, 2, 2)):
        flattr(deployment, me, thing_id, points)

    projected = projection(deployment, me)
    (budget,) = projected.budgets
    assert (budget.budget, budget.giving, budget.fee) == (eur("10.00"), eur("10.00"), eur("1.00"))
    shares = {line.thing_id: line.shares["EUR"] for line in projected.flattrs}
    assert sum(shares.values(), eur("0")) + budget.fee == budget.giving  # exactly, to the cent
    assert sorted(shares.values()) == [eur("1.80"), eur("3.60"), eur("3.60")]

    _, html = await page(client, "/dashboard")
    shown = text_of(html)
    for title in ("Song-0", "Song-1", "Song-2"):
        assert title in shown
    assert "€1.80" in shown and "€3.60" in shown and "€1.00" in shown and "€20.00" in shown

    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    (receipt,) = receipts_of(deployment, me, OCTOBER.id)
    assert {line.thing_id: line.share for line in receipt.lines} == shares
    assert receipt.fee == budget.fee


async def test_an_odd_budget_is_shared_to_the_last_cent(client, deployment):
    me = await signed_in(client, deployment, "ann")
    owner = register_participant(deployment, "bea")
    top_up(deployment, me, eur("20.00"), "sandbox", key="ann-20")
    set_budget(deployment, me, eur("10.01"))
    for index in range(3):
        flattr(deployment, me, thing(deployment, owner, f"t{index}"))
    (budget,) = projection(deployment, me).budgets
    lines = projection(deployment, me).flattrs
    assert sum((line.shares["EUR"] for line in lines), eur("0")) == eur("10.01") - budget.fee
    assert {line.shares["EUR"] for line in lines} <= {eur("3.00"), eur("3.01")}


async def test_a_budget_above_the_wallet_gives_what_the_wallet_holds(client, deployment):
    me = await signed_in(client, deployment, "ann")
    top_up(deployment, me, eur("5.00"), "sandbox", key="ann-5")
    set_budget(deployment, me, eur("10.00"))
    flattr(deployment, me, thing(deployment, register_participant(deployment, "bea"), "song"))
    projected = projection(deployment, me)
    (budget,) = projected.budgets
    assert (budget.giving, budget.fee, budget.can_give) == (eur("5.00"), eur("0.50"), True)
    assert projected.flattrs[0].shares == {"EUR": eur("4.50")}
    _, html = await page(client, "/dashboard")
    assert "€4.50" in text_of(html) and "€5.00" in text_of(html)


async def test_a_flattr_is_taken_back(client, deployment):
    me = await signed_in(client, deployment, "ann")
    song = thing(deployment, register_participant(deployment, "bea"), "song")
    top_up(deployment, me, eur("5.00"), "sandbox", key="ann-5")
    flattr(deployment, me, song)
    response, _ = await post_form(client, "/dashboard/unflattr", {"thing_id": str(song)}, from_page="/dashboard")
    assert response.status == 303
    assert flattrs_of(deployment, me, parse_period("2026-10", "month")) == []
    _, html = await page(client, "/dashboard")
    assert flash_text(html) == "Your flattr is taken back."
    response, html = await post_form(client, "/dashboard/unflattr", {"thing_id": str(song)}, from_page="/dashboard")
    assert response.status == 404 and error_text(html)  # nothing left to take back: said in the page
    response, html = await post_form(client, "/dashboard/unflattr", {"thing_id": "x"}, from_page="/dashboard")
    assert response.status == 422


async def test_subscriptions_are_paused_resumed_and_cancelled(client, deployment):
    me = await signed_in(client, deployment, "ann")
    song = thing(deployment, register_participant(deployment, "bea"), "song")
    subscribe(deployment, me, song, 2, 3)
    _, html = await page(client, "/dashboard")
    assert "Pause the subscription to “Song”" in html and "points: 2, periods left: 3, running" in text_of(html)
    for action, status, flash in (
        ("pause", "paused", "The subscription is paused."),
        ("resume", "active", "The subscription is running again."),
        ("cancel", "cancelled", "The subscription is cancelled."),
    ):
        response, _ = await post_form(
            client, f"/dashboard/subscriptions/{action}", {"thing_id": str(song)}, from_page="/dashboard"
        )
        assert response.status == 303, action
        assert [s.status for s in subscriptions_of(deployment, me)] == [status]
        _, html = await page(client, "/dashboard")
        assert flash_text(html) == flash
    response, _ = await post_form(client, "/dashboard/subscriptions/explode", {"thing_id": str(song)}, from_page="/dashboard")
    assert response.status == 404


async def test_earnings_move_into_the_wallet_once_however_often_the_form_is_sent(client, deployment):
    me = await signed_in(client, deployment, "ann")
    earnings(deployment, me, "10.00")
    _, html = await page(client, "/dashboard")
    assert "Earnings you may move: €10.00" in text_of(html)
    key = form_key(html, "/dashboard/earnings")
    token = csrf_token(html)
    fields = {"form": "earnings", "key": key, "amount": "4.00", "currency": "EUR"}
    for _ in range(2):  # a double click: the same form twice
        response, _ = await post_form(client, "/dashboard/earnings", fields, token=token)
        assert response.status == 303
    assert wallet(deployment, me) == eur("4.00")

    _, html = await page(client, "/dashboard")
    assert form_key(html, "/dashboard/earnings") != key  # each rendering is a new request
    fields = {"form": "earnings", "key": form_key(html, "/dashboard/earnings"), "amount": "7.00", "currency": "EUR"}
    response, html = await post_form(client, "/dashboard/earnings", fields, token=csrf_token(html))
    assert response.status == 402
    assert error_text(html) == "You can move at most €6.00."
    assert wallet(deployment, me) == eur("4.00")


# -- top-ups ----------------------------------------------------------------------------------------


async def test_a_sandbox_top_up_fills_the_wallet_once_per_form(client, deployment):
    me = await signed_in(client, deployment, "ann")
    response, html = await page(client, "/dashboard/top-up")
    assert response.status == 200
    assert "Sandbox (test money, no payment)" in html and "LETS" not in html  # community money has no rail in
    key, token = form_key(html, "/dashboard/top-up", "sandbox"), csrf_token(html)
    fields = {"rail": "sandbox", "key": key, "amount": "5.00", "currency": "EUR"}
    for _ in range(2):
        response, _ = await post_form(client, "/dashboard/top-up", fields, token=token)
        assert response.status == 303 and response.headers["Location"] == "/dashboard"
    assert wallet(deployment, me) == eur("5.00")
    _, html = await page(client, "/dashboard")
    assert flash_text(html) == "Your wallet is topped up."

    response, html = await post_form(client, "/dashboard/top-up", {**fields, "amount": "6.00"}, token=token)
    assert response.status == 422  # the same form with another amount
    assert error_text(html) == "This form was already sent with other values: reload the page and try again."


@pytest.mark.parametrize(
    "amount", ["", "abc", "0", "-1", "5.001", "1e3", "99999999999999999999", "5.000000000000000000000000000001"]
)
async def test_a_bad_top_up_amount_is_said_in_the_form(client, deployment, amount):
    me = await signed_in(client, deployment, "ann")
    response, html = await post_form(
        client, "/dashboard/top-up", {"rail": "sandbox", "key": "k1", "amount": amount, "currency": "EUR"}
    )
    assert response.status == 422
    assert error_text(html) == "Write an amount above zero, like 5.00."
    assert 'id="sandbox-amount"' in html and 'aria-invalid="true"' in html
    assert wallet(deployment, me) is None


async def test_a_top_up_through_a_rail_not_offered_or_in_community_money_is_refused(client, deployment):
    await signed_in(client, deployment, "ann")
    response, html = await post_form(client, "/dashboard/top-up", {"rail": "nope", "key": "k", "amount": "5", "currency": "EUR"})
    assert response.status == 422 and error_text(html) == "This way of paying is not offered here."
    response, html = await post_form(
        client, "/dashboard/top-up", {"rail": "sandbox", "key": "k", "amount": "5", "currency": "LETS"}
    )
    assert response.status == 422 and error_text(html) == "This currency cannot be used for this here."


async def test_a_top_up_page_is_its_owners_only(client, deployment, aiohttp_client):
    me = await signed_in(client, deployment, "ann")
    mine = top_up(deployment, me, eur("5.00"), "sandbox", key="ann-5")
    response, html = await page(client, f"/dashboard/top-up/{mine.id}")
    assert response.status == 200
    assert "succeeded" in text_of(html) and "€5.00" in text_of(html)

    other = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    await signed_in(other, deployment, "eve")
    for path in (f"/dashboard/top-up/{mine.id}", "/dashboard/top-up/99999", "/dashboard/top-up/x"):
        response, _ = await page(other, path)
        assert response.status == 404, path
    response, _ = await page(other, f"/top-ups/{mine.id}/return")
    assert response.status == 303  # the way back from a provider leads to the page, which is not hers


@pytest.fixture
def paypal_secrets(tmp_path, paypal_fake) -> Path:
    path = tmp_path / "paypal.toml"
    path.write_text(f'PAYPAL_CLIENT_ID = "{paypal_fake.client_id}"\nPAYPAL_SECRET = "{paypal_fake.secret}"\n')
    path.chmod(0o600)
    return path


@pytest.fixture
async def paypal_client(deployment_factory, paypal_fake, paypal_secrets, aiohttp_client) -> AsyncIterator[Any]:
    data = config(weighted_points=True)
    data["rails"]["paypal"] = {"base_url": paypal_fake.url, "currencies": ["EUR", "USD"], "secrets_file": str(paypal_secrets)}
    deployment = deployment_factory(data)
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    client.deployment = deployment
    yield client
    await deployment.rails["paypal"].close()


async def test_a_paypal_top_up_goes_to_paypal_for_approval_and_back(paypal_client, paypal_fake):
    client, deployment = paypal_client, paypal_client.deployment
    me = await signed_in(client, deployment, "ann")
    _, html = await page(client, "/dashboard/top-up")
    assert "You approve the payment at PayPal" in html
    fields = {"rail": "paypal", "key": form_key(html, "/dashboard/top-up", "paypal"), "amount": "6.00", "currency": "EUR"}
    response, _ = await post_form(client, "/dashboard/top-up", fields, token=csrf_token(html))
    with deployment.engine.connect() as connection:
        (top_up_id,) = connection.execute(select(top_ups.c.id).where(top_ups.c.funder_id == me)).scalars()
    # The top-up's page, which links to PayPal: a browser would refuse the form's redirect to another site.
    assert response.status == 303 and response.headers["Location"] == f"/dashboard/top-up/{top_up_id}"
    response, html = await page(client, f"/dashboard/top-up/{top_up_id}")
    approval = re.search(r'<a class="button" href="([^"]+)">Approve the payment</a>', html).group(1).replace("&amp;", "&")
    assert approval.startswith(paypal_fake.url + "/checkoutnow?token=")
    order = parse_qs(urlsplit(approval).query)["token"][0]
    assert "waiting for you" in text_of(html)
    assert wallet(deployment, me) is None

    paypal_fake.approve(order)  # the buyer approves at PayPal, which sends them back
    response, _ = await page(client, f"/top-ups/{top_up_id}/return?token={order}&PayerID=BUYER")
    assert response.status == 303 and response.headers["Location"] == f"/dashboard/top-up/{top_up_id}"
    response, html = await page(client, f"/dashboard/top-up/{top_up_id}")
    assert response.status == 200 and "succeeded" in text_of(html)
    assert wallet(deployment, me) == eur("6.00")


# -- receipts ---------------------------------------------------------------------------------------


async def test_the_receipt_of_a_settled_period_with_its_chart(client, deployment):
    me = await signed_in(client, deployment, "ann")
    _, html = await page(client, "/dashboard/receipts")
    assert "No period of yours has been settled yet." in html
    top_up(deployment, me, eur("20.00"), "sandbox", key="ann-20")
    set_budget(deployment, me, eur("10.00"))
    flattr(deployment, me, thing(deployment, register_participant(deployment, "bea"), "song"))
    flattr(deployment, me, thing(deployment, register_participant(deployment, "cy"), "poem"))
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)

    _, html = await page(client, "/dashboard/receipts")
    assert 'href="/dashboard/receipts/2026-10"' in html
    response, html = await page(client, "/dashboard/receipts/2026-10")
    assert response.status == 200
    shown = text_of(html)
    assert "Song" in shown and "Poem" in shown and "€4.50" in shown and "€1.00" in shown
    assert '<svg viewBox="0 0 600 90" role="img"' in html  # two things and the fee
    assert "Where your EUR went in 2026-10" in html and "Song, by bea" in html

    for path in ("/dashboard/receipts/2026-09", "/dashboard/receipts/nonsense", "/dashboard/receipts/2026-13"):
        response, _ = await page(client, path)
        assert response.status == 404, path


# -- Stripe.js's origin ------------------------------------------------------------------------------


async def test_stripe_js_may_load_frame_and_call_its_api_and_nothing_else_may(deployment_factory, aiohttp_client):
    data = config()
    data["http"] = {"stripe_js_origin": "https://js.stripe.com"}
    client = await aiohttp_client(create_app(deployment_factory(data), limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    response, _ = await page(client, "/signin")
    directives = dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))
    assert directives["script-src"] == "'self' https://js.stripe.com"
    assert directives["frame-src"] == "'self' https://js.stripe.com"
    assert directives["connect-src"] == "'self' https://js.stripe.com https://api.stripe.com"


@pytest.mark.parametrize(
    ("origin", "taken"),
    [
        ("https://js.stripe.com", True),
        ("http://127.0.0.1:8420", True),  # a test's Stripe.js mock, on this machine
        ("http://localhost:8420", True),
        ("http://js.stripe.com", False),  # plain http elsewhere
        ("http://10.0.0.1:8420", False),
        ("https://js.stripe.com/v3/", False),  # an origin, not an address
    ],
)
def test_stripe_js_origin_is_https_or_this_machine(origin, taken):
    data = config()
    data["http"] = {"stripe_js_origin": origin}
    if taken:
        assert settings_from_dict(data, database_url="sqlite://").http.stripe_js_origin == origin
    else:
        with pytest.raises(ConfigError):
            settings_from_dict(data, database_url="sqlite://")
