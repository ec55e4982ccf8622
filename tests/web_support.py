"""Driving the pages as a browser without JavaScript would: read a page, post its form with its CSRF token, follow the mail."""

from __future__ import annotations

import re
from email.message import EmailMessage
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

from aiohttp import ClientResponse
from aiohttp.test_utils import TestClient
from babel.messages.catalog import Catalog

from gateway.i18n import catalog_path, read_catalog
from tests.http_support import wait_for_mail

PASSWORD = "correct horse battery"
BASE_URL = "http://127.0.0.1:8080"  # the deployments' http.base_url: where mailed links point


def csrf_token(html: str) -> str:
    """The CSRF token of a page's forms (every form of a page carries the same one)."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def html_lang(html: str) -> str:
    found = re.search(r'<html lang="([^"]+)">', html)
    assert found, "no <html lang>"
    return found.group(1)


def error_text(html: str) -> str:
    """What the form's error box says (empty if it has none)."""
    found = re.search(r'<div class="error" role="alert" id="form-error">\s*<p>(.*?)</p>', html, re.S)
    return unescape(found.group(1)) if found else ""


def flash_text(html: str) -> str:
    found = re.search(r'<p class="flash" role="status">(.*?)</p>', html, re.S)
    return unescape(found.group(1)) if found else ""


async def page(client: TestClient, path: str, **headers: str) -> tuple[ClientResponse, str]:
    response = await client.get(path, headers=headers, allow_redirects=False)
    return response, await response.text()


async def post_form(
    client: TestClient,
    path: str,
    fields: dict[str, str | list[str]],
    *,
    token: str | None = None,
    from_page: str | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[ClientResponse, str]:
    """Post ``fields`` to ``path`` with the CSRF token of ``from_page`` (``path`` itself by default), as its form would.

    ``token`` sends that token instead (or none with ``""``); redirects are not followed.
    """
    if token is None:
        _, html = await page(client, from_page or path, **(headers or {}))
        token = csrf_token(html)
    data: list[tuple[str, str]] = [("csrf_token", token)] if token else []
    for name, value in fields.items():
        data += [(name, item) for item in value] if isinstance(value, list) else [(name, value)]
    response = await client.post(path, data=data, headers=headers, allow_redirects=False)
    return response, await response.text()


def link_of(mail: EmailMessage) -> str:
    """The path and query of the link in ``mail``, which points at the deployment's base URL."""
    found = re.search(r"(https?://\S+\?token=[A-Za-z0-9_\-]+)", mail.get_content())
    assert found, "no link in the mail"
    link = found.group(1)
    assert link.startswith(BASE_URL + "/"), link
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}"


async def signed_up_through_pages(
    client: TestClient, outbox: Path, handle: str, *, language: str = "en", currency: str = "EUR"
) -> None:
    """Sign up on the pages in ``language``, open the mailed link, confirm, and sign in: the client's session is signed in."""
    headers = {"Accept-Language": language}
    _, html = await page(client, "/signup", **headers)
    address = f"{handle}@example.org"
    fields = {"handle": handle, "email": address, "password": PASSWORD, "preferred_currency": currency}
    response = await client.post(
        "/signup", data={"csrf_token": csrf_token(html), **fields}, headers=headers, allow_redirects=False
    )
    assert response.status == 303, await response.text()
    link = link_of(await wait_for_mail(outbox, address))
    _, html = await page(client, link, **headers)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response, _ = await post_form(client, "/verify", {"token": token}, token=csrf_token(html))
    assert response.status == 303 and response.headers["Location"] == "/signin"
    response, html = await post_form(client, "/signin", {"login": handle, "password": PASSWORD})
    assert response.status == 303 and response.headers["Location"] == "/account", html


def french_catalog() -> Catalog:
    return read_catalog(catalog_path("fr"), "fr")


def translated_msgids(catalog: Catalog) -> dict[str, str]:
    """The msgids whose French differs from the English, with their French."""
    return {
        message.id: message.string
        for message in catalog
        if message.id and isinstance(message.id, str) and message.string and message.string != message.id
    }
