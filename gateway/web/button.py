"""The flattr button of other sites: a link to a confirmation page here, and the snippets a creator copies.

The button is a plain link to ``/flattr/{id}``, which works without
JavaScript: the page says what a flattr means this period and asks for it
with a POST form (its CSRF token checked, as on every page). A GET never
flattrs. After the flattr the funder goes back to the thing's own registered
address, never one taken from the request (no ``next``, no Referer), so that
the button cannot be made into an open redirect. A repeated post (a double
click) counts once: the form carries the points the page saw, and a post
that finds more was already done.

With the button's script on the other site (``embed.SCRIPT_PATH``), the
page opens in a popup (``?popup=1``); after the flattr it shows a small
thank-you page whose script sends the thing's new count to the opener, at
the origin of the thing's registered address only, and closes.

No site may frame these pages (``frame-ancestors 'none'``): a framed flattr
button could be clicked without its reader knowing. Only the badge is
embeddable, as an image.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote, urlsplit

from aiohttp import web
from yarl import URL

from gateway.errors import AlreadyFlattred, Forbidden, GatewayError, NoMeans, NotFound, OwnThing, PeriodClosed
from gateway.i18n import N_
from gateway.usecases.discovery import thing_counts
from gateway.usecases.flattr import flattr
from gateway.usecases.flattr_outlook import Outlook, outlook
from gateway.usecases.things import ThingView, get_thing
from gateway.web import embed
from gateway.web.messages import Said, describe
from gateway.web.page import Page, Site, error_page

THING = "{thing_id:[0-9]{1,18}}"

# What the confirmation page says of each refusal, closer than ``messages.describe``'s general sentences.
REFUSALS: list[tuple[type[GatewayError], Said]] = [
    (OwnThing, Said(N_("This is your own thing: you cannot flattr it."))),
    (NoMeans, Said(N_("Your wallet holds less than the minimum budget: top it up first, then flattr."))),
    (PeriodClosed, Said(N_("This period is being settled: flattrs now count in the next one. Try again in a moment."))),
    (NotFound, Said(N_("There is no such thing here, or its creator hid it."))),
]


def refusal(error: GatewayError) -> Said:
    for kind, said in REFUSALS:
        if isinstance(error, kind):
            return said
    return describe(error)


def ascii_address(url: str) -> str:
    """A registered address as a ``Location`` header carries it: non-ASCII percent-encoded, the host in punycode."""
    try:
        return url if url.isascii() else str(URL(url))
    except (ValueError, UnicodeError):
        return quote(url, safe="".join(chr(c) for c in range(33, 127)))


def origin_of(url: str) -> str | None:
    """The origin of a registered address, as a Content-Security-Policy and ``postMessage`` name it (None if odd)."""
    parts = urlsplit(ascii_address(url))
    try:
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme not in ("http", "https") or not re.fullmatch(r"[a-z0-9.\-]+", host):
        return None
    return f"{parts.scheme}://{host}" + (f":{port}" if port is not None else "")


def sign_in_link(path: str) -> str:
    """The sign-in page, coming back to ``path`` (a path of this site) once signed in."""
    return "/signin?next=" + quote(path, safe="")


class ButtonSite(Site):
    """The button's pages, and what other sites embed (``embed``), which are not pages: no session, no cookie."""

    def install(self, app: web.Application) -> None:
        super().install(app)
        embed.install(app)


pages = ButtonSite()


# The confirmation page


@dataclass(frozen=True)
class Share:
    """One budget of the funder's, and about what of it this thing would get with one more point."""

    code: str
    budget: int
    share: int


