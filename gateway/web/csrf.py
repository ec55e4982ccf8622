"""The CSRF token of every form a page sends, and the check of every form posted to a page.

A signed-in browser's forms carry its session's ``csrf_token`` (the one the
API gives at ``POST /session`` for its ``X-CSRF-Token`` header). Before
sign-in there is no session, so the forms that come first (sign up, sign in,
reset a password, the language switcher) use a double-submit token: a random
value in a cookie of its own, set by the first page that needs it, and the
same value in a hidden field; another site can neither read the cookie nor
set it (HttpOnly, SameSite=Lax, and under https the ``__Host-`` prefix, so
that no subdomain can plant one). A post is taken only when the field
equals the expected token, compared in constant time; else it is refused
with a 403 page and nothing is done.
"""

from __future__ import annotations

from aiohttp import web

from gateway.deployment import Deployment
from gateway.errors import CsrfFailed
from gateway.security import new_token, same
from gateway.usecases.identity.principal import Principal

FIELD = "csrf_token"
COOKIE = "fgw_csrf"
SECURE_COOKIE = "__Host-fgw_csrf"  # a __Host- cookie: Secure, Path=/ and no Domain, which browsers enforce


def cookie_name(deployment: Deployment) -> str:
    return SECURE_COOKIE if deployment.settings.http.secure_cookies else COOKIE


def form_token(request: web.Request, deployment: Deployment, principal: Principal | None) -> tuple[str, bool]:
    """The token for this page's forms, and whether it is new (so the answer must set its cookie)."""
    if principal is not None and principal.csrf_token:
        return principal.csrf_token, False
    known = request.cookies.get(cookie_name(deployment), "")
    if known:
        return known, False
    return new_token(), True


def check(request: web.Request, deployment: Deployment, principal: Principal | None, sent: str) -> None:
    """Refuse a posted form whose token is missing or is not the one its page was given."""
    if principal is not None and principal.csrf_token:
        expected = principal.csrf_token
    else:
        expected = request.cookies.get(cookie_name(deployment), "")
    if not expected or not sent or not same(sent, expected):
        raise CsrfFailed("this form did not come from this site's page, or its page is too old")


def set_cookie(response: web.StreamResponse, deployment: Deployment, token: str) -> None:
    response.set_cookie(
        cookie_name(deployment),
        token,
        httponly=True,
        samesite="Lax",
        secure=deployment.settings.http.secure_cookies,
        path="/",
    )
