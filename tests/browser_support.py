"""What the browser tests share: Debian's chromium through Playwright, and the checks every page passes.

A test module uses it with ``from tests.browser_support import browser, needs_browser`` (the fixture, and
``pytestmark = needs_browser``), and the ``deployment`` and ``site`` fixtures the same way when its pages need
nothing more than SQLite. Every host but 127.0.0.1 and ``localhost`` resolves to nothing in the browser,
so a page that reached for another site would fail. ``localhost`` serves the pages of *another site* (a blog
with a flattr button): to the browser it is a different site from ``127.0.0.1``, which is what ``SameSite``
cookies and ``frame-ancestors`` are about.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.deployment import Deployment
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from tests.support import config, make, sqlite_copy
from tests.web_support import PASSWORD, french_catalog, translated_msgids

try:
    from axe_playwright_python.async_playwright import Axe
    from playwright.async_api import Browser, BrowserContext, Page, async_playwright
except ImportError:  # pragma: no cover - CI installs the test extra
    async_playwright = None

CHROMIUM = shutil.which("chromium") or ("/usr/bin/chromium" if Path("/usr/bin/chromium").exists() else None)
MISSING = (
    "Debian's chromium is not installed (apt install chromium)"
    if not CHROMIUM
    else "Playwright is not installed (pip install -e '.[test]')"
    if async_playwright is None
    else None
)
# Under CI a missing browser is a failure (.ci/run installs it); elsewhere the module is skipped.
needs_browser = pytest.mark.skipif(bool(MISSING) and not os.environ.get("CI"), reason=MISSING or "")

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "docs" / "screenshots"
PHONE = {"width": 375, "height": 812}
DESKTOP = {"width": 1200, "height": 900}
LOCALES = {"en": "en-GB", "fr": "fr-FR"}
ASSET_BUDGET = 100 * 1024  # bytes of a page's own assets (its stylesheet, icon, scripts, images)
# The text nodes of a page, trimmed and with runs of white space as one.
TEXT_NODES = """() => {
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  const found = [];
  for (let node = walker.nextNode(); node; node = walker.nextNode()) {
    const text = node.textContent.replace(/\\s+/g, " ").trim();
    if (text) found.push(text);
  }
  return found;
}"""


@pytest.fixture
async def browser() -> AsyncIterator[Browser]:
    assert not MISSING, f"{MISSING}: CI installs it (.ci/run, and the test extra)"
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--headless",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1, EXCLUDE localhost",
            ],
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture(name="deployment")
def web_deployment(tmp_path, sqlite_template, outbox) -> Iterator[Deployment]:
    """The pages need no second database: SQLite only, the outbox folder for the mail."""
    data = config(name="Flattr gateway")
    data["mail"] = {"outbox": str(outbox)}
    made = make(sqlite_copy(sqlite_template, tmp_path / "web.sqlite3"), data)
    yield made
    made.close()


@pytest.fixture(name="site")
async def served_site(deployment, aiohttp_server) -> str:
    """The pages on 127.0.0.1; the rate limits' clock stands still, so a test's timing never matters."""
    server = await aiohttp_server(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)), host="127.0.0.1")
    return f"http://127.0.0.1:{server.port}"


async def sign_in_here(page: Page, handle: str, password: str = PASSWORD) -> None:
    """Fill the sign-in form the page shows and send it, for where that leads elsewhere than /account (or fails)."""
    await page.locator("#login").fill(handle)
    await page.locator("#password").fill(password)
    await page.locator("main form button[type=submit]").click()


async def sign_in(page: Page, site: str, handle: str) -> None:
    await page.goto(site + "/signin")
    await sign_in_here(page, handle)
    await page.wait_for_url(site + "/account")


def watch_policy(page: Page) -> list[str]:
    """What the browser refused under the pages' Content-Security-Policy (an inline style or script would be)."""
    refused: list[str] = []
    page.on("console", lambda message: refused.append(message.text) if "Content Security Policy" in message.text else None)
    return refused


async def lang_of(page: Page) -> str | None:
    return await page.locator("html").get_attribute("lang")


def screenshot(name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    return SCREENSHOTS / f"{name}.png"


async def own_assets(context: BrowserContext, page: Page, site: str, path: str) -> int:
    """The bytes of what loading ``path`` fetched from this site, the page itself aside (each fetched again to weigh it)."""
    fetched: set[str] = set()

    def seen(request: Any) -> None:
        if request.resource_type != "document" and request.url.startswith(site + "/"):
            fetched.add(request.url)

    page.on("request", seen)
    await page.goto(site + path)
    await page.wait_for_load_state("load")
    page.remove_listener("request", seen)
    total = 0
    for url in sorted(fetched):
        response = await context.request.get(url)
        assert response.ok, url
        total += len(await response.body())
    return total


async def serious_violations(page: Page) -> list[str]:
    """What axe-core finds serious or critical on the page as it is (its context needs ``bypass_csp=True``)."""
    results = await Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']} at {[n['target'] for n in violation['nodes']]}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


async def english_left(page: Page) -> list[str]:
    """The text nodes of the page that are English msgids with a French translation (a French page shows none)."""
    english_msgids = translated_msgids(french_catalog())
    return [text for text in await page.evaluate(TEXT_NODES) if text in english_msgids]


async def sideways(page: Page) -> int | None:
    """How wide the page is, if it scrolls sideways at a phone's width (None if it fits)."""
    width = await page.evaluate("document.documentElement.scrollWidth")
    return width if width > PHONE["width"] else None


async def too_wide(browser: Browser, site: str, language: str, paths: Iterable[str], handle: str | None = None) -> dict[str, int]:
    """The pages of ``paths`` that scroll sideways on a phone, as "<path> at 375 px": their width (signed in as ``handle``)."""
    phone = await browser.new_context(locale=LOCALES[language], viewport=PHONE, is_mobile=True, has_touch=True)
    page = await phone.new_page()
    if handle is not None:
        await sign_in(page, site, handle)
    found = {}
    for path in paths:
        await page.goto(site + path)
        if (width := await sideways(page)) is not None:
            found[f"{path} at {PHONE['width']} px"] = width
    await phone.close()
    return found


async def page_problems(context: BrowserContext, page: Page, site: str, path: str, language: str) -> dict[str, Any]:
    """Every check a page passes, on ``path`` loaded in ``context`` (a desktop one with ``bypass_csp=True``):
    axe, its own assets' weight, its language, and no English left on a French page. Empty when all pass."""
    found: dict[str, Any] = {}
    size = await own_assets(context, page, site, path)
    if size > ASSET_BUDGET:
        found["heavy"] = size
    if await lang_of(page) != language:
        found["lang"] = await lang_of(page)
    bad = await serious_violations(page)
    if bad:
        found["axe"] = bad
    if language == "fr":
        english = await english_left(page)
        if english:
            found["english"] = english
    return found