def shares(view: Outlook) -> list[Share]:
    """Each budget split by the period's points, this thing's point added: what settlement would give it, before fees."""
    total, here = view.points_given + 1, view.points_here + 1
    return [Share(code, amount, amount * here // total) for code, amount in sorted(view.budgets.items())]


async def _thing(page: Page) -> ThingView:
    """The thing of the path, as anyone sees it: a hidden one is not found, by its owner either (nobody flattrs it)."""
    return await page.run(get_thing, page.deployment, int(page.request.match_info["thing_id"]))


def _popup(page: Page) -> bool:
    source = page.form if page.form is not None else page.request.query
    return source.get("popup") == "1"


async def _confirmation(page: Page, thing: ThingView, error: GatewayError | None = None) -> web.Response:
    """The page that asks for the flattr (again, with what refused it)."""
    popup = _popup(page)
    here = f"/flattr/{thing.id}" + ("?popup=1" if popup else "")
    counts = await page.run(thing_counts, page.deployment, thing.id)
    view = await page.run(outlook, page.deployment, page.me, thing.id) if page.principal else None
    origin = origin_of(thing.url)
    if origin:
        page.send_form_to(origin)
    context: dict[str, Any] = {
        "thing": thing,
        "count": counts.flattrs_this_period,
        "view": view,
        "shares": shares(view) if view else [],
        "own": page.account is not None and page.account.handle == thing.owner,
        "popup": popup,
        "signin": sign_in_link(here),
        "signup": "/signup?next=" + quote(here, safe=""),
        "here": here,
    }
    if error is None:
        return page.render("flattr.html", **context)
    return page.render("flattr.html", status=error.status, error=page.say(refusal(error)), error_field=None, **context)


@pages.page("GET", "/flattr/" + THING)
async def confirm(page: Page) -> web.StreamResponse:
    try:
        thing = await _thing(page)
    except NotFound as error:
        return error_page(page, 404, refusal(error))
    return await _confirmation(page, thing)


@pages.page("POST", "/flattr/" + THING)
async def flattr_post(page: Page) -> web.StreamResponse:
    """Flattr, then back to the thing's registered address; a repeat of a post already taken does it once."""
    if page.principal is None:
        here = page.request.path + ("?popup=1" if _popup(page) else "")
        return page.redirect(sign_in_link(here), "sign_in_first")
    try:
        thing = await _thing(page)
    except NotFound as error:
        return error_page(page, 404, refusal(error))
    seen = page.value("seen")
    saw = int(seen) if seen.isdigit() and len(seen) <= 6 else None  # the points the page showed
    try:
        before = (await page.run(outlook, page.deployment, page.me, thing.id)).points_here
        if saw is None or before <= saw:  # more than the page saw: this post's twin was taken
            await page.run(flattr, page.deployment, page.me, thing.id)
    except AlreadyFlattred:
        pass  # as many points as a thing takes: the post did what was asked
    except GatewayError as error:
        return await _confirmation(page, thing, error)
    if _popup(page):
        counts = await page.run(thing_counts, page.deployment, thing.id)
        return page.render(
            "flattr_done.html", thing=thing, count=counts.flattrs_this_period, origin=origin_of(thing.url) or "", switcher=False
        )
    return page.redirect(ascii_address(thing.url))


# The snippets a creator copies


def snippets(base: str, thing: ThingView, alt: str) -> list[tuple[str, str]]:
    """(kind, HTML to copy): a plain link, the link with the badge, and both with the script that opens a popup."""
    link = f"{base}/flattr/{thing.id}"
    badge = base + embed.badge_path(thing.id)
    text = escape(alt)
    plain = f'<a class="flattr-button" href="{link}">{text}</a>'
    with_badge = f'<a class="flattr-button" href="{link}"><img src="{badge}" alt="{text}" height="20"></a>'
    script = f'<script src="{base}{embed.SCRIPT_PATH}" async></script>'
    return [("link", plain), ("badge", with_badge), ("script", f"{with_badge}\n{script}")]


@pages.page("GET", "/things/" + THING + "/button", signed_in=True)
async def button(page: Page) -> web.StreamResponse:
    """For the thing's creator only: what to paste into their own site."""
    try:
        thing = await page.run(get_thing, page.deployment, int(page.request.match_info["thing_id"]), page.me)
    except NotFound as error:
        return error_page(page, 404, refusal(error))
    assert page.account is not None
    if thing.owner != page.account.handle:
        return error_page(page, 403, describe(Forbidden("only its creator gets a thing's button")))
    base = page.deployment.settings.http.base_url.rstrip("/")
    alt = page._("Flattr “%(title)s”", title=thing.title)
    return page.render(
        "button.html", thing=thing, snippets=snippets(base, thing, alt), badge=embed.badge_path(thing.id), base=base
    )
