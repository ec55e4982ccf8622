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

from gateway.usecases.identity import profile
from gateway.usecases.statements import withdrawals_of
from tests.browser_support import DESKTOP, LOCALES, needs_browser, page_problems, screenshot, sign_in, too_wide, watch_policy
from tests.browser_support import browser as browser  # the fixtures; the deployment is SQLite only
from tests.browser_support import served_site as served_site
from tests.browser_support import web_deployment as web_deployment
from tests.creator_support import creator_with_earnings
from tests.support import balance

pytestmark = needs_browser


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

    assert await too_wide(browser, site, language, paths, "artist") == {}
