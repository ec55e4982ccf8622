"""The creator's pages: their things, their earnings per period (charted), what is held, and their auto-submit sites.

The money going out (withdrawals, payout destinations) is in
``gateway.web.payouts``; a thing's public page and its button snippets are
other pages'. A thing is registered and changed here with the rules the
JSON API's body models apply (``gateway.http.routes.things``), checked in
``thing_fields`` since a form has no model.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web

from gateway.errors import GatewayError, NotFound, ValidationError
from gateway.rules import CATEGORY_MAX, CONTENT_LANGUAGE, DESCRIPTION_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX
from gateway.urls import MAX_SITES, MAX_URL
from gateway.usecases.earnings_history import PeriodEarnings, earnings_by_period
from gateway.usecases.holds import held_earnings
from gateway.usecases.identity import profile
from gateway.usecases.own_things import things_of
from gateway.usecases.statements import Balance, balances_of
from gateway.usecases.things import ThingView, create_thing, get_thing, update_thing
from gateway.web.charts import Chart, bar_chart
from gateway.web.creator_errors import THINGS, form_error
from gateway.web.page import Formats, Page, Site

pages = Site()
THING_ID = "{thing_id:[0-9]{1,18}}"
LIMITS = {
    "url_max": MAX_URL,
    "title_max": TITLE_MAX,
    "description_max": DESCRIPTION_MAX,
    "category_max": CATEGORY_MAX,
    "tag_max": TAG_MAX,
    "tags_max": TAGS_MAX,
}


def earnings_charts(page: Page, rows: list[PeriodEarnings]) -> list[Chart]:
    """One bar chart a currency: what each period paid the creator in it."""
    by_currency: dict[str, list[tuple[str, int]]] = {}
    for row in rows:
        by_currency.setdefault(row.currency, []).append((row.period, row.amount))
    fmt = Formats(page.deployment, page.language)
    return [
        bar_chart(
            f"earnings-{code.lower()}",
            page._("Earnings in %(currency)s per period", currency=code),
            page._("What each period paid you in %(currency)s, after the platform's fee.", currency=code),
            bars,
            lambda minor, code=code: fmt.money(minor, code),  # type: ignore[misc]
            (page._("Period"), page._("Earned")),
        )
        for code, bars in by_currency.items()
    ]


def in_minor(page: Page, balances: list[Balance]) -> list[tuple[str, str, int]]:
    """Balances as templates show them (``fmt.money`` takes minor units): purpose, currency, amount."""
    found = []
    for b in balances:
        code = b.balance.currency.code
        found.append((b.purpose, code, page.deployment.currencies.get(code).to_minor(b.balance)))
    return found


async def _dashboard(page: Page, **more: object) -> dict[str, Any]:
    assert page.account is not None
    balances = await page.run(balances_of, page.deployment, page.me)
    history = await page.run(earnings_by_period, page.deployment, page.me)
    return {
        "things": await page.run(things_of, page.deployment, page.me),
        "balances": [
            (purpose, code, minor)
            for purpose, code, minor in in_minor(page, [b for b in balances if b.purpose in ("earnings", "payout")])
            if purpose == "earnings" or minor
        ],
        "history": history,
        "charts": earnings_charts(page, history),
        "held": await page.run(held_earnings, page.deployment, page.me),
        "sites": "\n".join(page.account.auto_submit_sites),
        "max_sites": MAX_SITES,
        "here": "/creator",
        **more,
    }


@pages.page("GET", "/creator", signed_in=True)
async def dashboard(page: Page) -> web.StreamResponse:
    return page.render("creator.html", **await _dashboard(page))


@pages.page("POST", "/creator/sites", signed_in=True)
async def save_sites(page: Page) -> web.StreamResponse:
    """The sites under which funders may register this creator's things by flattring them (auto-submit)."""
    typed = page.value("sites")
    try:
        sites = [line.strip() for line in page.text("sites").splitlines() if line.strip()]
        await page.run(profile.update_profile, page.deployment, page.me, auto_submit_sites=sites)
    except GatewayError as error:
        return form_error(page, "creator.html", error, THINGS, {}, **await _dashboard(page, sites=typed))
    return page.redirect("/creator", "sites_saved")


# A thing: registering, changing


def thing_fields(page: Page) -> dict[str, Any]:
    """The thing form's fields, checked as the JSON API's model checks them (the use case checks the rest)."""
    description = page.text("description")
    if len(description) > DESCRIPTION_MAX:
        raise ValidationError("description too long", field="description")
    language = page.text("language").strip() or None
    if language is not None and not re.fullmatch(CONTENT_LANGUAGE, language):
        raise ValidationError("not a language code", field="language")
    category = page.text("category").strip() or None
    if category is not None and len(category) > CATEGORY_MAX:
        raise ValidationError("category too long", field="category")
    tags = [tag for tag in page.text("tags").split(",") if tag.strip()]
    if len(tags) > TAGS_MAX:
        raise ValidationError("too many tags", field="tags")
    return {
        "title": page.text("title"),
        "description": description,
        "language": language,
        "category": category,
        "tags": tags,
    }


def _values(page: Page, thing: ThingView | None = None) -> dict[str, Any]:
    """What the form shows: what was posted, else the thing as it is, else nothing."""
    if page.form is not None or thing is None:
        names = ("url", "title", "description", "language", "category", "tags")
        values: dict[str, Any] = {name: page.value(name) for name in names}
        values["hidden"] = page.value("hidden") == "on"
        return values
    return {
        "url": thing.url,
        "title": thing.title,
        "description": thing.description,
        "language": thing.language or "",
        "category": thing.category or "",
        "tags": ", ".join(thing.tags),
        "hidden": thing.hidden,
    }


@pages.page("GET", "/creator/things/new", signed_in=True)
async def new_thing_form(page: Page) -> web.StreamResponse:
    return page.render("creator_thing.html", thing=None, values=_values(page), **LIMITS)


@pages.page("POST", "/creator/things/new", signed_in=True)
async def new_thing(page: Page) -> web.StreamResponse:
    try:
        fields = thing_fields(page)
        url = page.text("url").strip()
        made = await page.run(create_thing, page.deployment, page.me, url, **fields)
    except GatewayError as error:
        return form_error(page, "creator_thing.html", error, THINGS, {}, thing=None, values=_values(page), **LIMITS)
    return page.redirect(f"/creator/things/{made.id}", "thing_registered")


async def _own(page: Page) -> ThingView:
    """The signed-in creator's thing of the path; another's is not found here (its public page is elsewhere)."""
    thing = await page.run(get_thing, page.deployment, int(page.request.match_info["thing_id"]), page.me)
    if page.account is None or thing.owner != page.account.handle:
        raise NotFound("not one of your things")
    return thing


@pages.page("GET", f"/creator/things/{THING_ID}", signed_in=True)
async def thing_form(page: Page) -> web.StreamResponse:
    thing = await _own(page)
    return page.render("creator_thing.html", thing=thing, values=_values(page, thing), **LIMITS)


@pages.page("POST", f"/creator/things/{THING_ID}", signed_in=True)
async def change_thing(page: Page) -> web.StreamResponse:
    thing = await _own(page)
    try:
        changes = {**thing_fields(page), "hidden": page.value("hidden") == "on"}
        await page.run(update_thing, page.deployment, page.me, thing.id, changes)
    except GatewayError as error:
        values = {**_values(page), "url": thing.url}
        return form_error(page, "creator_thing.html", error, THINGS, {}, thing=thing, values=values, **LIMITS)
    return page.redirect(f"/creator/things/{thing.id}", "thing_saved")
