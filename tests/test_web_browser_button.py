"""The flattr button in a real browser, from another site: ``http://localhost:<port>`` embeds it, the platform is 127.0.0.1.

A creator copies the snippet from their page here onto their blog (the other
site). A reader who is not signed in flattrs from the blog: with JavaScript,
the confirmation opens in a popup, signing in comes back to it, and after the
flattr the popup tells the blog the new count (``postMessage``) and closes;
without JavaScript, the link leads to the confirmation, signing in comes back
to it, and the post leads back to the blog's registered address. A page of the
blog that frames the confirmation gets nothing: the browser refuses the frame.
Then the pages pass every check, in English and French, and fit a phone.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import pytest
from aiohttp import web

from gateway.usecases.calendar import current_period
from gateway.usecases.flattr import flattrs_of
from gateway.usecases.identity import profile
from gateway.usecases.things import register_thing
from tests.browser_support import (
    DESKTOP,
    LOCALES,
    needs_browser,
    page_problems,
    screenshot,
    sign_in,
    sign_in_here,
    too_wide,
    watch_policy,
)
from tests.browser_support import browser as browser  # the fixtures; the deployment is SQLite only
from tests.browser_support import served_site as served_site
from tests.browser_support import web_deployment as web_deployment
from tests.support import eur, payable, top_up
from tests.web_support import BASE_URL

pytestmark = needs_browser


@pytest.fixture
async def blog(aiohttp_server) -> tuple[str, dict[str, str]]:
    """Another site (a creator's blog): its address, and its pages by path, which the test writes."""
    pages: dict[str, str] = {}

    async def serve(request: web.Request) -> web.Response:
        if request.path not in pages:
            raise web.HTTPNotFound()
        return web.Response(text=pages[request.path], content_type="text/html")

    app = web.Application()
    app.router.add_get("/{name}", serve)
    server = await aiohttp_server(app, host="127.0.0.1")
    return f"http://localhost:{server.port}", pages


def blog_page(title: str, body: str) -> str:
    return f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{title}</title></head><body><h1>{title}</h1>{body}</body></html>'


async def until(condition: Callable[[], Any]) -> None:
    """Wait until ``condition()`` holds (what the server did is read through the use cases, off the loop)."""
    for _ in range(3000):
        if await asyncio.to_thread(condition):
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the condition never held")


def flattred(deployment, funder: int, thing: int) -> bool:
    return any(f.thing_id == thing for f in flattrs_of(deployment, funder, current_period(deployment)))


async def test_flattring_from_another_site_with_and_without_javascript(browser, site, blog, deployment):
    address, blog_pages = blog
    artist = payable(deployment, "artist")
    thing = register_thing(deployment, artist, f"{address}/post", "A post").id
    readers = {}
    for handle in ("reader-js", "reader-plain"):
        readers[handle] = payable(deployment, handle)
        top_up(deployment, readers[handle], eur("5.00"), "sandbox", key=handle)

    # The creator copies the snippet with the badge and the script from their page here, onto their blog.
    creator = await browser.new_context(viewport=DESKTOP)
    page = await creator.new_page()
    await page.goto(f"{site}/signin?next=/things/{thing}/button")
    await sign_in_here(page, "artist")
    await page.wait_for_url(f"{site}/things/{thing}/button")
    snippet = (await page.locator("#snippet-script").input_value()).replace(BASE_URL, site)
    await creator.close()
    assert snippet.startswith(f'<a class="flattr-button" href="{site}/flattr/{thing}">')
    blog_pages["/post"] = blog_page("A post", f"<p>Liked it? {snippet}</p>")
    blog_pages["/framed"] = blog_page("Framed", f'<iframe src="{site}/flattr/{thing}" title="flattr"></iframe>')

    # With JavaScript: the confirmation opens in a popup; the blog's count follows the flattr.
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    await page.goto(f"{address}/post")
    badge = page.locator("a.flattr-button img")
    await page.wait_for_function("document.querySelector('a.flattr-button img').naturalWidth > 0")
    async with page.expect_popup() as opened:
        await page.locator("a.flattr-button").click()
    popup = await opened.value
    refused = watch_policy(popup)
    await popup.wait_for_url(f"{site}/flattr/{thing}?popup=1")
    assert page.url == f"{address}/post"  # the blog stays where it was
    await popup.get_by_role("main").get_by_role("link", name="Sign in").click()
    await sign_in_here(popup, "reader-js")
    await popup.wait_for_url(f"{site}/flattr/{thing}?popup=1")  # back on the confirmation, signed in
    async with popup.expect_event("close"):  # the thank-you page tells the opener, and closes
        await popup.get_by_role("button", name="Flattr", exact=True).click()
    await page.wait_for_function("document.querySelector('a.flattr-button').dataset.flattrCount === '1'")
    assert (await badge.get_attribute("src")).endswith(f"/things/{thing}/badge.svg?count=1")
    await page.wait_for_function("document.querySelector('a.flattr-button img').naturalWidth > 52")  # with its number
    assert flattred(deployment, readers["reader-js"], thing)
    assert refused == []
    await context.close()

    # Without JavaScript: the link leads to the confirmation, and the post back to the blog's registered address.
    context = await browser.new_context(viewport=DESKTOP, java_script_enabled=False)
    page = await context.new_page()
    refused = watch_policy(page)
    await page.goto(f"{address}/post")
    await page.locator("a.flattr-button").click()
    await page.wait_for_url(f"{site}/flattr/{thing}")
    await page.get_by_role("main").get_by_role("link", name="Sign in").click()
    await sign_in_here(page, "reader-plain")
    await page.wait_for_url(f"{site}/flattr/{thing}")
    assert await page.get_by_role("status").inner_text() == "You are signed in."
    await page.get_by_role("button", name="Flattr", exact=True).click()
    await page.wait_for_url(f"{address}/post")  # form-action lets the post's redirect reach the registered address
    await until(lambda: flattred(deployment, readers["reader-plain"], thing))
    assert refused == []
    await context.close()

    # A page of the blog that frames the confirmation: the browser refuses the frame, so nothing in it can be clicked.
    context = await browser.new_context(viewport=DESKTOP)
    page = await context.new_page()
    async with page.expect_console_message(lambda message: "frame-ancestors" in message.text) as refusal:
        await page.goto(f"{address}/framed")
    assert "'none'" in (await refusal.value).text
    [frame] = page.main_frame.child_frames
    assert not frame.url.startswith(site)  # the browser's own error page instead of the confirmation
    assert await frame.locator("form").count() == 0
    await context.close()


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_the_button_pages_pass_every_check(browser, site, deployment, language):
    artist = payable(deployment, "artist")
    reader = payable(deployment, "reader")
    top_up(deployment, reader, eur("5.00"), "sandbox", key="reader")
    thing = register_thing(deployment, artist, "https://blog.example/posts/1", "A post").id
    for person in (artist, reader):
        profile.update_profile(deployment, person, language=language)  # a signed-in person's pages are in theirs
    found: dict[str, Any] = {}

    desktop = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
    page = await desktop.new_page()
    found["confirmation, signed out"] = await page_problems(desktop, page, site, f"/flattr/{thing}", language)
    await sign_in(page, site, "reader")
    found["confirmation"] = await page_problems(desktop, page, site, f"/flattr/{thing}", language)
    if language == "fr":
        await page.screenshot(path=screenshot("button-fr"), full_page=True)
    await desktop.clear_cookies()
    await sign_in(page, site, "artist")
    found["snippets"] = await page_problems(desktop, page, site, f"/things/{thing}/button", language)
    if language == "en":
        await page.screenshot(path=screenshot("button-snippets-en"), full_page=True)
    await desktop.close()

    found.update(await too_wide(browser, site, language, [f"/flattr/{thing}", f"/flattr/{thing}?popup=1"]))
    found.update(await too_wide(browser, site, language, [f"/things/{thing}/button"], "artist"))
    assert {label: problems for label, problems in found.items() if problems} == {}
