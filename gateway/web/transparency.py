"""The public transparency pages: each closed period's report, for anyone, signed in or not.

The totals per currency are all there; of the creators, only those who chose
to be listed (``public_report``). A period that is not closed (or does not
exist) is not found: nothing is published before the settlement ends.
"""

from __future__ import annotations

from aiohttp import web

from gateway.i18n import N_
from gateway.usecases.period_list import begun_periods
from gateway.usecases.reports import public_report
from gateway.web.operator_settlement import period_of
from gateway.web.page import Page, Site
from gateway.web.report_view import report_sections

pages = Site()

NO_LISTED_CREATOR = N_("No creator who chose to be listed earned anything in this currency.")


@pages.page("GET", "/transparency")
async def transparency(page: Page) -> web.StreamResponse:
    return page.render("transparency.html", periods=await page.run(begun_periods, page.deployment, True))


@pages.page("GET", "/transparency/{period:[0-9]{4}-W?[0-9]{2}}")
async def transparency_period(page: Page) -> web.StreamResponse:
    period = period_of(page)
    report = await page.run(public_report, page.deployment, period.id)  # NotFound unless closed: a 404 page
    return page.render(
        "transparency_period.html",
        period=period.id,
        sections=report_sections(page, report),
        no_creators=page._(NO_LISTED_CREATOR),
    )
