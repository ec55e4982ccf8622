"""The creator's pages in Debian's chromium (Playwright): withdrawing with JavaScript off, and every page checked.

A creator whose thing was flattred in two settled periods signs in, reads
their dashboard (the chart and its table), and withdraws through the
sandbox from the form alone. Then each of the creator's pages, in English
and in French, passes ``page_problems`` (axe-core, assets, language, no
English left) and fits a 375-pixel phone. Screenshots:
``docs/screenshots/creator-en.png`` and ``withdraw-fr.png``.
"""

from __future__ import annotations

import asyncio

import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.identity import profile
from gateway.usecases.statements import withdrawals_of
from tests.browser_support import DESKTOP, LOCALES, PHONE, needs_browser, page_problems, screenshot, sideways, watch_policy
from tests.browser_support import browser as browser  # the fixture
from tests.creator_support import creator_with_earnings
from tests.support import PASSWORD, balance, config, make, sqlite_copy

try:
    from playwright.async_api import Page
except ImportError:  # pragma: no cover - CI installs the test extra
    pass

pytestmark = needs_browser


@pytest.fixture
def deployment(tmp_path, sqlite_template, outbox):
    """The pages need no second database: SQLite only."""
    data = config(name="Flattr gateway")
    data["mail"] = {"outbox": str(outbox)}
    made = make(sqlite_copy(sqlite_template, tmp_path / "web.sqlite3"), data)
    yield made
    made.close()


@pytest.fixture
async def site(deployment, aiohttp_server) -> str:
    server = await aiohttp_server(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)), host="127.0.0.1")
    return f"http://127.0.0.1:{server.port}"


async def sign_in(page: Page, site: str, handle: str) -> None:
    await page.goto(site + "/signin")
    await page.locator("#login").fill(handle)
    await page.locator("#password").fill(PASSWORD)
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_url(site + "/account")


async def test_withdrawing_as_creator(browser, site, deployment):
    ids = await creator_with_earnings(deployment)
    context = await browser.new_context(locale="en-GB", java_script_enabled=False, viewport=DESKTOP)
    page = await context.new_page()
    refused = watch_policy(page)
    await sign_in(page, site, "artist")
    await page.get_by_role("link", name="My creations").click()
    await page.wait_for_url(site + "/creator")
    assert await page.get_by_role("heading", level=1).inner_text() == "My creations"
    assert await page.get_by_role("link", name="The comic", exact=True).get_attribute("href") == f"/things/{ids['thing']}"
    chart = page.get_by_role("img", name="Earnings in EUR per period")
    assert await chart.count() == 1
    await page.screenshot(path=screenshot("creator-en"), full_page=True)

    await page.get_by_role("main").get_by_role("link", name="Withdraw", exact=True).click()
    await page.wait_for_url(site + "/creator/withdraw")
    assert await page.get_by_label("sandbox").is_checked()
    await page.get_by_label("Amount").fill("15.00")
    assert await page.get_by_label("Paid out in").input_value() == "EUR"  # the preferred currency
    await page.get_by_role("main").get_by_role("button", name="Withdraw").click()
    (done,) = await asyncio.to_thread(withdrawals_of, deployment, ids["artist"])
    await page.wait_for_url(site + f"/creator/withdrawals/{done.id}")
    assert await page.locator(".flash").inner_text() == "Your withdrawal is asked for. Here is where it stands."
    assert await page.locator("p.state").inner_text() == "Paid"
    assert balance(deployment, ids["artist"], "earnings") == 300
    assert refused == []
    await context.close()


PAGES = [
    "/creator",
    "/creator/things/new",
    "/creator/things/{thing}",
    "/creator/withdraw",
    "/creator/withdrawals",
    "/creator/withdrawals/{withdrawal}",
    "/creator/destinations",
]


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_every_creator_page_is_accessible_narrow_light_and_translated(browser, site, deployment, language):
    ids = await creator_with_earnings(deployment)
    from tests.support import withdraw

    done = await asyncio.to_thread(
        withdraw, deployment, ids["artist"], __import__("moneyed").Money("4.00", "EUR"), "sandbox", "k"
    )
    await asyncio.to_thread(profile.update_profile, deployment, ids["artist"], language=language)
    paths = [path.format(thing=ids["thing"], withdrawal=done.id) for path in PAGES]

    desktop = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
    page = await desktop.new_page()
    await sign_in(page, site, "artist")
    problems = {path: found for path in paths if (found := await page_problems(desktop, page, site, path, language))}
    await page.goto(site + "/creator/withdraw")
    await page.locator("#amount").fill("900.00")  # more than there is: the form again, with its error
    await page.locator("main form button[type=submit]").click()
    await page.wait_for_selector("#form-error")
    if language == "fr":
        await page.screenshot(path=screenshot("withdraw-fr"), full_page=True)
    assert problems == {}
    await desktop.close()

    phone = await browser.new_context(locale=LOCALES[language], viewport=PHONE, is_mobile=True, has_touch=True)
    page = await phone.new_page()
    await sign_in(page, site, "artist")
    wide = {}
    for path in paths:
        await page.goto(site + path)
        if (width := await sideways(page)) is not None:
            wide[path] = width
    assert wide == {}
    await phone.close()
