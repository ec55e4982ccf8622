"""The account pages: sign up, confirm the address, sign in (with a code where the account asks for one), sign out,
reset the password, and the account's own page (language, preferred currency, personal access tokens).

Each calls the use cases the JSON API calls, under the same rate limits
(counted together: a page and the API share the counts of an address) and
sets the same session cookie. A mailed link opens a page that asks to
confirm (``GET /verify`` shows a button, ``POST /verify`` uses the link): mail
scanners fetch links, and a GET must not use one up.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import GatewayError, TotpRequired
from gateway.http.api import enforce
from gateway.http.keys import LIMITER, SESSION_COOKIE
from gateway.http.ratelimit import RULES
from gateway.http.signin import clear_session_cookie, counting_wrong_attempts, set_session_cookie
from gateway.i18n import N_
from gateway.rules import PASSWORD_MIN, TOKEN_NAME_MAX
from gateway.usecases.identity import passwords, profile, sessions, signup, tokens
from gateway.usecases.identity.principal import OPERATOR, SCOPES
from gateway.web.language import remember
from gateway.web.page import Page, Site, local_path

pages = Site()

# What each scope lets a token do, as the account page says it.
SCOPE_LABELS = {
    "read": N_("Read: your profile, balances, flattrs and statements"),
    "flattr": N_("Flattr: flattr things and manage subscriptions"),
    "money": N_("Money: top up, set budgets, withdraw and pay"),
    "things": N_("Things: register and change your things"),
    "account": N_("Account: change your settings and tokens"),
    OPERATOR: N_("Operator: run the platform"),
}


async def limit(page: Page, rule: str) -> None:
    """Count this request under ``rule`` by address, with the API's own (a 429 page past the limit)."""
    verdict = await page.request.app[LIMITER].hit(f"{rule}:ip{page.request.remote}", RULES[rule])
    enforce(page.request, verdict)


# Sign up


def _signup(page: Page, **more: object) -> dict[str, Any]:
    values = {
        "handle": page.value("handle"),
        "email": page.value("email"),
        "preferred_currency": page.value("preferred_currency") or page.deployment.settings.default_currency,
    }
    return {
        "values": values,
        "currencies": [unit.code for unit in page.deployment.currencies],
        "password_min": PASSWORD_MIN,
        "next": _next(page),
        **more,
    }


def _next(page: Page) -> str:
    """Where signing in leads: the ``next`` of the query or the form, if a path of this site (else the account)."""
    sent = page.request.query.get("next", "") if page.form is None else page.value("next")
    return local_path(sent, "/account")


@pages.page("GET", "/signup")
async def signup_form(page: Page) -> web.StreamResponse:
    if page.principal is not None:
        return page.redirect(_next(page))
    return page.render("signup.html", **_signup(page))


@pages.page("POST", "/signup")
async def signup_post(page: Page) -> web.StreamResponse:
    """The account is made when the mailed link is opened; the answer is the same whether or not the address had one."""
    try:
        handle, email, password = page.text("handle"), page.text("email"), page.text("password")
        currency = page.text("preferred_currency") or None
        await limit(page, "sign_up")
        await page.run(signup.sign_up, page.deployment, handle, email, password, currency, page.language)
    except GatewayError as error:
        return page.form_error("signup.html", error, **_signup(page))
    return page.redirect("/", "check_mail")


# The mailed link that confirms an address (a sign-up's, or a new address's)


@pages.page("GET", "/verify")
async def verify_form(page: Page) -> web.StreamResponse:
    """Only a button: opening the link does nothing until the person confirms (a mail scanner's GET uses nothing up)."""
    return page.render("verify.html", token=page.request.query.get("token", ""))


@pages.page("POST", "/verify")
async def verify_post(page: Page) -> web.StreamResponse:
    try:
        await page.run(signup.verify_email, page.deployment, page.text("token"))
    except GatewayError as error:
        return page.form_error("verify.html", error, token="")
    if page.principal is not None:
        return page.redirect("/account", "verified_signed_in")
    return page.redirect("/signin", "verified")


# Signing in and out


@pages.page("GET", "/signin")
async def signin_form(page: Page) -> web.StreamResponse:
    if page.principal is not None:
        return page.redirect(_next(page))
    return page.render("signin.html", login="", ask_code=False, next=_next(page))


@pages.page("POST", "/signin")
async def signin_post(page: Page) -> web.StreamResponse:
    """The code field appears once the password was right and the account wants a code (``TotpRequired``)."""
    login = page.value("login")
    ask_code = bool(page.value("totp_code"))
    try:
        password, code = page.text("password"), page.text("totp_code").strip() or None
        await limit(page, "log_in")

        def attempt() -> sessions.SessionGrant:
            return sessions.log_in(page.deployment, login, password, code)

        grant = await counting_wrong_attempts(page.request, page.deployment, login, lambda: page.run(attempt))
    except TotpRequired as error:
        return page.form_error("signin.html", error, login=login, ask_code=True, next=_next(page))
    except GatewayError as error:
        return page.form_error("signin.html", error, login=login, ask_code=ask_code, next=_next(page))
    previous = page.request.cookies.get(SESSION_COOKIE)
    if previous:
        await page.run(sessions.log_out, page.deployment, previous)  # this browser's other session, if any, ends
    response = page.redirect(_next(page), "signed_in")
    set_session_cookie(response, page.deployment, grant)
    return response


