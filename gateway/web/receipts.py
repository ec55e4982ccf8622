"""A funder's receipts: the settled periods, and for each where the budget went, thing by thing, with a chart."""

from __future__ import annotations

from aiohttp import web

from gateway.errors import GatewayError, NotFound
from gateway.i18n import N_
from gateway.usecases.calendar import period as parse_period
from gateway.usecases.receipt_periods import receipt_periods
from gateway.usecases.reports import Receipt, receipts_of
from gateway.web.charts import Chart, bar_chart
from gateway.web.money_forms import written
from gateway.web.page import Page, Site

pages = Site()

OUTCOMES = {
    "done": N_("given"),
    "returned": N_("kept in your wallet: nothing you flattred could receive it"),
    "no_means": N_("not given: the wallet held less than the minimum budget"),
    "pending": N_("being settled"),
}


@pages.page("GET", "/dashboard/receipts", signed_in=True)
async def receipts_list(page: Page) -> web.StreamResponse:
    return page.render("receipts.html", periods=await page.run(receipt_periods, page.deployment, page.me))


@pages.page("GET", "/dashboard/receipts/{period}", signed_in=True)
async def receipt(page: Page) -> web.StreamResponse:
    try:
        period_id = parse_period(page.deployment, page.request.match_info["period"]).id
    except GatewayError:
        raise NotFound("no such period") from None
    found = await page.run(receipts_of, page.deployment, page.me, period_id)
    if not found:
        raise NotFound(f"no receipt for {period_id}")
    shown = [(r, page._(OUTCOMES.get(r.status, r.status)), _chart(page, r, index)) for index, r in enumerate(found)]
    return page.render("receipt.html", period=period_id, receipts=shown, show=lambda value: written(page, value))


def _chart(page: Page, receipt: Receipt, index: int) -> Chart | None:
    """Where the money went: each thing's share, then the platform's fee and what went to the unspent account."""
    unit = page.deployment.currencies.get(receipt.currency)
    rows = [
        (page._(N_("%(title)s, by %(creator)s"), title=line.title, creator=line.creator), unit.to_minor(line.share))
        for line in receipt.lines
    ]
    fee, unspent = unit.to_minor(receipt.fee), unit.to_minor(receipt.unspent)
    if fee:
        rows.append((page._(N_("The platform's fee")), fee))
    if unspent:
        rows.append((page._(N_("The fund for budgets no flattr used")), unspent))
    if not rows:
        return None
    return bar_chart(
        f"where-{index}",
        page._(N_("Where your %(currency)s went in %(period)s"), currency=receipt.currency, period=receipt.period),
        page._(N_("Each thing's share of your budget, and the platform's fee, in %(currency)s."), currency=receipt.currency),
        rows,
        lambda minor: written(page, unit.from_minor(minor)),
        (page._(N_("Where")), page._(N_("Amount"))),
    )
