"""The addresses of things, and the sites a creator takes auto-submitted things from."""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

from gateway.errors import ValidationError

MAX_URL = 2000
MAX_SITES = 10
MAX_SITE = 200


def check_thing_url(url: str) -> str:
    """An http(s) address with no space, control character or backslash (which browsers read as ``/``)."""
    if not re.fullmatch(r"https?://[^/\x00-\x20\x7f\\]+[^\x00-\x20\x7f\\]*", url or "") or len(url) > MAX_URL:
        raise ValidationError(
            f"a thing's url is an http(s) address of at most {MAX_URL} characters, with no space or backslash", field="url"
        )
    return url


def clean_sites(sites: Iterable[str]) -> list[str]:
    """A creator's sites, each an http(s) address whose path ends in ``/``: what lies under it is theirs.

    ``https://example.org`` becomes ``https://example.org/``, so that it
    never covers ``https://example.org.evil.example/``.
    """
    cleaned = []
    for site in sites:
        parts = urlsplit((site or "").strip())
        if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment or len(site) > MAX_SITE:
            raise ValidationError(
                f"a site is an http(s) address of at most {MAX_SITE} characters, with no query", field="auto_submit_sites"
            )
        path = parts.path if parts.path.endswith("/") else parts.path + "/"
        cleaned.append(f"{parts.scheme}://{parts.netloc.lower()}{path}")
    cleaned = sorted(set(cleaned))
    if len(cleaned) > MAX_SITES:
        raise ValidationError(f"at most {MAX_SITES} sites", field="auto_submit_sites")
    return cleaned


def under_one_of(url: str, sites: Iterable[str]) -> bool:
    """Whether ``url`` is at or under one of ``sites`` (as ``clean_sites`` wrote them)."""
    parts = urlsplit(url)
    if "\\" in url or any(unquote(segment) in (".", "..") for segment in parts.path.split("/")):
        return False  # /artist/../other (or /artist/%2e%2e/other) is not under /artist/
    here = f"{parts.scheme}://{parts.netloc.lower()}{parts.path or '/'}"
    return any(here.startswith(site) or here + "/" == site for site in sites)
