"""The funder's dashboard: wallets, budgets, this period's flattrs with what each would get now, subscriptions, and
moving earnings into the wallet.

What each flattr would get comes from ``gateway.usecases.projection``, which
divides the budget by settlement's own rule: the page shows the shares in
exact minor units, the fee deducted, summing to what the budget gives.
Every form posts here and comes back with a flash (or the page again, with
what was wrong); the earnings form carries a key of its own, so a double
submit moves the money once.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import GatewayError, ValidationError
from gateway.i18n import N_
from gateway.usecases.budgets import clear_budget, set_budget
from gateway.usecases.flattr import unflattr
from gateway.usecases.projection import projection
from gateway.usecases.statements import balances_of
from gateway.usecases.subscriptions import cancel, pause, resume, subscriptions_of
from gateway.usecases.thing_titles import titles_of
from gateway.usecases.transfers import move_earnings
from gateway.web.messages import FLASHES
from gateway.web.money_forms import amount_of, problem, request_key, written
from gateway.web.page import Page, Site

pages = Site()

FLASHES.update(
    {
        "budget_saved": N_("Your budget is saved."),
        "budget_cleared": N_("Your budget is removed: you give the minimum of your preferred currency."),
        "unflattred": N_("Your flattr is taken back."),
        "subscription_paused": N_("The subscription is paused."),
        "subscription_resumed": N_("The subscription is running again."),
        "subscription_cancelled": N_("The subscription is cancelled."),
        "earnings_moved": N_("Your earnings are in your wallet."),
        "topped_up": N_("Your wallet is topped up."),
    }
)
PURPOSES = {
    "wallet": N_("Wallet"),
    "earnings": N_("Earnings"),
    "payout": N_("Withdrawals in progress"),
}
SUBSCRIPTION_STATES = {
    "active": N_("running"),
    "paused": N_("paused"),
    "cancelled": N_("cancelled"),
    "finished": N_("finished"),
}
SUBSCRIPTION_ACTIONS = {
    "pause": (pause, "subscription_paused"),
    "resume": (resume, "subscription_resumed"),
    "cancel": (cancel, "subscription_cancelled"),
}


async def _dashboard(page: Page, **more: Any) -> dict[str, Any]:
    deployment, me = page.deployment, page.me
    balances = await page.run(balances_of, deployment, me)
    projected = await page.run(projection, deployment, me)
    subscriptions = await page.run(subscriptions_of, deployment, me)
    titles = await page.run(titles_of, deployment, [s.thing_id for s in subscriptions])
    earnings = [b for b in balances if b.purpose == "earnings" and b.available.amount > 0]
    return {
        "balances": balances,
        "purposes": PURPOSES,
        "projection": projected,
        "subscriptions": [(s, titles.get(s.thing_id, f"#{s.thing_id}")) for s in subscriptions],
        "subscription_states": SUBSCRIPTION_STATES,
        "earnings": earnings,
        "budget_currencies": [unit.code for unit in deployment.currencies],
        "default_currency": (page.account.preferred_currency if page.account else None) or deployment.settings.default_currency,
        "show": lambda value: written(page, value),
        "key": request_key(),
        "values": {"amount": page.value("amount"), "currency": page.value("currency")},
        "form": page.value("form"),  # which form the error (if any) is about
        "here": "/dashboard",
        **more,
    }


async def _again(page: Page, error: GatewayError, currency: str | None = None) -> web.Response:
    text, field = problem(page, error, currency)
    return page.render("dashboard.html", status=error.status, error=text, error_field=field, **await _dashboard(page))


@pages.page("GET", "/dashboard", signed_in=True)
async def dashboard(page: Page) -> web.StreamResponse:
    return page.render("dashboard.html", **await _dashboard(page))


@pages.page("POST", "/dashboard/budget", signed_in=True)
async def save_budget(page: Page) -> web.StreamResponse:
    try:
        amount = amount_of(page)
        await page.run(set_budget, page.deployment, page.me, amount)
    except GatewayError as error:
        return await _again(page, error, page.value("currency"))
    return page.redirect("/dashboard", "budget_saved")


@pages.page("POST", "/dashboard/budget/clear", signed_in=True)
async def remove_budget(page: Page) -> web.StreamResponse:
    try:
        await page.run(clear_budget, page.deployment, page.me, page.text("currency"))
    except GatewayError as error:
        return await _again(page, error)
    return page.redirect("/dashboard", "budget_cleared")


def _thing_id(page: Page) -> int:
    text = page.text("thing_id")
    if not text.isdigit() or len(text) > 18:
        raise ValidationError("not a thing", field="thing_id")
    return int(text)


@pages.page("POST", "/dashboard/unflattr", signed_in=True)
async def take_back(page: Page) -> web.StreamResponse:
    try:
        await page.run(unflattr, page.deployment, page.me, _thing_id(page))
    except GatewayError as error:
        return await _again(page, error)
    return page.redirect("/dashboard", "unflattred")


@pages.page("POST", "/dashboard/subscriptions/{action}", signed_in=True)
async def change_subscription(page: Page) -> web.StreamResponse:
    chosen = SUBSCRIPTION_ACTIONS.get(page.request.match_info["action"])
    if chosen is None:
        raise web.HTTPNotFound()
    action, flash = chosen
    try:
        await page.run(action, page.deployment, page.me, _thing_id(page))
    except GatewayError as error:
        return await _again(page, error)
    return page.redirect("/dashboard", flash)


@pages.page("POST", "/dashboard/earnings", signed_in=True)
async def move_to_wallet(page: Page) -> web.StreamResponse:
    """Under the form's own key: the same form sent twice moves the money once."""
    try:
        amount = amount_of(page)
        await page.run(move_earnings, page.deployment, page.me, amount, page.text("key"))
    except GatewayError as error:
        return await _again(page, error, page.value("currency"))
    return page.redirect("/dashboard", "earnings_moved")
