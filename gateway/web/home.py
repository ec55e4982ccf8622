"""The home page (what the gateway is, a search box, and three short lists of things), the language switcher, and the
static assets."""

from __future__ import annotations

from aiohttp import web

from gateway.i18n import N_
from gateway.rules import LANGUAGES
from gateway.usecases.discovery import Filters
from gateway.usecases.identity import profile
from gateway.web.browse import SORT_LABELS, SORTS, Browse
from gateway.web.discovery import common, things_of
from gateway.web.language import remember
from gateway.web.page import Page, Site, local_path
from gateway.web.render import IMMUTABLE, served_assets

pages = Site()
SHELF_SIZE = 5  # things in each of the home page's lists; each links to its whole list
EMPTY_SHELF = {  # what a list says while it has nothing to show
    "popular": N_("Nothing has been flattred yet this period."),
    "new": N_("No thing is registered yet."),
    "small": N_("Nothing new is waiting for its first funders."),
}


@pages.page("GET", "/")
async def home(page: Page) -> web.StreamResponse:
    """The lists a newcomer starts from; "popular" leaves out what nobody flattred this period, which is not popular."""
    lists = []
    for sort in SORTS:
        found, _ = await things_of(page, Filters(), sort, SHELF_SIZE)
        shown = [thing for thing in found if thing.score > 0] if sort == "popular" else found
        lists.append((sort, page._(SORT_LABELS[sort]), shown, page._(EMPTY_SHELF[sort])))
    return page.render("home.html", browse=Browse(), lists=lists, **common(page))


@pages.page("POST", "/language")
async def choose_language(page: Page) -> web.StreamResponse:
    """Keep the visitor's choice in a cookie; a signed-in person's is their account's setting (pages and mail)."""
    language = page.text("language")
    response = page.redirect(local_path(page.text("next")))
    if language not in LANGUAGES:
        return response  # a switcher offers only its languages: nothing to keep
    if page.principal is not None:
        await page.run(profile.update_profile, page.deployment, page.me, language=language)
    remember(response, page.deployment, language)
    return response


async def static_file(request: web.Request) -> web.Response:
    """A static asset, by the name that carries its hash: cached for a year, since a new version has a new name."""
    asset = served_assets().get(request.match_info["name"])
    if asset is None:
        raise web.HTTPNotFound()
    return web.Response(body=asset.body, content_type=asset.content_type, headers={"Cache-Control": IMMUTABLE})
