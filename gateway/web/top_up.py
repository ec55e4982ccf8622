"""Topping up the wallet through each enabled rail, and a top-up's own page, which asks the provider where it stands.

One form a rail, each with its own request key (a double submit makes one
top-up). What happens next is the rail's answer, whatever the rail: done at
once (the sandbox) goes back to the dashboard; an approval elsewhere
(PayPal) is a redirect to the provider's page, which sends the person back
to ``/top-ups/{id}/return`` and from there to the top-up's page; a card
(Stripe) lands on the top-up's page, where Stripe.js and ``card.js`` take
the card and confirm the payment with the provider, then reload the page.
Opening the page asks the provider again (``refresh_top_up``) while the
top-up is in flight, so it shows succeeded, processing or failed as the
provider has it. A card needs JavaScript (the card's number never touches
this site); the page says so, and offers the other rails.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from adapters import IN_FLIGHT, PaymentState
from gateway.core import keys
from gateway.errors import GatewayError, NotFound, RailUnavailable
from gateway.i18n import N_
from gateway.usecases.statements import top_up_of
from gateway.usecases.top_up import TopUp, refresh_top_up, top_up
from gateway.web.money_forms import amount_of, problem, request_key, written
from gateway.web.page import Page, Site

pages = Site()

# How each rail is named on the page, by its entry point's name; another rail is shown by its own name.
RAIL_NAMES = {
    "sandbox": N_("Sandbox (test money, no payment)"),
    "stripe": N_("Card"),
    "paypal": N_("PayPal"),
}
STATES = {
    PaymentState.CREATED: N_("started"),
    PaymentState.REQUIRES_ACTION: N_("waiting for you"),
    PaymentState.PROCESSING: N_("processing at the provider"),
    PaymentState.UNKNOWN: N_("waiting for the provider's answer"),
    PaymentState.SUCCEEDED: N_("succeeded"),
    PaymentState.FAILED: N_("failed"),
    PaymentState.REFUNDED: N_("refunded"),
    PaymentState.DISPUTED: N_("disputed"),
}


def _rails(page: Page) -> list[dict[str, Any]]:
    """The enabled rails that bring money in, each with the currencies it takes here."""
    units = [unit for unit in page.deployment.currencies if unit.outside_world]
    found = []
    for name, rail in sorted(page.deployment.rails.items()):
        codes = [unit.code for unit in units if rail.takes(unit.code)]
        if codes:
            label = page._(RAIL_NAMES[name]) if name in RAIL_NAMES else name
            found.append({"name": name, "label": label, "currencies": codes, "card": name == "stripe", "key": request_key()})
    return found


def _context(page: Page, **more: Any) -> dict[str, Any]:
    preferred = (page.account.preferred_currency if page.account else None) or page.deployment.settings.default_currency
    return {
        "rails": _rails(page),
        "preferred": preferred,
        "chosen": page.value("rail"),
        "values": {"amount": page.value("amount"), "currency": page.value("currency") or preferred},
        "here": "/dashboard/top-up",
        **more,
    }


@pages.page("GET", "/dashboard/top-up", signed_in=True)
async def top_up_form(page: Page) -> web.StreamResponse:
    return page.render("top_up.html", **_context(page))


@pages.page("POST", "/dashboard/top-up", signed_in=True)
async def top_up_post(page: Page) -> web.StreamResponse:
    try:
        rail = page.text("rail")
        amount = amount_of(page)
        started = await top_up(page.deployment, page.me, amount, rail, keys.client(f"p{page.me}", page.text("key")))
    except GatewayError as error:
        text, field = problem(page, error, page.value("currency"))
        return page.render("top_up.html", status=error.status, error=text, error_field=field, **_context(page))
    return _after(page, started)


def _after(page: Page, started: TopUp) -> web.Response:
    """The dashboard when the money is in; else the top-up's own page, which links to the provider's approval page
    where there is one: a browser refuses a form's redirect to another site under ``form-action 'self'``."""
    if started.status == PaymentState.SUCCEEDED:
        return page.redirect("/dashboard", "topped_up")
    return page.redirect(f"/dashboard/top-up/{started.id}")


@pages.page("GET", "/top-ups/{top_up_id}/return", signed_in=True)
async def back_from_provider(page: Page) -> web.StreamResponse:
    """Where a provider sends the person back (the rails' ``return_url``): the top-up's own page."""
    return page.redirect(f"/dashboard/top-up/{_top_up_id(page)}")


def _top_up_id(page: Page) -> int:
    text = page.request.match_info["top_up_id"]
    if not text.isdigit() or len(text) > 18:
        raise NotFound("no such top-up")
    return int(text)


@pages.page("GET", "/dashboard/top-up/{top_up_id}", signed_in=True)
async def top_up_page(page: Page) -> web.StreamResponse:
    """The funder's own top-up only (another's is not found); while in flight, the provider is asked where it stands."""
    found = await page.run(top_up_of, page.deployment, page.me, _top_up_id(page))
    unanswered = False
    if found.status in IN_FLIGHT:
        try:
            found = await refresh_top_up(page.deployment, found.id)
        except RailUnavailable:
            unanswered = True
    action = found.next_action or {}
    card = found.status == PaymentState.REQUIRES_ACTION and action.get("type") == "client_secret"
    stripe_js = page.deployment.settings.http.stripe_js_origin
    return page.render(
        "top_up_status.html",
        top_up=found,
        amount=written(page, found.amount),
        state=page._(STATES.get(PaymentState(found.status), N_("started"))),
        rail=page._(RAIL_NAMES[found.rail]) if found.rail in RAIL_NAMES else found.rail,
        in_flight=found.status in IN_FLIGHT,
        unanswered=unanswered,
        card=card and bool(stripe_js) and bool(action.get("publishable_key")),
        card_unready=card and not (stripe_js and action.get("publishable_key")),
        stripe_js=f"{stripe_js}/v3/" if stripe_js else None,
        publishable_key=action.get("publishable_key", ""),
        client_secret=action.get("client_secret", ""),
        approve_url=action.get("url") if action.get("type") == "redirect" else None,
        here=page.request.path,
    )
