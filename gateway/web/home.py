"""The home page, the language switcher, and the static assets."""

from __future__ import annotations

from aiohttp import web

from gateway.rules import LANGUAGES
from gateway.usecases.identity import profile
from gateway.web.language import remember
from gateway.web.page import Page, Site, local_path
from gateway.web.render import IMMUTABLE, served_assets

pages = Site()


@pages.page("GET", "/")
async def home(page: Page) -> web.StreamResponse:
    return page.render("home.html")


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
