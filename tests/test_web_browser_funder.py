"""The funder's pages in Debian's chromium: topping up by card through localstripe's Stripe.js mock and through the
sandbox with JavaScript off, the receipt and its chart after a settlement, and every page checked in both languages.

The card: the deployment's ``http.stripe_js_origin`` is localstripe's own
address, which serves its Stripe.js mock at ``/v3/`` too (as Stripe serves
``https://js.stripe.com/v3/``); the Stripe rail reaches localstripe through
the suite's Stripe fake. The mock mounts a card Element of plain inputs, and
its ``confirmCardPayment`` performs only the 3-D Secure step of an intent
that already holds a card: it cannot send the typed card to the intent (a
real Stripe.js does). So the test does that one step, as Stripe would: it
reads the number typed in the Element and attaches a card with it to the
top-up's PaymentIntent (a 3-D Secure test card). Everything else is the
browser's: ``card.js`` confirms with the mock, the mock's 3-D Secure window
is passed, the page comes back, asks Stripe where the payment stands and
says it succeeded; the wallet holds the amount.

Every dashboard page, in English and French: axe-core finds no serious or
critical violation, its own assets stay under 100 KB, no English is left on
a French page, and at 375 pixels nothing scrolls sideways.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from gateway.core.periods import parse_period
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement.run import settle
from gateway.usecases.statements import balances_of, top_up_of
from gateway.usecases.subscriptions import subscribe
from gateway.usecases.things import register_thing
from gateway.usecases.top_up import top_up as start_top_up
from tests.browser_support import DESKTOP, LOCALES, needs_browser, page_problems, screenshot, sign_in, too_wide, watch_policy
from tests.browser_support import browser as browser  # the fixtures; the server serves this module's deployment
from tests.browser_support import served_site as served_site
from tests.fakes.localstripe import LocalStripe, fresh_app, patch_localstripe
from tests.fakes.stripe_connect import running_fake
from tests.support import NOVEMBER, config, eur, make, payable, sqlite_copy, top_up
from tests.test_money_flows import earnings

pytestmark = needs_browser

SECRET_KEY = "sk_test_funder_pages"
PUBLISHABLE_KEY = "pk_test_funder_pages"
THREE_D_SECURE = "4000002500003155"
OCTOBER = parse_period("2026-10", "month")


@pytest.fixture
async def stripe_js(monkeypatch) -> AsyncIterator[LocalStripe]:
    """localstripe on 127.0.0.1, serving its Stripe.js mock at ``/v3/`` as well as at its own ``/js.stripe.com/v3/``."""
    import localstripe.server

    recorder: list[LocalStripe] = []
    patch_localstripe(monkeypatch, lambda event: recorder[0]._record(event) if recorder else None)

    @web.middleware
    async def stripe_js_at_v3(request: web.Request, handler: Any) -> web.StreamResponse:
        """``/v3/`` is the mock, before localstripe's own middleware (which lets only ``/js.stripe.com/`` in unsigned)."""
        if request.path == "/v3/":
            return localstripe.server.localstripe_js(request)
        return await handler(request)

    app = fresh_app()
    app.middlewares.insert(0, stripe_js_at_v3)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    host, port = runner.addresses[0][:2]
    async with aiohttp.ClientSession() as session:
        server = LocalStripe(url=f"http://{host}:{port}", session=session)
        recorder.append(server)
        await server.wipe()
        try:
            yield server
        finally:
            await server.wipe()
            await runner.cleanup()


@pytest.fixture
async def deployment(tmp_path, sqlite_template, outbox, stripe_js) -> AsyncIterator[Any]:
    """SQLite only (the pages' use cases run on both in test_web_funder): the sandbox and Stripe, weighted points."""
    secrets = tmp_path / "stripe.toml"
    secrets.write_text(f'secret_key = "{SECRET_KEY}"\n', encoding="utf-8")
    secrets.chmod(0o600)
    async with running_fake(stripe_js.url) as front:
        data = config(name="Flattr gateway", weighted_points=True)
        data["mail"] = {"outbox": str(outbox)}
        data["http"] = {"stripe_js_origin": stripe_js.url}
        data["rails"]["stripe"] = {
            "api_base": front.url,
            "currencies": ["EUR", "USD"],
            "secrets_file": str(secrets),
            "publishable_key": PUBLISHABLE_KEY,
            "network_retries": 0,
            "timeout": 10,
        }
        made = make(sqlite_copy(sqlite_template, tmp_path / "funder.sqlite3"), data)
        try:
            yield made
        finally:
            for rail in made.rails.values():
                await rail.close()
            made.close()


