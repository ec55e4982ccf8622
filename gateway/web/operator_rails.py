"""The rails' sync status: every top-up, withdrawal and refund still in flight, and a button that asks the providers now.

The button runs the janitor (``rails_sync.sync``, what ``gateway rails
sync`` runs from cron) and the page says what became of each payment asked
about, above what is still in flight after it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.usecases.in_flight import payments_in_flight
from gateway.usecases.rails_sync import SyncReport, sync
from gateway.web.operator import for_operators
from gateway.web.page import Page, Site
from gateway.web.payment_words import KINDS, STATES

pages = Site()

RAILS = "/operator/rails"


async def _rails(page: Page, report: SyncReport | None = None) -> dict[str, Any]:
    changed = None
    if report is not None:
        counted = (("top_up", report.top_ups), ("withdrawal", report.withdrawals), ("refund", report.refunds))
        changed = [
            (page._(KINDS[kind]), page._(STATES.get(state, state)), count)
            for kind, counts in counted
            for state, count in sorted(counts.items())
        ]
    return {
        "payments": await page.run(payments_in_flight, page.deployment),
        "kinds": {kind: page._(label) for kind, label in KINDS.items()},
        "states": {state: page._(label) for state, label in STATES.items()},
        "changed": changed,
        "sync_errors": report.errors if report is not None else [],
        "here": RAILS,
    }


@pages.page("GET", RAILS, signed_in=True)
@for_operators
async def rails(page: Page) -> web.StreamResponse:
    return page.render("operator_rails.html", **await _rails(page))


@pages.page("POST", RAILS + "/sync", signed_in=True)
@for_operators
async def ask_the_providers(page: Page) -> web.StreamResponse:
    """Ask every provider about what is in flight, now; safe beside cron's janitor (every question is keyed)."""
    return page.render("operator_rails.html", **await _rails(page, await sync(page.deployment)))
