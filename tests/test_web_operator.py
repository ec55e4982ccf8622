"""The operator's pages and the public transparency pages, over HTTP as a browser without JavaScript uses them.

On SQLite and PostgreSQL: every operator page and form refuses anyone but an
operator (a 403 page, nothing done); a settlement started from its page runs
in the settlement thread, its page reloads itself (a meta refresh) until the
period is closed, then shows the report, and the ledger's check on demand;
accounts are frozen, and the role granted and revoked, from their page; a
top-up whose provider never answered is listed as unknown until the button
asks the providers; a sandbox top-up is refunded after a confirmation, once
however often the confirmation is sent; the transparency pages show each
closed period's totals and only the creators who chose to be listed.
"""

from __future__ import annotations

import asyncio
import re
from html import unescape

import pytest

from gateway.core.periods import parse_period
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.flattr import flattr
from gateway.usecases.identity.profile import update_profile
from gateway.usecases.identity.roles import role_history, set_role
from gateway.usecases.operator import account_summary
from gateway.usecases.settlement import settle
from gateway.usecases.top_up import top_up as top_up_async
from tests.http_support import member
from tests.rail_support import script
from tests.support import DECEMBER, PASSWORD, balance, eur, ledger_holds, payable, top_up
from tests.test_settle_background import prepare_waits
from tests.test_settlement import fund, thing
from tests.web_support import csrf_token, error_text, flash_text, page, post_form

OCTOBER = parse_period("2026-10", "month")
OPERATOR_PAGES = [
    "/operator",
    "/operator/settlement",
    "/operator/settlement/2026-10",
    "/operator/accounts",
    "/operator/rails",
    "/operator/top-ups",
]
OPERATOR_FORMS = [
    ("/operator/settlement", {"period": "2026-10"}),
    ("/operator/settlement/2026-10/check", {}),
    ("/operator/accounts/1/freeze", {"frozen": "1"}),
    ("/operator/accounts/1/role", {"role": "member"}),
    ("/operator/rails/sync", {}),
    ("/operator/top-ups/1/refund", {"key": "k", "amount": "1.00", "confirmed": "yes"}),
]


def app_of(deployment):
    # A frozen limiter clock: every request of a test falls in one window (no timing in tests).
    return create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0))


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(app_of(deployment))


async def sign_in(client, deployment, handle: str, *, operator: bool = False) -> int:
    """A person with a verified address, signed in on ``client`` (whoever was signed in there before is not)."""
    person = payable(deployment, handle)
    if operator:
        set_role(deployment, person, "operator")
    client.session.cookie_jar.clear()
    response, html = await post_form(client, "/signin", {"login": handle, "password": PASSWORD})
    assert response.status == 303, html
    return person


def text_of(html: str) -> str:
    """The page's text, tags and runs of white space gone: what a reader reads."""
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def a_funded_october(deployment, *creators: str) -> dict[str, int]:
    """A funder who gave 3.00 EUR in October, shared among one thing of each creator; the clock in December."""
    ids = {handle: payable(deployment, handle) for handle in ("fan", *creators)}
    fund(deployment, ids["fan"], budget="3.00")
    for handle in creators:
        flattr(deployment, ids["fan"], thing(deployment, ids[handle], handle))
    deployment.clock.set(DECEMBER)
    return ids


# -- who may -----------------------------------------------------------------------------------------


async def test_anyone_but_an_operator_is_refused_every_page_and_form(client, deployment):
    for path in OPERATOR_PAGES:  # signed out: sent to sign in
        response, _ = await page(client, path)
        assert (response.status, response.headers["Location"]) == (303, "/signin"), path
    target = await sign_in(client, deployment, "boss", operator=True)
    assert target == 1  # the account the forms above name
    await sign_in(client, deployment, "member")
    _, home = await page(client, "/")
    assert 'href="/operator"' not in home  # the navigation offers it to operators only
    for path in [*OPERATOR_PAGES, "/operator/top-ups?id=1"]:
        response, html = await page(client, path)
        assert response.status == 403, path
        assert "This is not allowed." in html
    token = csrf_token(home)
    for path, fields in OPERATOR_FORMS:
        response, html = await post_form(client, path, fields, token=token)
        assert response.status == 403, (path, html)
    assert account_summary(deployment, target).role == "operator" and not account_summary(deployment, target).frozen


# -- the rules in force ------------------------------------------------------------------------------------


