"""The operator's settlement pages: settle the period that can be, follow it without JavaScript, read its report.

``POST /operator/settlement`` starts the settlement in this process's
settlement thread (``BackgroundSettlement``, as the JSON API's settle route
does) and answers at once with a redirect to the period's page. That page
reloads itself every two seconds (``<meta http-equiv="refresh">``, which the
Content-Security-Policy allows) while the thread runs, unless its reader
turned that off (``?reload=off``: a time limit one can turn off, as WCAG
2.2.1 asks), and stops once the thread does not run: then it shows the period's report, or why the run stopped, with
a button to resume it. The ledger's check is a button of its own: it reads
every account, which is too much to do on each reload.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.core.periods import Period
from gateway.core.states import PeriodStatus
from gateway.errors import EarlierPeriodUnsettled, GatewayError, NotFound, PeriodNotEnded, ValidationError
from gateway.http.keys import SETTLER
from gateway.i18n import N_
from gateway.usecases.calendar import current_period
from gateway.usecases.calendar import period as parse_period
from gateway.usecases.operator import verify_ledger
from gateway.usecases.period_list import begun_periods
from gateway.usecases.reports import period_report
from gateway.usecases.settlement import period_to_settle
from gateway.usecases.settlement.status import settlement_progress
from gateway.web.messages import describe
from gateway.web.operator import for_operators
from gateway.web.page import Page, Site
from gateway.web.report_view import report_sections

pages = Site()

INDEX = "/operator/settlement"
PERIOD = INDEX + "/{period:[0-9]{4}-W?[0-9]{2}}"
REFRESH_SECONDS = 2
NOT_ENDED = N_("No period can be settled yet: the next one has not ended.")
EARLIER_FIRST = N_("The period %(period)s must be settled first: periods settle in order.")
NO_CREATOR = N_("No creator earned anything in this currency.")


def _refusal(page: Page, error: GatewayError) -> str:
    """Why a period cannot be settled now, in the page's language."""
    if isinstance(error, PeriodNotEnded):
        return page._(NOT_ENDED)
    if isinstance(error, EarlierPeriodUnsettled):
        return page._(EARLIER_FIRST, period=error.details.get("period", ""))
    return page.say(describe(error))


def period_of(page: Page) -> Period:
    """The period the address names; one the deployment cannot have is not found."""
    try:
        return parse_period(page.deployment, page.request.match_info["period"])
    except ValidationError:
        raise NotFound("no such period") from None


async def _index(page: Page, **more: Any) -> dict[str, Any]:
    deployment = page.deployment
    candidate: Period | None = None
    refusal, status = None, None
    try:
        candidate = await page.run(period_to_settle, deployment)
        status = (await page.run(settlement_progress, deployment, candidate.id)).status
    except GatewayError as error:
        refusal = _refusal(page, error)
    now = current_period(deployment)
    return {
        "candidate": candidate.id if candidate else None,
        "candidate_closed": status == PeriodStatus.CLOSED,
        "refusal": refusal,
        "current": now.id,
        "current_ends": now.end,
        "begun": await page.run(begun_periods, deployment),
        "here": INDEX,
        **more,
    }


@pages.page("GET", INDEX, signed_in=True)
@for_operators
async def settlement(page: Page) -> web.StreamResponse:
    return page.render("operator_settlement.html", **await _index(page))


@pages.page("POST", INDEX, signed_in=True)
@for_operators
async def settle(page: Page) -> web.StreamResponse:
    """Start (or resume) settling the period named; a period settled already just shows its report."""
    try:
        named = parse_period(page.deployment, page.text("period"))
        period = await page.run(period_to_settle, page.deployment, named)
        progress = await page.run(settlement_progress, page.deployment, period.id)
        if progress.status != PeriodStatus.CLOSED:
            page.request.app[SETTLER].start(period)
    except GatewayError as error:
        return page.render("operator_settlement.html", status=error.status, error=_refusal(page, error), **await _index(page))
    return page.redirect(f"{INDEX}/{period.id}")


async def _period_page(page: Page, period: Period, **more: Any) -> dict[str, Any]:
    running, error = page.request.app[SETTLER].state(period.id)  # before the progress: see BackgroundSettlement.state
    reloading = running and page.request.query.get("reload") != "off"  # the reader may turn it off (WCAG 2.2.1)
    progress = await page.run(settlement_progress, page.deployment, period.id)
    status = progress.status.value if progress.status else ("settling" if running else "open")
    sections = None
    if status == PeriodStatus.CLOSED:
        sections = report_sections(page, await page.run(period_report, page.deployment, period.id))
    return {
        "period": period.id,
        "state": status,
        "running": running,
        "failure": error,
        "settled": progress.settled,
        "budgets": progress.budgets,
        "refresh": f"{REFRESH_SECONDS}; url={INDEX}/{period.id}" if reloading else None,
        "sections": sections,
        "no_creators": page._(NO_CREATOR),
        "check": None,
        "here": f"{INDEX}/{period.id}",
        **more,
    }


@pages.page("GET", PERIOD, signed_in=True)
@for_operators
async def period_progress(page: Page) -> web.StreamResponse:
    return page.render("operator_period.html", **await _period_page(page, period_of(page)))


@pages.page("POST", PERIOD + "/check", signed_in=True)
@for_operators
async def check_ledger(page: Page) -> web.StreamResponse:
    """The ledger's invariants, checked now in one snapshot: "balanced", or each breach."""
    breaches = [str(breach) for breach in await page.run(verify_ledger, page.deployment)]
    return page.render("operator_period.html", **await _period_page(page, period_of(page), check={"breaches": breaches}))
