"""The creator's money going out: withdrawing through each rail that pays out, their withdrawals, their payout destinations.

A withdrawal form carries an idempotency key made when the form is shown
(``new_key``): sending the form twice (a double click, a reload that posts
again) withdraws once, and both answers lead to the same withdrawal. The
key is the caller's (``keys.client``), as an API client's is.

Setting a destination asks the password again (and the code when two-factor
sign-in is on), as ``destinations.set_destination`` wants. A rail that makes
the creator an account (Stripe Connect) answers an onboarding link instead:
the page shows it as a link to follow, since the pages' Content-Security-Policy
(``form-action 'self'``) lets no form's answer redirect to another site.
Stripe sends the creator back to ``/payouts/{rail}/ready`` (done) or
``/payouts/{rail}/onboarding`` (the link expired: ask again).
"""

from __future__ import annotations

import re
import secrets
from datetime import datetime
from typing import Any

from aiohttp import web

from gateway.core import keys
from gateway.errors import EarningsHeld, GatewayError, ValidationError
from gateway.http.api import enforce
from gateway.http.keys import LIMITER
from gateway.http.ratelimit import RULES
from gateway.i18n import N_
from gateway.usecases.destinations import DESTINATION_MAX, onboard, set_destination
from gateway.usecases.holds import held_earnings
from gateway.usecases.payout_rails import PayoutRail, payout_rails, withdraw_to_destination
from gateway.usecases.statements import balances_of, withdrawal_of, withdrawals_of
from gateway.web.creator import in_minor
from gateway.web.creator_errors import DESTINATIONS, WITHDRAW, form_error
from gateway.web.money_forms import amount_of
from gateway.web.page import Formats, Page, Site

pages = Site()
RAIL = "{rail:[a-z0-9_-]{1,32}}"
PAGE_SIZE = 50  # withdrawals a page
# What a withdrawal's state means to its creator (``adapters.PaymentState``).
STATES = {
    "created": N_("Asked for: the provider is being asked"),
    "requires_action": N_("Waiting for you at the provider"),
    "processing": N_("On its way: the provider is paying it"),
    "unknown": N_("On its way: the provider did not answer yet, it is asked again"),
    "succeeded": N_("Paid"),
    "failed": N_("Not paid: the money is back in your earnings"),
    "refunded": N_("Given back after it was paid: the money is back in your earnings"),
    "disputed": N_("Contested at the provider"),
}


async def limit(page: Page, rule: str) -> None:
    """Count this request under ``rule`` for the signed-in person, with the API's own counts (a 429 past the limit)."""
    verdict = await page.request.app[LIMITER].hit(f"{rule}:p{page.me}", RULES[rule])
    enforce(page.request, verdict)


def new_key() -> str:
    """A withdrawal form's own id: the same form sent twice is one withdrawal."""
    return secrets.token_urlsafe(18)


# Withdrawing


async def _withdraw(page: Page, **more: object) -> dict[str, Any]:
    assert page.account is not None
    rails = await page.run(payout_rails, page.deployment, page.me)
    balances = await page.run(balances_of, page.deployment, page.me)
    currencies = page.deployment.currencies
    paid_out = [b for b in balances if b.purpose == "earnings" and currencies.get(b.balance.currency.code).outside_world]
    earnings = [(purpose, code, minor) for purpose, code, minor in in_minor(page, paid_out) if minor > 0]
    codes = [code for _, code, _ in earnings]
    preferred = page.account.preferred_currency or page.deployment.settings.default_currency
    posted = page.form is not None
    thresholds = _amounts(page, {code: page.deployment.settings.policy(code).totp_withdrawal_above for code in codes})
    values = {
        "rail": page.value("rail") if posted else _first_ready(rails),
        "amount": page.value("amount"),
        "currency": page.value("currency") if posted else (preferred if preferred in codes else (codes or [""])[0]),
        "payout_currency": page.value("payout_currency") if posted else preferred,
    }
    return {
        "rails": rails,
        "earnings": earnings,
        "held": await page.run(held_earnings, page.deployment, page.me),
        "payout_currencies": sorted({code for rail in rails for code in rail.currencies}),
        "values": values,
        "key": new_key(),
        "ask_code": (page.account.totp_enabled and bool(thresholds)) or bool(page.value("totp_code")),
        "thresholds": thresholds,
        "minimums": _amounts(page, {code: page.deployment.settings.policy(code).minimum_withdrawal for code in codes}),
        "here": "/creator/withdraw",
        **more,
    }


def _first_ready(rails: list[PayoutRail]) -> str:
    """The rail checked at first: the first that can pay this creator now."""
    ready = [rail.name for rail in rails if rail.destination or not rail.needs_destination]
    return (ready or [rail.name for rail in rails] or [""])[0]


def _amounts(page: Page, found: dict[str, int | None]) -> str:
    """Amounts of several currencies in a line (a policy's minimums, its thresholds); "" where none is set."""
    fmt = Formats(page.deployment, page.language)
    return ", ".join(fmt.money(minor, code) for code, minor in found.items() if minor is not None)


@pages.page("GET", "/creator/withdraw", signed_in=True)
async def withdraw_form(page: Page) -> web.StreamResponse:
    return page.render("creator_withdraw.html", **await _withdraw(page))


