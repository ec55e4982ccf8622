"""What other sites embed: a thing's badge (an SVG image with its count) and the button's script, at stable addresses.

They are not pages: no session is read, no cookie is set, and anyone may
cache them for a short while, revalidating with the ``ETag`` (a 304 while
nothing changed). ``Cross-Origin-Resource-Policy: cross-origin`` lets a site
that isolates itself (COEP) load them. Only these two are embeddable: every
page says ``frame-ancestors 'none'``, and an image is not a frame.

The badge counts the thing's flattrs in the current period (one a funder,
whatever the points): the number a flattr changes at once, as the button's
script shows after one; what funders gave over all periods is only known
once each is settled. An unknown or hidden thing gets the plain badge, still
an image, so that a page embedding it never shows a broken one.
"""

from __future__ import annotations

import asyncio
import hashlib
from html import escape

from aiohttp import web

from gateway.errors import NotFound
from gateway.http.keys import DEPLOYMENT
from gateway.usecases.discovery import thing_counts
from gateway.web.render import assets

BADGE_PATH = "/things/{thing_id:[0-9]{1,18}}/badge.svg"
SCRIPT_PATH = "/button.js"
BADGE_AGE = 60  # seconds a badge may be shown from a cache before it is asked for again
SCRIPT_AGE = 300
# An SVG opened as a document runs nothing and may not be framed either.
EMBED_POLICY = "default-src 'none'; frame-ancestors 'none'; sandbox"
BRAND = "Flattr"  # a name, the same in every language: the badge has no other word


def badge_path(thing_id: int) -> str:
    return f"/things/{thing_id}/badge.svg"


def badge_svg(count: int | None) -> str:
    """The badge: "Flattr" and ``count`` beside it; None: "Flattr" alone."""
    left = 52
    number = "" if count is None else str(count)
    right = 12 + 7 * len(number) if number else 0
    width = left + right
    label = BRAND if count is None else f"{BRAND}: {number}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="20" viewBox="0 0 {width} 20" '
        f'role="img" aria-label="{escape(label)}">',
        f"<title>{escape(label)}</title>",
        '<clipPath id="r"><rect width="100%" height="20" rx="3"/></clipPath>',
        '<g clip-path="url(#r)">',
        f'<rect width="{left}" height="20" fill="#2e7d32"/>',
    ]
    if number:
        parts.append(f'<rect x="{left}" width="{right}" height="20" fill="#3d4450"/>')
    parts.append('<g fill="#fff" font-family="Verdana,DejaVu Sans,Geneva,sans-serif" font-size="11" text-anchor="middle">')
    parts.append(f'<text x="{left / 2:g}" y="14">{BRAND}</text>')
    if number:
        parts.append(f'<text x="{left + right / 2:g}" y="14">{number}</text>')
    parts.append("</g></g></svg>")
    return "".join(parts)


def cacheable(request: web.Request, body: bytes, content_type: str, max_age: int) -> web.Response:
    """``body`` with a strong ETag of its content, cacheable by anyone for ``max_age`` seconds; a 304 when it matches."""
    tag = hashlib.sha256(body).hexdigest()[:32]
    headers = {
        "Cache-Control": f"public, max-age={max_age}",
        "Cross-Origin-Resource-Policy": "cross-origin",
        "Content-Security-Policy": EMBED_POLICY,
    }
    sent = request.if_none_match or ()
    if any(given.value in (tag, "*") for given in sent):
        response = web.Response(status=304, headers=headers)
    else:
        response = web.Response(body=body, content_type=content_type, headers=headers)
    response.etag = tag
    return response


async def badge(request: web.Request) -> web.Response:
    deployment = request.app[DEPLOYMENT]
    try:
        counts = await asyncio.to_thread(thing_counts, deployment, int(request.match_info["thing_id"]))
        count: int | None = counts.flattrs_this_period
    except NotFound:
        count = None
    return cacheable(request, badge_svg(count).encode(), "image/svg+xml", BADGE_AGE)


async def script(request: web.Request) -> web.Response:
    """The button's script at an address that never changes (other sites cannot follow a hashed name)."""
    return cacheable(request, assets()["button.js"].body, "text/javascript", SCRIPT_AGE)


def install(app: web.Application) -> None:
    app.router.add_get(BADGE_PATH, badge, name="embed:badge")
    app.router.add_get(SCRIPT_PATH, script, name="embed:script")
