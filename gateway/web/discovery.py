"""The public discovery pages: the list of things (search, filters, three sorts), a thing's page, a creator's profile
and its Atom feed.

Everything here is what anyone may see: the use cases are called without a
viewer, so a hidden thing is missing even to its owner (their own pages show
it). Each thing's and creator's page carries ``<link rel="payment">``, as
Flattr's buttons did, so that a browser or a feed reader can offer to flattr
what is read; the addresses are absolute, from the deployment's ``http.base_url``.
"""

from __future__ import annotations

import re
from typing import Any

from aiohttp import web
from babel import Locale, UnknownLocaleError

from gateway.errors import GatewayError, NotFound
from gateway.http.schemas import decode_cursor, encode_cursor
from gateway.i18n import locale_of
from gateway.rules import HANDLE
from gateway.usecases.creator_profile import CreatorProfile, creator_profile
from gateway.usecases.discovery import NEW_FOR, SMALL_FUNDERS, Filters, list_things, thing_counts
from gateway.usecases.facets import facets
from gateway.usecases.things import ThingView, get_thing
from gateway.web.browse import SORT_LABELS, SORTS, Browse, PageSort, read_browse
from gateway.web.feed import FEED_TYPE, atom_feed
from gateway.web.page import Page, Site

pages = Site()
PAGE_SIZE = 20  # things a list shows before its "more" link
FEED_SIZE = 50  # the newest things of a creator a feed carries: readers keep what they have already seen
_HANDLE = re.compile(HANDLE)


def base_url(page: Page) -> str:
    """Where this deployment is reached from outside: absolute links (payment, feeds) start with it."""
    return page.deployment.settings.http.base_url.rstrip("/")


def language_name(code: str | None, language: str) -> str:
    """A thing's language as a reader of ``language`` names it (``fr`` is « français »); the code where Babel has no name."""
    if not code:
        return ""
    try:
        return Locale.parse(code.replace("-", "_")).get_display_name(locale_of(language)) or code
    except (UnknownLocaleError, ValueError):
        return code


async def things_of(
    page: Page, filters: Filters, sort: PageSort, limit: int, after: str = ""
) -> tuple[list[ThingView], str | None]:
    """A page of visible things, from the position ``after`` (a "more" link's), and the next one's (None on the last)."""
    found, following = await page.run(list_things, page.deployment, filters, sort, decode_cursor(after), limit, None)
    return found, encode_cursor(following) if following else None


def common(page: Page) -> dict[str, Any]:
    """What every discovery template is given besides its own."""
    return {
        "language_name": lambda code: language_name(code, page.language),
        "small_funders": SMALL_FUNDERS,
        "new_days": NEW_FOR.days,
    }


@pages.page("GET", "/things")
async def things_list(page: Page) -> web.StreamResponse:
    """The list, as its address asks; a query no list could have gets the page again saying what was wrong (a 422)."""
    offered = await page.run(facets, page.deployment)
    sorts = [(sort, page._(SORT_LABELS[sort])) for sort in SORTS]
    try:
        browse = read_browse(page.request.query)
        found, following = await things_of(page, browse.filters, browse.sort, PAGE_SIZE, browse.after)
    except GatewayError as error:
        return page.form_error(
            "things.html", error, browse=Browse(), things=[], more=None, facets=offered, sorts=sorts, **common(page)
        )
    more = browse.link(after=following) if following else None
    return page.render("things.html", browse=browse, things=found, more=more, facets=offered, sorts=sorts, **common(page))


@pages.page("GET", "/things/{thing_id:[0-9]{1,18}}")
async def thing_page(page: Page) -> web.StreamResponse:
    thing_id = int(page.request.match_info["thing_id"])
    thing = await page.run(get_thing, page.deployment, thing_id)
    counts = await page.run(thing_counts, page.deployment, thing_id)
    return page.render("thing.html", thing=thing, counts=counts, base=base_url(page), **common(page))


async def _creator(page: Page) -> CreatorProfile:
    handle = page.request.match_info["handle"]
    if not _HANDLE.fullmatch(handle):
        raise NotFound(f"no creator {handle!r}")
    return await page.run(creator_profile, page.deployment, handle)


@pages.page("GET", "/creators/{handle}")
async def creator_page(page: Page) -> web.StreamResponse:
    creator = await _creator(page)
    after = page.request.query.get("after", "")
    found, following = await things_of(page, Filters(owner=creator.handle), "new", PAGE_SIZE, after)
    more = f"/creators/{creator.handle}?after={following}" if following else None
    return page.render("creator_profile.html", creator=creator, things=found, more=more, base=base_url(page), **common(page))


@pages.page("GET", "/creators/{handle}/feed.atom")
async def creator_feed(page: Page) -> web.StreamResponse:
    creator = await _creator(page)
    found, _ = await things_of(page, Filters(owner=creator.handle), "new", FEED_SIZE)
    body = atom_feed(creator, found, base_url(page), page.deployment.settings.name)
    return web.Response(body=body, content_type=FEED_TYPE, charset="utf-8", headers=page.headers)