def funder(deployment, handle: str, language: str = "en") -> int:
    return payable(deployment, handle, preferred_currency="EUR", language=language)


def wallet(deployment, who: int) -> Any:
    found = [b.balance for b in balances_of(deployment, who) if b.purpose == "wallet" and b.balance.currency.code == "EUR"]
    return found[0] if found else None


def settled_october(deployment, funders: list[int]) -> None:
    """Each funder gives 10 € in October to two creators' things, and October is settled; in November they flattr again."""
    bea, cy = (register_participant(deployment, handle) for handle in ("bea", "cy"))
    song = register_thing(deployment, bea, "https://example.org/rivers", "A song about rivers").id
    poems = register_thing(deployment, cy, "https://example.org/morning", "Poems for the morning").id
    for who in funders:
        top_up(deployment, who, eur("25.00"), "sandbox", key=f"seed-{who}")
        set_budget(deployment, who, eur("10.00"))
        flattr(deployment, who, song, 1)
        flattr(deployment, who, poems, 2)
    deployment.clock.set(NOVEMBER)
    settle(deployment, OCTOBER)
    for who in funders:
        flattr(deployment, who, song, 2)
        flattr(deployment, who, poems, 1)
        subscribe(deployment, who, song, 1, 6)


# -- topping up -----------------------------------------------------------------------------------------


async def test_topping_up_by_card_through_stripe_js(browser, site, deployment, stripe_js):
    me = await asyncio.to_thread(funder, deployment, "ann")
    context = await browser.new_context(locale="en-GB", viewport=DESKTOP)
    page = await context.new_page()
    refused = watch_policy(page)
    await sign_in(page, site, "ann")
    await page.goto(site + "/dashboard/top-up")
    card = page.get_by_role("region", name="Card")
    await card.get_by_label("Amount").fill("7.00")
    await card.get_by_role("button", name="Top up through Card").click()
    await page.wait_for_url(f"{site}/dashboard/top-up/*")
    top_up_id = int(page.url.rsplit("/", 1)[1])
    assert await page.locator("#top-up-state").inner_text() == "waiting for you"
    assert not await page.get_by_text("Paying by card needs JavaScript").is_visible()  # card.js has hidden it

    element = page.locator("#card-element")  # the mock's card Element, mounted by card.js
    await element.locator("input[placeholder=number]").fill(THREE_D_SECURE)
    for field, value in (("exp_month", "12"), ("exp_year", "30"), ("cvc", "123"), ("postal_code", "75001")):
        await element.locator(f"input[placeholder={field}]").fill(value)
    typed = await element.locator("input[placeholder=number]").input_value()
    intent = (await asyncio.to_thread(top_up_of, deployment, me, top_up_id)).rail_reference
    await attach_card(stripe_js, intent, typed)  # what the mock cannot do (see the module's docstring)

    await page.get_by_role("button", name="Pay €7.00").click()
    await page.get_by_role("button", name="Complete authentication").click()  # the mock's 3-D Secure window
    await page.wait_for_function("document.getElementById('top-up-state').textContent.trim() === 'succeeded'")
    assert await page.get_by_text("The money is in your wallet.").is_visible()
    assert wallet(deployment, me) == eur("7.00")
    assert refused == []
    await context.close()


