"""Which language a page speaks: the account's setting, then the visitor's choice (a cookie), then
``Accept-Language``, then English.

Pages answer ``Vary: Accept-Language, Cookie``, so that a cache never hands
one reader's language to another.
"""

from __future__ import annotations

from aiohttp import web

from gateway.deployment import Deployment
from gateway.i18n import DEFAULT
from gateway.rules import LANGUAGES

LANGUAGE_COOKIE = "fgw_lang"  # the visitor's choice, made with the language switcher (a year)
LANGUAGE_COOKIE_AGE = 365 * 24 * 3600
VARY = "Accept-Language, Cookie"
MAX_RANGES = 32  # an Accept-Language header longer than this is read no further


def negotiate(account: str | None, chosen: str | None, accept_language: str | None) -> str:
    """The language of a page: ``account``'s, else ``chosen`` (the cookie), else the best of ``accept_language``, else English."""
    for language in (account, chosen):
        if language in LANGUAGES:
            return language
    for tag in accepted(accept_language or ""):
        if tag in LANGUAGES:
            return tag
        base = tag.split("-")[0]
        if base in LANGUAGES:
            return base
    return DEFAULT


def accepted(header: str) -> list[str]:
    """The language tags of an ``Accept-Language`` header, lower-cased, the most wanted first (RFC 9110 §12.5.4).

    Equal weights keep the header's order; a weight of 0 means "not this", and
    ``*`` names no language in particular, so both are left out.
    """
    weighed: list[tuple[float, int, str]] = []
    for index, item in enumerate(header.split(",")[:MAX_RANGES]):
        tag, _, parameters = item.strip().partition(";")
        tag = tag.strip().lower()
        weight = 1.0
        for parameter in parameters.split(";"):
            name, _, value = parameter.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    weight = float(value.strip())
                except ValueError:
                    weight = 0.0
        if tag and tag != "*" and 0 < weight <= 1:
            weighed.append((-weight, index, tag))
    return [tag for _, _, tag in sorted(weighed)]


def remember(response: web.StreamResponse, deployment: Deployment, language: str) -> None:
    """Keep the visitor's choice of language in its cookie, for a year."""
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=LANGUAGE_COOKIE_AGE,
        httponly=True,
        samesite="Lax",
        secure=deployment.settings.http.secure_cookies,
        path="/",
    )