async def test_the_rules_page_says_what_the_api_says(client, deployment):
    await sign_in(client, deployment, "boss", operator=True)
    _, html = await page(client, "/operator")
    text = text_of(html)
    assert "USD fiat $2.00 $1.00 10% 1.1172 (October 30, 2026, static)" in text
    assert "LETS mutual_credit 5.00 LETS 0.00 LETS 0% none known" in text
    assert "sandbox : CHI, EUR, JPY, KWD, USD, WOE" in text
    assert "Period length A month" in text and "Unspent budgets stay in the funders' wallets" in text
    api = await client.get("/api/v1/operator/currencies", headers=member(deployment, "robot", role="operator").auth)
    usd = next(item for item in (await api.json())["items"] if item["code"] == "USD")
    assert usd == {
        "code": "USD",
        "kind": "fiat",
        "minor_per_major": 100,
        "minimum_budget": {"amount": "2.00", "currency": "USD"},
        "minimum_withdrawal": {"amount": "1.00", "currency": "USD"},
        "fee": "0.10",
        "rate_from_default": {"quote": "USD", "value": "1.1172", "date": "2026-10-30", "source": "static"},
    }


# -- settling ------------------------------------------------------------------------------------------


async def test_a_settlement_started_from_its_page_reloads_until_it_shows_the_report(client, deployment):
    a_funded_october(deployment, "artist")
    await sign_in(client, deployment, "boss", operator=True)
    _, html = await page(client, "/operator/settlement")
    assert "Settle the period 2026-10" in html
    with prepare_waits(deployment.settings.database_url):  # the settlement thread waits: the page says it runs
        response, _ = await post_form(client, "/operator/settlement", {"period": "2026-10"})
        assert (response.status, response.headers["Location"]) == (303, "/operator/settlement/2026-10")
        _, html = await page(client, "/operator/settlement/2026-10")
        assert '<meta http-equiv="refresh" content="2; url=/operator/settlement/2026-10">' in html
        assert "Settling: the budgets are being gathered." in html and "Report" not in html
        assert "This page reloads itself every two seconds until it is done." in html
        _, still = await page(client, "/operator/settlement/2026-10?reload=off")  # its reader turned the reloading off
        assert 'http-equiv="refresh"' not in still and "Reload by itself" in still

    deadline = asyncio.get_running_loop().time() + 60
    while 'http-equiv="refresh"' in html:  # as the browser does, every two seconds (here, at once)
        assert asyncio.get_running_loop().time() < deadline, "still settling after a minute"
        await asyncio.sleep(0.02)
        response, html = await page(client, "/operator/settlement/2026-10")
        assert response.status == 200
    text = text_of(html)
    assert "Settled." in text
    assert "Budgets €3.00 To creators €2.70 Fees €0.30 Unspent €0.00" in text
    assert "What creators earned in EUR in 2026-10" in html and "<svg" in html
    assert re.search(r'<th scope="row">artist</th><td class="amount">€2.70</td>', html)

    response, html = await post_form(client, "/operator/settlement/2026-10/check", {}, from_page="/operator/settlement/2026-10")
    assert response.status == 200 and "Balanced: every invariant of the ledger holds." in html
    _, html = await page(client, "/operator/settlement")
    assert "2026-10 : settled on December 2, 2026" in text_of(html)  # the list of settled periods
    assert "Settle the period 2026-11" in html  # November has ended too: the next in order
    response, _ = await post_form(client, "/operator/settlement", {"period": "2026-10"})  # again: nothing settles twice
    assert response.status == 303
    ledger_holds(deployment)


async def test_a_period_not_ended_cannot_be_settled_and_says_why(client, deployment):
    await sign_in(client, deployment, "boss", operator=True)  # October: nothing has ended with anything in it
    response, html = await post_form(client, "/operator/settlement", {"period": "2026-10"})
    assert response.status == 409
    assert error_text(html) == "No period can be settled yet: the next one has not ended."
    response, html = await post_form(client, "/operator/settlement", {"period": "October"})
    assert response.status == 422 and error_text(html)
    response, _ = await page(client, "/operator/settlement/2026-13")
    assert response.status == 404


# -- accounts -------------------------------------------------------------------------------------------


async def test_freezing_granting_and_revoking_from_the_accounts_page(client, deployment):
    boss = await sign_in(client, deployment, "boss", operator=True)
    bob = payable(deployment, "bob")
    _, html = await page(client, "/operator/accounts")
    assert "bob" in html and f"/operator/accounts/{boss}/freeze" not in html  # no freezing oneself

    response, _ = await post_form(
        client, f"/operator/accounts/{bob}/freeze", {"frozen": "1", "next": "/operator/accounts"}, from_page="/operator/accounts"
    )
    assert (response.status, response.headers["Location"]) == (303, "/operator/accounts")
    _, html = await page(client, "/operator/accounts")
    assert flash_text(html).startswith("The account is frozen")
    assert account_summary(deployment, bob).frozen
    await post_form(client, f"/operator/accounts/{bob}/freeze", {"frozen": "0"}, from_page="/operator/accounts")
    assert not account_summary(deployment, bob).frozen

    response, _ = await post_form(client, f"/operator/accounts/{bob}/role", {"role": "operator"}, from_page="/operator/accounts")
    assert response.status == 303 and account_summary(deployment, bob).role == "operator"
    [change] = role_history(deployment, bob)
    assert (change.actor_id, change.via, change.detail.startswith("session:")) == (boss, "api", True)
    await post_form(client, f"/operator/accounts/{bob}/role", {"role": "member"}, from_page="/operator/accounts")
    assert account_summary(deployment, bob).role == "member"

    response, html = await post_form(
        client, f"/operator/accounts/{boss}/role", {"role": "member"}, from_page="/operator/accounts"
    )
    assert response.status == 409  # the last operator
    assert error_text(html).startswith("This would leave no operator who can sign in")
    response, html = await post_form(client, f"/operator/accounts/{boss}/freeze", {"frozen": "1"}, from_page="/operator/accounts")
    assert response.status == 403 and error_text(html).startswith("You cannot freeze your own account")
    assert account_summary(deployment, boss).role == "operator" and not account_summary(deployment, boss).frozen

    _, html = await page(client, "/operator/accounts?handle=BOB")
    assert "bob" in html and "boss" not in text_of(html).split("Handle Role State", 1)[1]
    _, html = await page(client, "/operator/accounts?handle=nobody")
    assert "No account has the handle “nobody”." in html


