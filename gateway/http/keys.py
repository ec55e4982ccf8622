"""Typed keys for what the application and each request carry."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from ..deployment import Deployment
    from ..settlement.background import BackgroundSettlement
    from ..usecases.accounts import Principal
    from ..usecases.flattr import Click, Flattr
    from .batching import Batcher
    from .ratelimit import Limiter

DEPLOYMENT: web.AppKey[Deployment] = web.AppKey("deployment")
LIMITER: web.AppKey[Limiter] = web.AppKey("limiter")
FLATTRS: web.AppKey[Batcher[Click, Flattr]] = web.AppKey("flattrs")  # clicks, written in batches
TOKENS: web.AppKey[Batcher[str, Principal | None]] = web.AppKey("tokens")  # bearer tokens, checked in batches
SETTLER: web.AppKey[BackgroundSettlement] = web.AppKey("settler")  # this process's settlement thread
PRINCIPAL: web.RequestKey[Principal | None] = web.RequestKey("principal")  # the caller, or None
RATE_HEADERS: web.RequestKey[dict[str, str]] = web.RequestKey("rate_headers")  # RateLimit-* of this request
SESSION_COOKIE = "fgw_session"  # the browser session (HttpOnly, SameSite=Lax)