@pages.page("POST", "/signout", signed_in=True)
async def signout(page: Page) -> web.StreamResponse:
    token = page.request.cookies.get(SESSION_COOKIE)
    if token:
        await page.run(sessions.log_out, page.deployment, token)
    response = page.redirect("/", "signed_out")
    clear_session_cookie(response)
    return response


# A forgotten password


@pages.page("GET", "/reset")
async def reset_form(page: Page) -> web.StreamResponse:
    return page.render("reset.html", email="")


@pages.page("POST", "/reset")
async def reset_post(page: Page) -> web.StreamResponse:
    """The same answer whether or not an account has the address."""
    try:
        email = page.text("email")
        await limit(page, "log_in")
        await page.run(passwords.request_password_reset, page.deployment, email)
    except GatewayError as error:
        return page.form_error("reset.html", error, email=page.value("email"))
    return page.redirect("/signin", "reset_sent")


@pages.page("GET", "/reset/confirm")
async def reset_confirm_form(page: Page) -> web.StreamResponse:
    return page.render("reset_confirm.html", token=page.request.query.get("token", ""), password_min=PASSWORD_MIN)


@pages.page("POST", "/reset/confirm")
async def reset_confirm_post(page: Page) -> web.StreamResponse:
    """Every session of the account ends with the old password, this browser's too: sign in again."""
    token = page.value("token")
    try:
        await limit(page, "log_in")
        await page.run(passwords.reset_password, page.deployment, page.text("token"), page.text("password"))
    except GatewayError as error:
        keep = token if error.details.get("field") != "token" else ""
        return page.form_error("reset_confirm.html", error, token=keep, password_min=PASSWORD_MIN)
    response = page.redirect("/signin", "password_changed")
    clear_session_cookie(response)
    return response


# Links mailed before the pages existed named these addresses.


@pages.page("GET", "/verify-email")
async def old_verify_link(page: Page) -> web.StreamResponse:
    return page.redirect("/verify?" + page.request.query_string)


@pages.page("GET", "/reset-password")
async def old_reset_link(page: Page) -> web.StreamResponse:
    return page.redirect("/reset/confirm?" + page.request.query_string)


# The account


async def _account(page: Page, **more: object) -> dict[str, Any]:
    assert page.account is not None
    scopes = [*SCOPES, OPERATOR] if page.account.role == OPERATOR else list(SCOPES)
    return {
        "tokens": await page.run(tokens.list_access_tokens, page.deployment, page.me),
        "currencies": [unit.code for unit in page.deployment.currencies],
        "default_currency": page.deployment.settings.default_currency,
        "scopes": [(scope, page._(SCOPE_LABELS[scope])) for scope in scopes],
        "token_name_max": TOKEN_NAME_MAX,
        "created": None,
        "new_name": "",
        "new_scopes": ["read"],
        "here": "/account",  # what the language switcher comes back to, from the forms' answers too
        **more,
    }


@pages.page("GET", "/account", signed_in=True)
async def account(page: Page) -> web.StreamResponse:
    return page.render("account.html", **await _account(page))


@pages.page("POST", "/account/settings", signed_in=True)
async def account_settings(page: Page) -> web.StreamResponse:
    try:
        language, currency = page.text("language"), page.text("preferred_currency")
        await page.run(
            profile.update_profile, page.deployment, page.me, language=language or None, preferred_currency=currency or None
        )
    except GatewayError as error:
        return page.form_error("account.html", error, **await _account(page))
    response = page.redirect("/account", "settings_saved")
    if language:
        remember(response, page.deployment, language)
    return response


@pages.page("POST", "/account/tokens", signed_in=True)
async def create_token(page: Page) -> web.StreamResponse:
    """The new token is shown in this answer, once, and never stored in a cookie or anywhere else (only its hash is kept)."""
    name, scopes = page.value("name"), page.texts("scopes")
    try:
        _, secret = await page.run(tokens.create_access_token, page.deployment, page.me, page.text("name"), scopes)
    except GatewayError as error:
        return page.form_error("account.html", error, **await _account(page, new_name=name, new_scopes=scopes))
    return page.render("account.html", **await _account(page, created={"name": name.strip(), "secret": secret}))


@pages.page("POST", "/account/tokens/{token_id:[0-9]{1,18}}/revoke", signed_in=True)
async def revoke_token(page: Page) -> web.StreamResponse:
    try:
        await page.run(tokens.revoke_access_token, page.deployment, page.me, int(page.request.match_info["token_id"]))
    except GatewayError as error:
        return page.form_error("account.html", error, **await _account(page))
    return page.redirect("/account", "token_revoked")