# -- the rails and refunds --------------------------------------------------------------------------------


@pytest.fixture
async def railed_client(railed, aiohttp_client):
    return await aiohttp_client(app_of(railed))


async def test_a_top_up_left_unknown_is_listed_until_the_providers_are_asked(railed_client, railed, provider):
    client, deployment = railed_client, railed
    await sign_in(client, deployment, "boss", operator=True)
    fan = payable(deployment, "fan")
    script(provider, "lost")  # the provider charges, and its answer never comes
    lost = await top_up_async(deployment, fan, eur("7.00"), "scripted", key="lost")
    assert lost.status == "unknown"

    _, html = await page(client, "/operator/rails")
    assert f"Top-up #{lost.id}" in html and "unknown: the provider did not answer" in html and "€7.00" in html
    response, html = await post_form(client, "/operator/rails/sync", {}, from_page="/operator/rails")
    assert response.status == 200
    assert "Top-up: 1 now succeeded" in text_of(html) and "Nothing is in flight." in html
    assert balance(deployment, fan, "wallet") == 700
    ledger_holds(deployment)


async def test_a_sandbox_top_up_is_refunded_once_after_confirming(client, deployment):
    boss = await sign_in(client, deployment, "boss", operator=True)
    fan = payable(deployment, "fan")
    paid = top_up(deployment, fan, eur("10.00"), "sandbox", key="t")
    found = f"/operator/top-ups?id={paid.id}"
    _, html = await page(client, found)
    assert "Can be refunded now" in html and "€10.00" in html
    key = re.search(r'name="key" value="([^"]+)"', html).group(1)

    response, html = await post_form(client, f"/operator/top-ups/{paid.id}/refund", {"key": key, "amount": "99"}, from_page=found)
    assert response.status == 422 and error_text(html) == "Write an amount like 2.50, more than zero and at most €10.00."
    response, html = await post_form(client, f"/operator/top-ups/{paid.id}/refund", {"key": key, "amount": "4"}, from_page=found)
    assert response.status == 200 and "Refund €4.00 of top-up number" in text_of(html)
    assert balance(deployment, fan, "wallet") == 1000  # nothing until confirmed
    confirmation = {"key": key, "amount": "4.00", "confirmed": "yes"}
    token = csrf_token(html)
    for _ in range(2):  # a double click
        response, _ = await post_form(client, f"/operator/top-ups/{paid.id}/refund", confirmation, token=token)
        assert (response.status, response.headers["Location"]) == (303, found)
    assert balance(deployment, fan, "wallet") == 600
    _, html = await page(client, found)
    assert flash_text(html).startswith("The refund was asked")
    assert text_of(html).count("€4.00 on") == 1 and "Can be refunded now €6.00" in text_of(html)
    assert boss  # the refund is recorded as the operator's
    ledger_holds(deployment)

    response, html = await page(client, "/operator/top-ups?id=999")
    assert response.status == 200 and "There is no top-up number 999." in html


# -- transparency ---------------------------------------------------------------------------------------


async def test_transparency_shows_closed_periods_and_only_listed_creators(client, deployment):
    ids = a_funded_october(deployment, "listedcreator", "quietcreator")
    update_profile(deployment, ids["listedcreator"], listed=True)
    response, html = await page(client, "/transparency/2026-10")
    assert response.status == 404  # not settled: nothing published
    settle(deployment, OCTOBER)

    _, html = await page(client, "/transparency")  # signed out: public
    assert 'href="/transparency/2026-10"' in html
    response, html = await page(client, "/transparency/2026-10")
    assert response.status == 200
    text = text_of(html)
    assert "Funders 1 Budgets €3.00 To creators €2.70 Fees €0.30" in text
    assert re.search(r'<th scope="row">listedcreator</th><td class="amount">€1.35</td>', html)
    assert "quietcreator" not in html
    for missing in ("/transparency/2026-09", "/transparency/2026-13"):
        response, html = await page(client, missing)
        assert response.status == 404, missing
