"""Typed keys for what the application and each request carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from gateway.deployment import Deployment
    from gateway.http.batching import Batches
    from gateway.http.ratelimit import Limiter
    from gateway.usecases.identity.principal import Principal
    from gateway.usecases.settlement.background import BackgroundSettlement

DEPLOYMENT: web.AppKey[Deployment] = web.AppKey("deployment")
LIMITER: web.AppKey[Limiter] = web.AppKey("limiter")
BATCHES: web.AppKey[Batches] = web.AppKey("batches")  # the use cases called in batches (flattrs, token checks)
SETTLER: web.AppKey[BackgroundSettlement] = web.AppKey("settler")  # this process's settlement thread
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")  # the caller, or None
RATE_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("rate_headers")  # RateLimit-* of this request
SESSION_COOKIE = "fgw_session"  # the browser session (HttpOnly, SameSite=Lax)
# The name of every page's route starts with it (``gateway/web``): a page's form carries its CSRF token in a
# field, which the page checks, instead of the X-CSRF-Token header the API wants of a browser.
PAGE_ROUTE = "page:"


def is_page(request: web.Request) -> bool:
    """Whether ``request`` went to a page (HTML, forms) rather than to the JSON API."""
    return (request.match_info.route.name or "").startswith(PAGE_ROUTE)
