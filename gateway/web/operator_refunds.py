"""Refund a top-up: find it by its number, say how much goes back, confirm, and the provider is asked.

The form that asks carries an idempotency key made when the page was
drawn, and the confirmation carries it on with the exact amount confirmed:
a confirmation sent twice (a double click, a reload) is one refund
(``refund_top_up`` replays a key it has seen).
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.core import keys
from gateway.errors import GatewayError, NotFound, ValidationError
from gateway.i18n import N_
from gateway.security import new_token
from gateway.usecases.in_flight import TopUpForRefund, top_up_for_refund
from gateway.usecases.refund import refund_top_up
from gateway.web.operator import for_operators
from gateway.web.page import Formats, Page, Site
from gateway.web.payment_words import STATES

pages = Site()

TOP_UPS = "/operator/top-ups"
REFUND = TOP_UPS + "/{top_up_id:[0-9]{1,18}}/refund"
NO_TOP_UP = N_("There is no top-up number %(id)s.")
BAD_AMOUNT = N_("Write an amount like 2.50, more than zero and at most %(most)s.")
NOTHING_LEFT = N_("Nothing of this top-up can be refunded now.")


def _top_up_id(text: str) -> int | None:
    return int(text) if text.isdigit() and len(text) <= 18 else None


async def _find(page: Page, top_up_id: int | None, **more: Any) -> dict[str, Any]:
    """The page's top-up (None if none is asked for or it does not exist), with a new key for its refund form."""
    found: TopUpForRefund | None = None
    missing = None
    if top_up_id is not None:
        try:
            found = await page.run(top_up_for_refund, page.deployment, top_up_id)
        except NotFound:
            missing = page._(NO_TOP_UP, id=top_up_id)
    return {
        "top_up": found,
        "asked": "" if top_up_id is None else str(top_up_id),
        "missing": missing,
        "states": {state: page._(label) for state, label in STATES.items()},
        "key": new_token(),
        "amount": "",
        "here": f"{TOP_UPS}?id={top_up_id}" if top_up_id is not None else TOP_UPS,
        **more,
    }


@pages.page("GET", TOP_UPS, signed_in=True)
@for_operators
async def top_ups(page: Page) -> web.StreamResponse:
    return page.render("operator_top_up.html", **await _find(page, _top_up_id(page.request.query.get("id", "").strip())))


def _amount(page: Page, top_up: TopUpForRefund) -> int:
    """The amount to refund in minor units: all that may go back if the field is empty, else what it says, checked."""
    text = page.text("amount").strip()
    if not text:
        if top_up.refundable <= 0:
            raise ValidationError("nothing left to refund", field="amount")
        return top_up.refundable
    minor = page.deployment.currencies.get(top_up.currency).parse(text)
    if not 0 < minor <= top_up.refundable:
        raise ValidationError("out of bounds", field="amount")
    return minor


@pages.page("POST", REFUND, signed_in=True)
@for_operators
async def refund(page: Page) -> web.StreamResponse:
    """Without ``confirmed``: the confirmation page; with it: the refund, asked of the provider under the form's key."""
    top_up_id = int(page.request.match_info["top_up_id"])
    found = await _find(page, top_up_id)
    top_up: TopUpForRefund | None = found["top_up"]
    if top_up is None:
        raise NotFound(f"no top-up #{top_up_id}")
    unit = page.deployment.currencies.get(top_up.currency)
    confirmed = page.text("confirmed") == "yes"
    try:
        minor = unit.parse(page.text("amount")) if confirmed else _amount(page, top_up)
        key = page.text("key")
        if not key:
            raise ValidationError("no idempotency key", field="key")
    except ValidationError as error:
        said = _said_of(page, top_up)
        shown = {**found, "amount": page.value("amount")}
        return page.render("operator_top_up.html", status=error.status, error=said, error_field="amount", **shown)
    if not confirmed:
        return page.render(
            "operator_refund_confirm.html",
            top_up=top_up,
            minor=minor,
            amount=unit.format_amount(minor),
            key=key,
            here=found["here"],
        )
    try:
        await refund_top_up(
            page.deployment,
            page.me,
            top_up_id,
            page.deployment.currencies.money(minor, unit.code),
            keys.client(f"p{page.me}", key),
        )
    except GatewayError as error:
        return page.form_error("operator_top_up.html", error, **await _find(page, top_up_id))
    return page.redirect(f"{TOP_UPS}?id={top_up_id}", "refund_asked")


def _said_of(page: Page, top_up: TopUpForRefund) -> str:
    if top_up.refundable <= 0:
        return page._(NOTHING_LEFT)
    return page._(BAD_AMOUNT, most=Formats(page.deployment, page.language).money(top_up.refundable, top_up.currency))
