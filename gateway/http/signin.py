"""What signing in does through either door, the API's ``/session`` or the page ``/signin``.

Both count wrong attempts against the account (``counting_wrong_attempts``)
and set the same session cookie (``set_session_cookie``): HttpOnly,
SameSite=Lax, Secure when the gateway is served over https.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from aiohttp import web

from gateway.deployment import Deployment
from gateway.errors import InvalidCredentials
from gateway.http.api import enforce
from gateway.http.keys import LIMITER, SESSION_COOKIE
from gateway.http.ratelimit import RULES
from gateway.usecases.identity import sessions
from gateway.usecases.identity.sessions import SessionGrant

T = TypeVar("T")


async def counting_wrong_attempts(
    request: web.Request, deployment: Deployment, login: str, attempt: Callable[[], Awaitable[T]]
) -> T:
    """Run ``attempt`` unless the account has had too many wrong passwords or codes lately, from any address.

    Each attempt is counted before it is checked, so that guesses sent all at
    once cannot slip past the count together; one that was not wrong is taken
    back off. The price: once the count is full, the owner too must wait.
    """
    limiter, rule = request.app[LIMITER], RULES["log_in_failures"]
    key = "log_in_failures:" + await asyncio.to_thread(sessions.sign_in_subject, deployment, login)
    counted = await limiter.hit(key, rule)
    if not counted.allowed:
        enforce(request, counted, "too many wrong attempts to sign in to this account")
    wrong = False
    try:
        return await attempt()
    except InvalidCredentials:
        wrong = True
        raise
    finally:
        if not wrong:
            await limiter.give_back(key, rule)


def set_session_cookie(response: web.StreamResponse, deployment: Deployment, grant: SessionGrant) -> None:
    # A lifetime rather than a date: the browser's clock, not ours, decides when a date has passed.
    lifetime = int((grant.expires_at - deployment.clock.now()).total_seconds())
    response.set_cookie(
        SESSION_COOKIE,
        grant.token,
        max_age=lifetime,
        httponly=True,
        samesite="Lax",
        secure=deployment.settings.http.secure_cookies,
        path="/",
    )


def clear_session_cookie(response: web.StreamResponse) -> None:
    response.del_cookie(SESSION_COOKIE, path="/")
