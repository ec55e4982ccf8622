"""The operator's pages: who may see them (``for_operators``), and the first one: the rules in force.

Every operator page is declared ``signed_in=True`` (anyone signed out is
sent to sign in) and wrapped in ``for_operators``: a person without the
operator role gets a 403 page, for a GET as for a POST, before anything is
read or done. The role is read from the account as it is now, not as it
was when the session began, so a revoked operator loses the pages at once.
"""

from __future__ import annotations

import functools
from typing import Any

from aiohttp import web
from babel.numbers import format_decimal, format_percent

from gateway.errors import Forbidden
from gateway.i18n import N_, locale_of
from gateway.usecases.identity.principal import OPERATOR
from gateway.usecases.rules_in_force import currency_rules
from gateway.web.page import Page, PageHandler, Site

pages = Site()

PERIOD_LENGTHS = {"month": N_("A month"), "week": N_("A week")}


def for_operators(handler: PageHandler) -> PageHandler:
    """The page for operators only: anyone else gets a 403 page and nothing is done."""

    @functools.wraps(handler)
    async def guarded(page: Page) -> web.StreamResponse:
        if page.account is None or page.account.role != OPERATOR:
            raise Forbidden("this page is for operators")
        return await handler(page)

    return guarded


def percent(page: Page, share: Any) -> str:
    """A share (``Decimal("0.1")``) as a percentage in the page's language, never rounded."""
    return format_percent(share, locale=locale_of(page.language), decimal_quantization=False)


def number(page: Page, value: Any) -> str:
    return format_decimal(value, locale=locale_of(page.language), decimal_quantization=False)


@pages.page("GET", "/operator", signed_in=True)
@for_operators
async def overview(page: Page) -> web.StreamResponse:
    settings = page.deployment.settings
    rules = await page.run(currency_rules, page.deployment)
    currencies = [
        {
            "code": rule.code,
            "kind": rule.kind,
            "minimum_budget_minor": rule.minimum_budget,
            "minimum_withdrawal_minor": rule.minimum_withdrawal,
            "fee": percent(page, rule.fee),
            "rate": number(page, rule.rate_from_default.value) if rule.rate_from_default else None,
            "rate_day": rule.rate_from_default.on if rule.rate_from_default else None,
            "rate_source": rule.rate_from_default.source if rule.rate_from_default else None,
        }
        for rule in rules
    ]
    rails = [
        {"name": name, "currencies": sorted(settings.rails.get(name, {}).get("currencies", []))}
        for name in sorted(page.deployment.rails)
    ]
    return page.render(
        "operator.html",
        currencies=currencies,
        rails=rails,
        default_currency=settings.default_currency,
        period_length=page._(PERIOD_LENGTHS.get(settings.period, settings.period)),
        weighted_points=settings.weighted_points,
        max_points=settings.max_points,
        unspent_account=settings.unspent_account,
        give_to_receive=settings.give_to_receive,
    )