@pages.page("POST", "/creator/withdraw", signed_in=True)
async def withdraw_post(page: Page) -> web.StreamResponse:
    try:
        rail = page.text("rail")
        amount = amount_of(page)
        payout = page.text("payout_currency") or None
        key = page.text("key")
        if not key:
            raise ValidationError("no key: reload the page", field="key")
        totp_code = page.text("totp_code").strip() or None
        await limit(page, "withdraw")
        done = await withdraw_to_destination(
            page.deployment, page.me, amount, rail, keys.client(f"p{page.me}", key), payout, totp_code
        )
    except GatewayError as error:
        params = _error_params(page, error)
        return form_error(page, "creator_withdraw.html", error, WITHDRAW, params, **await _withdraw(page))
    return page.redirect(f"/creator/withdrawals/{done.id}", "withdrawal_asked")


def _error_params(page: Page, error: GatewayError) -> dict[str, object]:
    if isinstance(error, EarningsHeld) and isinstance(error.details.get("free_on"), str):
        return {"date": Formats(page.deployment, page.language).day(datetime.fromisoformat(error.details["free_on"]))}
    return {}


# Withdrawals


def _shown(page: Page) -> dict[str, Any]:
    """What the withdrawals' templates need to show one: its amounts in minor units, its state in words."""
    currencies = page.deployment.currencies
    return {
        "minor_of": lambda money: currencies.get(money.currency.code).to_minor(money),
        "state_names": {state: page._(text) for state, text in STATES.items()},
    }


@pages.page("GET", "/creator/withdrawals", signed_in=True)
async def withdrawals(page: Page) -> web.StreamResponse:
    """Newest first, ``PAGE_SIZE`` a page; ``?before=<id>`` the older ones (a malformed one is the first page)."""
    before = page.request.query.get("before", "")
    start = int(before) if re.fullmatch(r"[0-9]{1,18}", before) else None
    found = await page.run(withdrawals_of, page.deployment, page.me, start, PAGE_SIZE + 1)
    older = found[PAGE_SIZE - 1].id if len(found) > PAGE_SIZE else None
    return page.render("creator_withdrawals.html", withdrawals=found[:PAGE_SIZE], older=older, **_shown(page))


@pages.page("GET", "/creator/withdrawals/{withdrawal_id:[0-9]{1,18}}", signed_in=True)
async def withdrawal(page: Page) -> web.StreamResponse:
    found = await page.run(withdrawal_of, page.deployment, page.me, int(page.request.match_info["withdrawal_id"]))
    return page.render("creator_withdrawal.html", withdrawal=found, **_shown(page))


# Payout destinations


async def _destinations(page: Page, **more: object) -> dict[str, Any]:
    return {
        "rails": await page.run(payout_rails, page.deployment, page.me),
        "destination_max": DESTINATION_MAX,
        "failed_rail": None,
        "typed": "",
        "onboarding_url": None,
        "onboarding_rail": None,
        "here": "/creator/destinations",
        **more,
    }


@pages.page("GET", "/creator/destinations", signed_in=True)
async def destinations(page: Page) -> web.StreamResponse:
    return page.render("creator_destinations.html", **await _destinations(page))


@pages.page("POST", f"/creator/destinations/{RAIL}", signed_in=True)
async def destination_post(page: Page) -> web.StreamResponse:
    """Where a rail pays this creator (a PayPal address), after the password again."""
    rail = page.request.match_info["rail"]
    try:
        destination, password = page.text("destination"), page.text("password")
        code = page.text("totp_code").strip() or None
        await limit(page, "totp")  # a password to guess
        await page.run(set_destination, page.deployment, page.me, rail, destination, password, code)
    except GatewayError as error:
        context = await _destinations(page, failed_rail=rail, typed=page.value("destination"))
        return form_error(page, "creator_destinations.html", error, DESTINATIONS, {}, **context)
    return page.redirect("/creator/destinations", "destination_saved")


@pages.page("POST", f"/creator/destinations/{RAIL}/onboarding", signed_in=True)
async def onboarding_post(page: Page) -> web.StreamResponse:
    """An account at the provider (made once, kept as the destination) and the link to its onboarding pages."""
    rail = page.request.match_info["rail"]
    try:
        password, code = page.text("password"), page.text("totp_code").strip() or None
        await limit(page, "totp")  # a password to guess
        url = await onboard(page.deployment, page.me, rail, password, code)
    except GatewayError as error:
        context = await _destinations(page, failed_rail=rail)
        return form_error(page, "creator_destinations.html", error, DESTINATIONS, {}, **context)
    return page.render("creator_destinations.html", **await _destinations(page, onboarding_url=url, onboarding_rail=rail))


@pages.page("GET", f"/payouts/{RAIL}/ready", signed_in=True)
async def onboarding_done(page: Page) -> web.StreamResponse:
    """Where the provider sends the creator back once its pages are filled in."""
    return page.redirect("/creator/destinations", "onboarding_done")


@pages.page("GET", f"/payouts/{RAIL}/onboarding", signed_in=True)
async def onboarding_again(page: Page) -> web.StreamResponse:
    """Where the provider sends the creator whose link expired: a new one is asked from the destinations page."""
    return page.redirect("/creator/destinations", "onboarding_again")
