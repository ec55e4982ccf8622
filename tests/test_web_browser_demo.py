"""The demo's banner in a real browser: on every page of a demo deployment, in English and in French, at a phone's width.

A deployment with the demo data (``usecases.demo``) serves its pages; each,
signed out and signed in as an account the banner names, passes the checks
every page passes (``page_problems``: axe, asset weight, language, no English
on a French page) and fits 375 pixels. Screenshots: ``docs/screenshots/demo-<lang>.png``.
"""

from __future__ import annotations

import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.demo import PASSWORD, load_demo
from tests.browser_support import DESKTOP, LOCALES, PHONE, needs_browser, page_problems, screenshot, sideways
from tests.browser_support import browser as browser  # the fixture
from tests.support import config, make, sqlite_copy

pytestmark = needs_browser
NOTE = {"en": "Demo data.", "fr": "Données de démonstration."}
# Who signs in on each language's pages (a signed-in person's pages are in their own language), and the form's labels.
SIGN_IN = {"en": ("bob", "Handle or e-mail address", "Password"), "fr": ("amelie", "Pseudo ou adresse e-mail", "Mot de passe")}


@pytest.fixture
async def site(tmp_path, sqlite_template, outbox, aiohttp_server):
    """The pages of a deployment holding the demo data (SQLite: the banner needs no second database)."""
    data = config(name="Flattr gateway", weighted_points=True)
    data["mail"] = {"outbox": str(outbox)}
    deployment = make(sqlite_copy(sqlite_template, tmp_path / "demo.sqlite3"), data)
    await load_demo(deployment)
    server = await aiohttp_server(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)), host="127.0.0.1")
    yield f"http://127.0.0.1:{server.port}"
    deployment.close()


async def test_every_page_of_the_demo_says_it_shows_demo_data(browser, site):
    for language in ("en", "fr"):
        context = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
        page = await context.new_page()
        for path in ("/", "/signin", "/no-such-page"):
            assert await page_problems(context, page, site, path, language) == {}, (language, path)
            assert (await page.get_by_role("note").inner_text()).startswith(NOTE[language]), (language, path)
        handle, login, password = SIGN_IN[language]
        await page.goto(site + "/signin")
        await page.get_by_label(login).fill(handle)
        await page.get_by_label(password, exact=True).fill(PASSWORD)
        await page.get_by_role("main").get_by_role("button").click()
        await page.wait_for_url(site + "/account")
        assert await page_problems(context, page, site, "/account", language) == {}, language
        assert (await page.get_by_role("note").inner_text()).startswith(NOTE[language])
        await page.goto(site + "/")
        await page.screenshot(path=screenshot(f"demo-{language}"), full_page=True)
        await context.close()

        phone = await browser.new_context(locale=LOCALES[language], viewport=PHONE)
        small = await phone.new_page()
        for path in ("/", "/signin"):
            await small.goto(site + path)
            assert await sideways(small) is None, (language, path)
        await phone.close()