async def attach_card(stripe_js: LocalStripe, intent_id: str, number: str) -> None:
    """A card PaymentMethod with ``number`` set on the intent and confirmed, as Stripe.js's confirmation does at Stripe."""
    auth = {"Authorization": f"Bearer {SECRET_KEY}"}
    card = {"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2030", "card[cvc]": "123"}
    async with stripe_js.session.post(f"{stripe_js.url}/v1/payment_methods", data=card, headers=auth) as response:
        assert response.status == 200, await response.text()
        method = (await response.json())["id"]
    async with stripe_js.session.post(
        f"{stripe_js.url}/v1/payment_intents/{intent_id}", data={"payment_method": method}, headers=auth
    ) as response:
        assert response.status == 200, await response.text()
    async with stripe_js.session.post(f"{stripe_js.url}/v1/payment_intents/{intent_id}/confirm", headers=auth) as response:
        assert response.status == 200, await response.text()
        assert (await response.json())["status"] == "requires_action"


async def test_topping_up_through_the_sandbox_without_javascript(browser, site, deployment):
    me = await asyncio.to_thread(funder, deployment, "ann")
    context = await browser.new_context(locale="en-GB", viewport=DESKTOP, java_script_enabled=False)
    page = await context.new_page()
    await sign_in(page, site, "ann")
    await page.goto(site + "/dashboard")
    await page.get_by_role("link", name="Top up my wallet").click()
    await page.wait_for_url(site + "/dashboard/top-up")
    assert await page.get_by_text("Paying by card needs JavaScript in your browser").is_visible()  # the others are offered
    sandbox = page.get_by_role("region", name="Sandbox (test money, no payment)")
    await sandbox.get_by_label("Amount").fill("12,50")
    await sandbox.get_by_role("button").click()
    await page.wait_for_url(site + "/dashboard")
    assert await page.get_by_role("status").inner_text() == "Your wallet is topped up."
    assert wallet(deployment, me) == eur("12.50")
    await context.close()


# -- the receipt ----------------------------------------------------------------------------------------


async def test_the_receipt_and_its_chart_after_a_settlement(browser, site, deployment):
    me = await asyncio.to_thread(funder, deployment, "amelie", "fr")
    await asyncio.to_thread(settled_october, deployment, [me])
    context = await browser.new_context(locale="fr-FR", viewport=DESKTOP)
    page = await context.new_page()
    await sign_in(page, site, "amelie")
    await page.goto(site + "/dashboard")
    await page.get_by_role("link", name="Reçus des périodes passées").click()
    await page.get_by_role("link", name="Période 2026-10").click()
    await page.wait_for_url(site + "/dashboard/receipts/2026-10")
    chart = page.get_by_role("img", name="Où sont allés vos EUR en 2026-10")
    assert await chart.is_visible()
    assert await page.locator("figure.chart rect.chart-bar").count() == 3  # two things and the fee
    numbers = await page.locator("figure.chart table.numbers").inner_text()
    assert "A song about rivers, par bea" in numbers and "3,00\u00a0€" in numbers and "6,00\u00a0€" in numbers
    assert "1,00\u00a0€" in numbers  # the fee
    await page.screenshot(path=screenshot("receipt-fr"), full_page=True)
    await context.close()


# -- every page, in both languages ------------------------------------------------------------------------


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_every_dashboard_page_is_accessible_narrow_light_and_translated(browser, site, deployment, language):
    handle = f"funder-{language}"
    me = await asyncio.to_thread(funder, deployment, handle, language)
    await asyncio.to_thread(settled_october, deployment, [me])
    await asyncio.to_thread(earnings, deployment, me, "3.00")
    sandbox = top_up(deployment, me, eur("5.00"), "sandbox", key=f"page-{language}")
    card = await start_top_up(deployment, me, eur("7.00"), "stripe", f"card-{language}")  # waiting for the card
    paths = [
        "/dashboard",
        "/dashboard/top-up",
        f"/dashboard/top-up/{sandbox.id}",
        f"/dashboard/top-up/{card.id}",
        "/dashboard/receipts",
        "/dashboard/receipts/2026-10",
    ]
    found: dict[str, Any] = {}
    desktop = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
    page = await desktop.new_page()
    await sign_in(page, site, handle)
    for path in paths:
        problems = await page_problems(desktop, page, site, path, language)
        if problems:
            found[path] = problems
        if path == "/dashboard" and language == "en":
            await page.screenshot(path=screenshot("dashboard-en"), full_page=True)
    await desktop.close()

    found.update(await too_wide(browser, site, language, paths, handle))
    assert found == {}
