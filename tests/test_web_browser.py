"""The pages in a real browser: Debian's chromium, driven by Playwright (``executable_path``, never ``playwright install``).

Every host but 127.0.0.1 is unreachable to the browser. A person signs up in
French, opens the link from the outbox, confirms, signs in, makes a token and
switches to English: with JavaScript on, and again with it off, from the
keyboard alone. Then each page, in English and in French: axe-core finds no
serious or critical violation; at 375 pixels nothing scrolls sideways; its
own assets stay under 100 KB; a French page shows no English text that has a
French translation. Screenshots of the main pages go to ``docs/screenshots/``.

Without chromium or Playwright the module is skipped, except under CI (``CI``
set), where that is a failure: ``.ci/run`` installs chromium.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

from gateway.usecases.identity import profile, sessions, signup, tokens
from gateway.web.render import assets
from tests.browser_support import (
    ASSET_BUDGET,
    DESKTOP,
    LOCALES,
    PHONE,
    TEXT_NODES,
    lang_of,
    needs_browser,
    own_assets,
    screenshot,
    serious_violations,
    sign_in,
    sign_in_here,
    watch_policy,
)
from tests.browser_support import browser as browser  # the fixtures; the deployment is SQLite only
from tests.browser_support import served_site as served_site
from tests.browser_support import web_deployment as web_deployment
from tests.http_support import wait_for_mail
from tests.web_support import PASSWORD, french_catalog, link_of, translated_msgids

try:
    from playwright.async_api import BrowserContext, Page
except ImportError:  # pragma: no cover - CI installs the test extra
    pass

pytestmark = needs_browser
SIGNED_IN_PAGES = ["/account", "/account/security"]
PUBLIC_PAGES = ["/", "/signup", "/signin", "/reset", "/verify?token=abc", "/reset/confirm?token=abc", "/no-such-page"]


# -- a person's way through -------------------------------------------------------------------------


@pytest.mark.parametrize("javascript", [True, False], ids=["javascript", "no-javascript"])
async def test_signing_up_in_french_verifying_from_the_outbox_signing_in_and_making_a_token(
    browser, site, deployment, outbox, javascript
):
    handle = "camille" if javascript else "dominique"
    address = f"{handle}@example.org"
    context = await browser.new_context(locale="fr-FR", java_script_enabled=javascript, viewport=DESKTOP)
    page = await context.new_page()
    refused = watch_policy(page)
    keyboard = not javascript  # one way through with the mouse, the other from the keyboard alone

    await page.goto(site + "/")
    assert await lang_of(page) == "fr"
    await page.get_by_role("main").get_by_role("link", name="S'inscrire").click()
    await page.wait_for_url(site + "/signup")
    form = {"Pseudo": handle, "Adresse e-mail": address, "Mot de passe": PASSWORD}
    if keyboard:
        await page.get_by_label("Pseudo", exact=True).focus()
        for index, value in enumerate(form.values()):
            if index:
                await page.keyboard.press("Tab")
            await page.keyboard.type(value)
        await page.keyboard.press("Enter")  # submits the form (the currency stays the platform's)
    else:
        for label, value in form.items():
            await page.get_by_label(label, exact=True).fill(value)
        await page.get_by_label("Monnaie préférée").select_option("EUR")
        await page.get_by_role("main").get_by_role("button", name="S'inscrire").click()
    await page.wait_for_url(site + "/")
    assert (await page.get_by_role("status").inner_text()).startswith("Merci. Un message est en route")

    mail = await wait_for_mail(outbox, address)
    assert mail["Subject"] == "Confirmez votre adresse e-mail"
    await page.goto(site + link_of(mail))  # the outbox's link, on this test's server
    if javascript:
        await page.screenshot(path=screenshot("verify-fr"), full_page=True)
    confirm = page.get_by_role("button", name="Confirmer mon adresse")
    if keyboard:
        await confirm.focus()
        await page.keyboard.press("Enter")
    else:
        await confirm.click()
    await page.wait_for_url(site + "/signin")
    assert await page.get_by_role("status").inner_text() == "Votre adresse est confirmée. Vous pouvez vous connecter."

    if keyboard:
        await page.get_by_label("Pseudo ou adresse e-mail").focus()
        await page.keyboard.type(handle)
        await page.keyboard.press("Tab")
        await page.keyboard.type(PASSWORD)
        await page.keyboard.press("Enter")
    else:
        await page.get_by_label("Pseudo ou adresse e-mail").fill(handle)
        await page.get_by_label("Mot de passe").fill(PASSWORD)
        await page.get_by_role("main").get_by_role("button", name="Se connecter").click()
    await page.wait_for_url(site + "/account")
    assert await page.get_by_role("heading", level=1).inner_text() == "Votre compte"

    await page.get_by_label("Nom", exact=True).fill("mon blog")
    flattr = page.get_by_label("Flattr\N{NO-BREAK SPACE}: flattrer et gérer vos abonnements")
    if keyboard:
        await flattr.focus()
        await page.keyboard.press("Space")  # ticks the box
        await page.get_by_role("button", name="Créer le jeton").focus()
        await page.keyboard.press("Enter")
    else:
        await flattr.check()
        await page.get_by_role("button", name="Créer le jeton").click()
    secret = await page.locator("code.secret").inner_text()
    assert secret.startswith("fgw_")
    [made] = tokens.list_access_tokens(deployment, profile_id(deployment, handle))
    assert made.name == "mon blog" and made.scopes == frozenset({"read", "flattr"})
    if javascript:
        await page.screenshot(
            path=screenshot("token-created-fr"), full_page=True, mask=[page.locator("code.secret")]
        )  # a new secret each run

    english = page.get_by_role("button", name="English")
    if keyboard:
        await english.focus()
        await page.keyboard.press("Enter")
    else:
        await english.click()
    await page.wait_for_url(site + "/account")
    assert await lang_of(page) == "en"
    assert await page.get_by_role("heading", level=1).inner_text() == "Your account"
    assert profile.profile(deployment, profile_id(deployment, handle)).language == "en"  # the account's setting
    await page.get_by_role("button", name="Sign out").click()
    await page.wait_for_url(site + "/")
    assert await page.get_by_role("status").inner_text() == "You are signed out."
    assert refused == []  # nothing on the way was refused by the Content-Security-Policy
    await context.close()


def profile_id(deployment, handle: str) -> int:
    """The id of the account ``handle`` signs in to."""
    return int(sessions.sign_in_subject(deployment, handle).removeprefix("p"))


# -- every page, in both languages ----------------------------------------------------------------------


async def member(deployment, outbox: Path, handle: str, language: str) -> None:
    """An account made through the use cases (sign up, the mailed link opened), with one token to list."""
    address = f"{handle}@example.org"
    await _run(signup.sign_up, deployment, handle, address, PASSWORD, "EUR", language)
    mail = await wait_for_mail(outbox, address)
    token = link_of(mail).split("token=")[1]
    account = await _run(signup.verify_email, deployment, token)
    await _run(tokens.create_access_token, deployment, account, "my blog", ["read", "flattr"])


async def _run(function: Any, *args: Any) -> Any:
    return await asyncio.to_thread(function, *args)


@pytest.mark.parametrize("language", ["en", "fr"])
async def test_every_page_is_accessible_narrow_light_and_translated(browser, site, deployment, outbox, language):
    handle = f"reader-{language}"
    await member(deployment, outbox, handle, language)
    english_msgids = translated_msgids(french_catalog())
    found: dict[str, Any] = {"axe": {}, "wide": {}, "heavy": {}, "english": {}}
    weighed: dict[str, int] = {}

    async def check(page: Page, context: BrowserContext, label: str, path: str | None) -> None:
        """Load ``path`` (or take the page as it is), then look at it as each check does."""
        if path is not None:
            weighed[label] = size = await own_assets(context, page, site, path)
            if size > ASSET_BUDGET:
                found["heavy"][label] = size
        assert await lang_of(page) == language, label
        bad = await serious_violations(page)
        if bad:
            found["axe"][label] = bad
        if language == "fr":
            english = [text for text in await page.evaluate(TEXT_NODES) if text in english_msgids]
            if english:
                found["english"][label] = english
        name = {"/": "home", "/signup": "signup", "/account": "account", "/signin": "signin"}.get(label)
        if name:
            await page.screenshot(path=screenshot(f"{name}-{language}"), full_page=True)

    # Each page as it is read on a screen, with axe-core injected (bypass_csp: the pages allow no inline script).
    desktop = await browser.new_context(locale=LOCALES[language], viewport=DESKTOP, bypass_csp=True)
    page = await desktop.new_page()
    for path in PUBLIC_PAGES:
        await check(page, desktop, path, path)
    await sign_in(page, site, handle)
    for path in SIGNED_IN_PAGES:
        await check(page, desktop, path, path)
    await page.get_by_role("button", name="Sign out" if language == "en" else "Se déconnecter").click()
    await page.wait_for_url(site + "/")
    await page.goto(site + "/signin")
    await sign_in_here(page, handle, "not the password")
    await page.wait_for_selector("#form-error")
    await check(page, desktop, "/signin, a wrong password", None)
    await desktop.close()
    stylesheet = len(assets()["site.css"].body)
    assert all(size >= stylesheet for size in weighed.values()), weighed  # the weighing saw each page's stylesheet

    # The same pages on a phone: nothing scrolls sideways.
    phone = await browser.new_context(locale=LOCALES[language], viewport=PHONE, is_mobile=True, has_touch=True)
    page = await phone.new_page()

    async def narrow(path: str) -> None:
        await page.goto(site + path)
        assert await lang_of(page) == language
        width = await page.evaluate("document.documentElement.scrollWidth")
        if width > PHONE["width"]:
            found["wide"][path] = width

    for path in PUBLIC_PAGES:
        await narrow(path)
        if path == "/signup" and language == "en":
            await page.screenshot(path=screenshot("signup-en-phone"), full_page=True)
    await sign_in(page, site, handle)
    for path in SIGNED_IN_PAGES:
        await narrow(path)
    if language == "fr":
        await page.screenshot(path=screenshot("account-fr-phone"), full_page=True)
    await phone.close()

    assert found == {"axe": {}, "wide": {}, "heavy": {}, "english": {}}


async def test_the_french_check_sees_english_left_on_a_page(browser, site):
    """The check above can fail: English text that has a French translation, on a French page, is caught."""
    context = await browser.new_context(locale="fr-FR", java_script_enabled=True)
    page = await context.new_page()
    await page.goto(site + "/signin")
    await page.evaluate("document.querySelector('h1').textContent = 'Sign in'")  # as a forgotten _() would leave it
    english_msgids = translated_msgids(french_catalog())
    assert [text for text in await page.evaluate(TEXT_NODES) if text in english_msgids] == ["Sign in"]
    await context.close()
