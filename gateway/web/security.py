"""The account's security pages: two-factor sign-in switched on and off, and a new e-mail address.

Two-factor sign-in is switched on in two steps, as the API does it: a new
secret is shown (as text and as an ``otpauth://`` link an authenticator app
opens), and only a first right code from the app puts it in force, so that
nobody locks themselves out with a secret their app never took. Switching it
off asks for a code too: a stolen session alone cannot lower the account's
guard. A new address asks for the password again, and changes nothing until
its mailed link is opened (the page says the same whether or not the address
was free).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import GatewayError
from gateway.usecases.identity import profile, totp
from gateway.usecases.identity.confirm import check_password
from gateway.web.account import limit
from gateway.web.page import Page, Site

pages = Site()


def _security(page: Page, **more: object) -> dict[str, Any]:
    return {"secret": None, "uri": None, "new_email": "", "here": "/account/security", **more}


def grouped(secret: str) -> str:
    """The secret in groups of four, as an app's manual entry is easiest to type from."""
    return " ".join(secret[index : index + 4] for index in range(0, len(secret), 4))


@pages.page("GET", "/account/security", signed_in=True)
async def security(page: Page) -> web.StreamResponse:
    return page.render("security.html", **_security(page))


@pages.page("POST", "/account/totp", signed_in=True)
async def begin(page: Page) -> web.StreamResponse:
    """A new secret, shown once in this answer; it is in force only after ``confirm``."""
    try:
        secret, uri = await page.run(totp.begin_totp, page.deployment, page.me)
    except GatewayError as error:
        return page.form_error("security.html", error, **_security(page))
    return page.render("security.html", **_security(page, secret=grouped(secret), uri=uri))


@pages.page("POST", "/account/totp/confirm", signed_in=True)
async def confirm(page: Page) -> web.StreamResponse:
    try:
        await limit(page, "totp")
        await page.run(totp.confirm_totp, page.deployment, page.me, page.text("code").strip())
    except GatewayError as error:
        return page.form_error("security.html", error, **_security(page, secret=page.value("secret") or None))
    return page.redirect("/account/security", "totp_on")


@pages.page("POST", "/account/totp/disable", signed_in=True)
async def disable(page: Page) -> web.StreamResponse:
    try:
        await limit(page, "totp")
        await page.run(totp.disable_totp, page.deployment, page.me, page.text("code").strip())
    except GatewayError as error:
        return page.form_error("security.html", error, **_security(page))
    return page.redirect("/account/security", "totp_off")


@pages.page("POST", "/account/email", signed_in=True)
async def change_email(page: Page) -> web.StreamResponse:
    """The link goes to the new address; the account keeps the old one until it is opened.

    The password again first: with the address, whoever holds a session alone
    (a shared computer, a stolen cookie) could reset the password and keep
    the account.
    """
    try:
        email, password = page.text("email"), page.text("password")
        await limit(page, "totp")  # a password to guess
        await page.run(check_password, page.deployment, page.me, password)
        await page.run(profile.update_profile, page.deployment, page.me, email=email)
    except GatewayError as error:
        return page.form_error("security.html", error, **_security(page, new_email=page.value("email")))
    return page.redirect("/account/security", "address_asked")
