"""The operator's pages and the transparency pages in Debian's chromium (Playwright; skipped without it, except under CI).

An operator settles a period from its page with JavaScript off: the page
that follows reloads itself (a meta refresh) until the report shows. Then
every operator page, and the public transparency pages, in English and in
French: axe-core finds nothing serious, the page's own assets stay light, a
French page shows no English left, and at 375 pixels nothing scrolls sideways.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from gateway.core.periods import parse_period
from gateway.usecases.flattr import flattr
from gateway.usecases.identity.profile import update_profile
from gateway.usecases.identity.roles import set_role
from gateway.usecases.settlement import settle
from tests.browser_support import (
    DESKTOP,
    LOCALES,
    needs_browser,
    page_problems,
    screenshot,
    serious_violations,
    sign_in,
    too_wide,
)
from tests.browser_support import browser as browser  # the fixtures; the deployment is SQLite only
from tests.browser_support import served_site as served_site
from tests.browser_support import web_deployment as web_deployment
from tests.support import DECEMBER, eur, payable, top_up
from tests.test_settle_background import prepare_waits
from tests.test_settlement import fund, thing
from tests.test_web_operator import OPERATOR_PAGES

pytestmark = needs_browser
OCTOBER = parse_period("2026-10", "month")
SETTLE = {"en": "Settle the period 2026-10", "fr": "Régler la période 2026-10"}


def october(deployment, language: str) -> dict[str, int]:
    """An operator speaking ``language``; a funder who gave 3.00 EUR in October to a listed creator and another; December now."""
    ids = {handle: payable(deployment, handle) for handle in ("boss", "fan", "painter", "poet")}
    set_role(deployment, ids["boss"], "operator")
    update_profile(deployment, ids["boss"], language=language)
    update_profile(deployment, ids["painter"], listed=True)
    fund(deployment, ids["fan"], budget="3.00")
    for handle in ("painter", "poet"):
        flattr(deployment, ids["fan"], thing(deployment, ids[handle], handle))
    deployment.clock.set(DECEMBER)
    return ids


async def test_settling_as_operator_with_javascript_off_shows_the_report_after_the_page_reloads(browser, site, deployment):
    october(deployment, "en")
    context = await browser.new_context(locale="en-GB", java_script_enabled=False, viewport=DESKTOP)
    page = await context.new_page()
    await sign_in(page, site, "boss")
    looking = await browser.new_context(locale="en-GB", viewport=DESKTOP, bypass_csp=True)  # for axe, which needs scripts
    axe_page = await looking.new_page()
    await sign_in(axe_page, site, "boss")
    await page.get_by_role("link", name="Operate").click()
    await page.wait_for_url(site + "/operator")
    await page.get_by_role("navigation", name="Operator").get_by_role("link", name="Settlement").click()
    with prepare_waits(deployment.settings.database_url):  # the settlement waits: its page says it runs
        await page.get_by_role("button", name=SETTLE["en"]).click()
        await page.wait_for_url(site + "/operator/settlement/2026-10")
        assert await page.locator('meta[http-equiv="refresh"]').count() == 1
        assert await page.get_by_role("status").first.inner_text() == "Settling: the budgets are being gathered."
        # axe refuses any timed refresh; the page offers to turn it off (WCAG 2.2.1), which axe cannot see.
        running = site + "/operator/settlement/2026-10"
        await axe_page.goto(running)
        await axe_page.route(running, lambda route: route.fulfill(status=204))  # its reloads leave it as it is, for axe
        assert [bad.split(" ")[0] for bad in await serious_violations(axe_page)] == ["meta-refresh"]
        await axe_page.get_by_role("link", name="Stop reloading").click()
        await axe_page.wait_for_url(site + "/operator/settlement/2026-10?reload=off")
        assert await axe_page.locator('meta[http-equiv="refresh"]').count() == 0
        assert await serious_violations(axe_page) == []
    await looking.close()
    # The page reloads itself every two seconds while the settlement runs; once done, the report is there.
    await page.get_by_role("heading", name="Report").wait_for(timeout=60_000)
    assert await page.locator('meta[http-equiv="refresh"]').count() == 0  # done: it reloads no more
    assert await page.get_by_role("status").first.inner_text() == "Settled."
    await page.get_by_role("button", name="Check the ledger").click()
    assert await page.get_by_text("Balanced: every invariant of the ledger holds.").is_visible()
    figure = page.get_by_role("figure", name="What creators earned in EUR in 2026-10")
    assert "€1.35" in await figure.locator("table").inner_text()
    await page.screenshot(path=screenshot("operator-settlement-en"), full_page=True)
    await context.close()

    # The funder then finds the receipt of what the operator settled, and its chart (JavaScript off as well).
    funder = await browser.new_context(locale="en-GB", java_script_enabled=False, viewport=DESKTOP)
    page = await funder.new_page()
    await sign_in(page, site, "fan")
    await page.get_by_role("link", name="My budget").click()
    await page.get_by_role("link", name="Receipts of past periods").click()
    await page.get_by_role("link", name="Period 2026-10").click()
    await page.wait_for_url(site + "/dashboard/receipts/2026-10")
    assert await page.get_by_role("img", name="Where your EUR went in 2026-10").is_visible()
    assert await page.locator("figure.chart rect.chart-bar").count() == 3  # the two things and the fee
    numbers = await page.locator("figure.chart table.numbers").inner_text()
    assert numbers.count("€1.35") == 2  # 3.00 less the fee, in two halves
    await funder.close()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_every_operator_and_transparency_page_is_accessible_narrow_and_translated(browser, site, deployment, language):
    ids = october(deployment, language)
    await asyncio.to_thread(settle, deployment, OCTOBER)
    paid = await asyncio.to_thread(top_up, deployment, ids["fan"], eur("4.00"), "sandbox", "t")
    pages = [*OPERATOR_PAGES, f"/operator/top-ups?id={paid.id}", "/transparency", "/transparency/2026-10"]
    found: dict[str, Any] = {}

    desktop = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
    page = await desktop.new_page()
    await sign_in(page, site, "boss")
    for path in pages:
        problems = await page_problems(desktop, page, site, path, language)
        if problems:
            found[path] = problems
        if path == "/transparency/2026-10" and language == "fr":
            await page.screenshot(path=screenshot("transparency-fr"), full_page=True)
    # The pages a form answers with: the refund's confirmation, the providers asked, the ledger checked.
    await page.goto(site + f"/operator/top-ups?id={paid.id}")
    await page.locator("main form[method=post] button[type=submit]").click()
    await page.locator("input[name=confirmed]").wait_for(state="attached")
    answered = {"refund confirmation": await serious_violations(page)}
    await page.goto(site + "/operator/rails")
    await page.locator("main form[action='/operator/rails/sync'] button").click()
    await page.wait_for_url(site + "/operator/rails/sync")
    answered["rails asked"] = await serious_violations(page)
    await page.goto(site + "/operator/settlement/2026-10")
    await page.locator("main form[action$='/check'] button").click()
    await page.wait_for_url(site + "/operator/settlement/2026-10/check")
    answered["ledger checked"] = await serious_violations(page)
    found.update({label: bad for label, bad in answered.items() if bad})
    await desktop.close()

    found.update(await too_wide(browser, site, language, pages, "boss"))
    assert found == {}
