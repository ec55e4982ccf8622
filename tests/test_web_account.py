"""The account pages over real HTTP, as a browser without JavaScript uses them: forms, redirects, cookies, mail.

Every page is checked for its headers (a Content-Security-Policy with no
inline script or style, frame-ancestors 'none', Vary) and its language;
every form for its CSRF token (a post without it, or with another, is a 403
page and changes nothing); the errors of the use cases are said in the form,
in the page's language, never as a 500.
"""

from __future__ import annotations

import re
import urllib.request
from datetime import timedelta

import pyotp
import pytest

from gateway.http.app import create_app
from gateway.http.keys import SESSION_COOKIE
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.identity import profile, tokens, totp
from gateway.usecases.mail_queue import queue_counts
from gateway.usecases.participants import register_participant
from gateway.web.csrf import COOKIE as CSRF_COOKIE
from gateway.web.language import LANGUAGE_COOKIE
from gateway.web.render import assets
from tests.http_support import mails_to, wait_for_mail
from tests.processes import Server
from tests.support import config, sqlite_copy, write_toml
from tests.web_support import (
    PASSWORD,
    csrf_token,
    error_text,
    flash_text,
    html_lang,
    link_of,
    page,
    post_form,
    signed_up_through_pages,
)

NBSP = "\N{NO-BREAK SPACE}"
PUBLIC_PAGES = ["/", "/signup", "/signin", "/reset", "/reset/confirm?token=abc", "/verify?token=abc"]


@pytest.fixture
async def client(deployment, aiohttp_client):
    # A frozen limiter clock: a test's requests all fall in one window, wherever the minute turns (no timing in tests).
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))


def account_id(deployment, client) -> int:
    """The signed-in person's id, from their session (read through the use case the API uses)."""
    from gateway.usecases.identity.sessions import authenticate_session

    cookie = client.session.cookie_jar.filter_cookies(client.make_url("/"))[SESSION_COOKIE].value
    return authenticate_session(deployment, cookie).participant_id


def assert_page_headers(response) -> None:
    policy = response.headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy
    directives = dict(part.strip().split(" ", 1) for part in policy.split(";"))
    assert directives["frame-ancestors"] == "'none'"
    assert directives["default-src"] == "'self'" and directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'" and directives["form-action"] == "'self'"
    assert directives["base-uri"] == "'none'"
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["Vary"] == "Accept-Language, Cookie"
    if response.status != 303:  # a redirect has no body
        assert response.headers["Content-Type"].startswith("text/html")


# -- headers, languages, assets ------------------------------------------------------------------


async def test_every_page_carries_its_headers(client, deployment, outbox):
    for path in PUBLIC_PAGES:
        response, html = await page(client, path)
        assert response.status == 200, path
        assert_page_headers(response)
        assert html_lang(html) == "en"
    response, html = await page(client, "/no/such/page", Accept="text/html")
    assert response.status == 404 and "There is no page at this address." in html
    assert_page_headers(response)
    await signed_up_through_pages(client, outbox, "fan")
    response, html = await page(client, "/account")
    assert response.status == 200 and "fan@example.org" in html
    assert_page_headers(response)
    response, _ = await post_form(
        client, "/account/settings", {"language": "en", "preferred_currency": "EUR"}, from_page="/account"
    )
    assert response.status == 303
    assert_page_headers(response)  # a redirect too


async def test_the_json_api_answers_as_before(client):
    response = await client.get("/no/such/path")  # no browser asking for HTML: problem+json, as ever
    assert response.status == 404 and response.headers["Content-Type"].startswith("application/problem+json")
    response = await client.get("/api/v1/nothing-here", headers={"Accept": "text/html"})
    assert response.status == 404 and response.headers["Content-Type"].startswith("application/problem+json")
    response = await client.get("/api/v1/me")
    assert response.status == 401 and (await response.json())["type"] == "unauthorized"
    assert "Vary" not in response.headers or "Cookie" not in response.headers["Vary"]


async def test_the_page_speaks_the_accounts_language_then_the_cookies_then_the_browsers(client, deployment, outbox):
    _, html = await page(client, "/signin", **{"Accept-Language": "fr-CA,fr;q=0.9,en;q=0.5"})
    assert html_lang(html) == "fr" and "<h1>Se connecter</h1>" in html
    _, html = await page(client, "/signin", **{"Accept-Language": "de-DE"})
    assert html_lang(html) == "en" and "<h1>Sign in</h1>" in html
    await signed_up_through_pages(client, outbox, "fan", language="en")  # an account in English
    response, _ = await post_form(client, "/signout", {}, from_page="/account")
    assert response.status == 303
    # The switcher: a small form; without an account it sets the cookie, which beats Accept-Language.
    response, _ = await post_form(client, "/language", {"language": "fr", "next": "/signin"}, from_page="/signin")
    assert response.status == 303 and response.headers["Location"] == "/signin"
    assert response.cookies[LANGUAGE_COOKIE].value == "fr" and response.cookies[LANGUAGE_COOKIE]["httponly"]
    _, html = await page(client, "/signin", **{"Accept-Language": "en"})
    assert html_lang(html) == "fr"
    # Signed in, the account's setting beats the cookie.
    response, _ = await post_form(client, "/signin", {"login": "fan", "password": PASSWORD})
    assert response.status == 303
    _, html = await page(client, "/account", **{"Accept-Language": "fr"})
    assert html_lang(html) == "en" and "<h1>Your account</h1>" in html
    # Switching while signed in saves the account's setting (its mail follows it).
    response, _ = await post_form(client, "/language", {"language": "fr", "next": "/account"}, from_page="/account")
    assert response.status == 303
    assert profile.profile(deployment, account_id(deployment, client)).language == "fr"
    _, html = await page(client, "/account")
    assert html_lang(html) == "fr" and "<h1>Votre compte</h1>" in html


async def test_the_switcher_sends_nobody_elsewhere(client):
    for target in ("//evil.example/", "https://evil.example/", "/\\evil.example", "javascript:alert(1)", ""):
        response, _ = await post_form(client, "/language", {"language": "fr", "next": target}, from_page="/")
        assert response.status == 303 and response.headers["Location"] == "/", target


async def test_assets_are_small_versioned_and_cached_for_a_year(client):
    _, html = await page(client, "/")
    linked = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)
    served = sorted(f"/static/{asset.name}" for asset in assets().values())
    assert linked and set(linked) <= set(served)  # the home page's own; a page's script is linked by its page only
    total = 0
    for path in served:
        response = await client.get(path)
        assert response.status == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        total += len(await response.read())
    assert total <= 100 * 1024  # the pages' own assets, all of them: well under 100 KB
    assert (await client.get("/static/site.0000.css")).status == 404  # an old name is gone, not served stale


# -- CSRF ----------------------------------------------------------------------------------------------


async def test_a_form_without_its_token_is_refused_and_changes_nothing(client, deployment):
    fields = {"handle": "fan", "email": "fan@example.org", "password": PASSWORD, "preferred_currency": "EUR"}
    await page(client, "/signup")  # the browser has its CSRF cookie
    for token in ("", "not-the-token"):
        response, html = await post_form(client, "/signup", fields, token=token)
        assert response.status == 403 and "This form is too old, or did not come from this site." in html
        assert_page_headers(response)
    assert sum(queue_counts(deployment).values()) == 0  # no sign-up was taken in: no mail queued
    # Another site's form: no CSRF cookie at all in that browser, whatever it posts.
    client.session.cookie_jar.clear()
    response, _ = await post_form(client, "/signup", fields, token="forged")
    assert response.status == 403
    assert sum(queue_counts(deployment).values()) == 0


async def test_a_signed_in_form_needs_the_sessions_token(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "fan")
    me = account_id(deployment, client)
    jar = client.session.cookie_jar.filter_cookies(client.make_url("/"))
    before_token = jar[CSRF_COOKIE].value  # the token of the forms before sign-in: not the session's
    for token in ("", "wrong", before_token):
        response, html = await post_form(client, "/account/tokens", {"name": "x", "scopes": ["read"]}, token=token)
        assert response.status == 403, token
        response, _ = await post_form(client, "/account/settings", {"language": "fr", "preferred_currency": "USD"}, token=token)
        assert response.status == 403
    assert tokens.list_access_tokens(deployment, me) == []
    found = profile.profile(deployment, me)
    assert (found.language, found.preferred_currency) == ("en", "EUR")
    # The API's own rule stands: a write with the session cookie needs the X-CSRF-Token header.
    response = await client.post("/api/v1/me/tokens", json={"name": "x", "scopes": ["read"]})
    assert response.status == 403 and (await response.json())["type"] == "csrf_failed"


# -- the account pages ---------------------------------------------------------------------------------


async def test_signing_up_in_french_through_the_pages(client, deployment, outbox):
    headers = {"Accept-Language": "fr"}
    _, html = await page(client, "/signup", **headers)
    assert html_lang(html) == "fr" and "<h1>S'inscrire</h1>" in html
    fields = {"handle": "fan", "email": "fan@example.org", "password": PASSWORD, "preferred_currency": "USD"}
    response = await client.post(
        "/signup", data={"csrf_token": csrf_token(html), **fields}, headers=headers, allow_redirects=False
    )
    assert response.status == 303 and response.headers["Location"] == "/"
    _, html = await page(client, "/", **headers)
    assert flash_text(html).startswith("Merci. Un message est en route")
    _, html = await page(client, "/", **headers)
    assert flash_text(html) == ""  # shown once
    mail = await wait_for_mail(outbox, "fan@example.org")
    assert mail["Subject"] == "Confirmez votre adresse e-mail"  # the mail in the sign-up's language
    assert mail.get_content().startswith("Bonjour fan,")
    link = link_of(mail)
    assert link.startswith("/verify?token=")
    # Opening the link only shows a button: a mail scanner's GET uses nothing up.
    for _ in range(2):
        response, html = await page(client, link, **headers)
        assert response.status == 200 and "Confirmer mon adresse" in html
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response, _ = await post_form(client, "/verify", {"token": token}, token=csrf_token(html))
    assert response.status == 303 and response.headers["Location"] == "/signin"
    _, html = await page(client, "/signin", **headers)
    assert flash_text(html) == "Votre adresse est confirmée. Vous pouvez vous connecter."
    # A link works once.
    response, html = await post_form(client, "/verify", {"token": token}, token=csrf_token(html), headers=headers)
    assert (
        response.status == 422
        and error_text(html) == f"Ce lien est inconnu, déjà utilisé ou expiré{NBSP}: demandez-en un nouveau."
    )
    # Signing in sets the API's own session cookie.
    response, _ = await post_form(client, "/signin", {"login": "fan", "password": PASSWORD})
    assert response.status == 303 and response.headers["Location"] == "/account"
    cookie = response.cookies[SESSION_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Lax" and not cookie["secure"] and cookie["path"] == "/"
    response = await client.get("/api/v1/me")
    me = await response.json()
    assert (me["handle"], me["language"], me["preferred_currency"]) == ("fan", "fr", "USD")
    _, html = await page(client, "/account")
    assert html_lang(html) == "fr" and flash_text(html) == "Vous êtes connecté." and "fan@example.org" in html


async def test_the_forms_say_what_is_wrong_in_the_pages_language(client, deployment, outbox):
    headers = {"Accept-Language": "fr"}
    _, html = await page(client, "/signup", **headers)
    token = csrf_token(html)

    async def sign_up(**fields):
        data = {"handle": "fan", "email": "fan@example.org", "password": PASSWORD, "preferred_currency": "EUR", **fields}
        response = await client.post("/signup", data={"csrf_token": token, **data}, headers=headers, allow_redirects=False)
        return response, await response.text()

    response, html = await sign_up(password="short")
    assert response.status == 422 and error_text(html) == "Un mot de passe compte de 10 à 200 caractères."
    assert 'id="password"' in html and 'aria-invalid="true" aria-describedby="password-hint form-error"' in html
    assert 'value="fan@example.org"' in html and "short" not in html  # what was typed stays, but never a password
    response, html = await sign_up(email="not an address")
    assert response.status == 422 and error_text(html) == "Ce n'est pas une adresse e-mail."
    response, html = await sign_up(handle="-bad")
    assert response.status == 422 and error_text(html).startswith("Un pseudo compte de 1 à 64")
    response, html = await sign_up(handle="platform")
    assert response.status == 422 and error_text(html) == f"Ce pseudo est réservé{NBSP}: choisissez-en un autre."
    response, html = await sign_up(preferred_currency="XXX")
    assert response.status == 422 and error_text(html) == "Cette monnaie n'est pas proposée ici."
    response, html = await sign_up(handle="fan\x00")
    assert response.status == 422 and html_lang(html) == "fr"  # a NUL is refused before any database sees it
    register_participant(deployment, "taken")
    response, html = await sign_up(handle="taken")
    assert response.status == 409 and error_text(html) == f"Ce pseudo est pris{NBSP}: choisissez-en un autre."
    # Signing in with the wrong password: a 401 page, the login kept, in French.
    _, html = await page(client, "/signin", **headers)
    response = await client.post(
        "/signin",
        data={"csrf_token": csrf_token(html), "login": "nobody", "password": "wrong password"},
        headers=headers,
        allow_redirects=False,
    )
    html = await response.text()
    assert response.status == 401 and error_text(html) == "Cet identifiant et ce mot de passe ne correspondent pas."
    assert 'value="nobody"' in html and html_lang(html) == "fr"


async def test_signing_in_asks_for_the_code_when_the_account_wants_one(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "fan")
    me = account_id(deployment, client)
    secret, _ = totp.begin_totp(deployment, me)
    totp.confirm_totp(deployment, me, pyotp.TOTP(secret).at(deployment.clock.now()))
    response, _ = await post_form(client, "/signout", {}, from_page="/account")
    assert response.status == 303 and response.headers["Location"] == "/"
    _, html = await page(client, "/signin")
    assert 'name="totp_code"' not in html  # no field until the account asks for it
    response, html = await post_form(client, "/signin", {"login": "fan", "password": PASSWORD})
    assert response.status == 401 and 'name="totp_code"' in html
    assert error_text(html) == "Type the 6-digit code of your authenticator app as well."
    response, html = await post_form(client, "/signin", {"login": "fan", "password": PASSWORD, "totp_code": "000000"})
    assert response.status == 401 and 'name="totp_code"' in html and "This code is wrong" in error_text(html)
    deployment.clock.set(deployment.clock.now() + timedelta(seconds=30))  # the next code: a code works once
    code = pyotp.TOTP(secret).at(deployment.clock.now())
    response, _ = await post_form(client, "/signin", {"login": "fan", "password": PASSWORD, "totp_code": code})
    assert response.status == 303 and response.headers["Location"] == "/account"


async def test_personal_tokens_are_made_shown_once_and_revoked(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "fan")
    me = account_id(deployment, client)
    response, html = await post_form(
        client, "/account/tokens", {"name": "my blog", "scopes": ["read", "flattr"]}, from_page="/account"
    )
    assert response.status == 200
    secret = re.search(r'<code class="secret">(fgw_[^<]+)</code>', html).group(1)
    assert "Copy it now: it will not be shown again." in html
    _, again = await page(client, "/account")
    assert secret not in again and "my blog" in again  # listed, never shown again
    [made] = tokens.list_access_tokens(deployment, me)
    assert (made.name, made.scopes) == ("my blog", frozenset({"read", "flattr"}))
    me_by_token = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})
    assert me_by_token.status == 200
    response, html = await post_form(client, "/account/tokens", {"name": "none", "scopes": []}, from_page="/account")
    assert response.status == 422 and error_text(html) == "Choose at least one scope."
    response, html = await post_form(client, "/account/tokens", {"name": "op", "scopes": ["operator"]}, from_page="/account")
    assert response.status == 403 and len(tokens.list_access_tokens(deployment, me)) == 1
    response, _ = await post_form(client, f"/account/tokens/{made.id}/revoke", {}, from_page="/account")
    assert response.status == 303 and response.headers["Location"] == "/account"
    _, html = await page(client, "/account")
    assert flash_text(html) == "The token is revoked: it works no more." and "my blog" not in html
    assert (await client.get("/api/v1/me", headers={"Authorization": f"Bearer {secret}"})).status == 401
    response, html = await post_form(client, f"/account/tokens/{made.id}/revoke", {}, from_page="/account")
    assert response.status == 404 and error_text(html) == "This was not found: it may have been removed meanwhile."


async def test_the_account_keeps_its_language_and_currency(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "fan")
    me = account_id(deployment, client)
    response, _ = await post_form(
        client, "/account/settings", {"language": "fr", "preferred_currency": "LETS"}, from_page="/account"
    )
    assert response.status == 303
    found = profile.profile(deployment, me)
    assert (found.language, found.preferred_currency) == ("fr", "LETS")
    _, html = await page(client, "/account")
    assert flash_text(html) == "Vos réglages sont enregistrés." and '<option value="LETS" selected>' in html
    response, html = await post_form(
        client, "/account/settings", {"language": "de", "preferred_currency": "EUR"}, from_page="/account"
    )
    assert response.status == 422 and error_text(html) == "Choisissez l'une des langues proposées."
    assert profile.profile(deployment, me).preferred_currency == "LETS"  # nothing of a refused form is kept


async def test_the_account_page_is_for_the_signed_in(client):
    response, _ = await page(client, "/account")
    assert response.status == 303 and response.headers["Location"] == "/signin"
    _, html = await page(client, "/signin")
    assert flash_text(html) == "Sign in to see this page."


async def test_a_forgotten_password_is_reset_through_the_pages(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "fan", language="fr")
    response, _ = await post_form(client, "/signout", {}, from_page="/account")
    assert response.cookies[SESSION_COOKIE].value == ""
    assert (await client.get("/api/v1/me")).status == 401
    response, _ = await post_form(client, "/reset", {"email": "fan@example.org"})
    assert response.status == 303 and response.headers["Location"] == "/signin"
    response, _ = await post_form(client, "/reset", {"email": "nobody@example.org"})
    assert response.status == 303 and response.headers["Location"] == "/signin"  # alike for an unknown address
    mail = await wait_for_mail(outbox, "fan@example.org", count=2)
    assert mail["Subject"] == "Choisissez un nouveau mot de passe"  # the account's language
    link = link_of(mail)
    assert link.startswith("/reset/confirm?token=")
    response, html = await page(client, link)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response, html = await post_form(client, "/reset/confirm", {"token": token, "password": "short"}, token=csrf_token(html))
    assert response.status == 422 and f'value="{token}"' in html  # the form again, the link still in it
    response, _ = await post_form(client, "/reset/confirm", {"token": token, "password": "a new long password"}, from_page=link)
    assert response.status == 303 and response.headers["Location"] == "/signin"
    response, _ = await post_form(client, "/signin", {"login": "fan", "password": PASSWORD})
    assert response.status == 401
    response, _ = await post_form(client, "/signin", {"login": "fan", "password": "a new long password"})
    assert response.status == 303
    assert not mails_to(outbox, "nobody@example.org")


async def test_links_mailed_before_the_pages_still_open_them(client):
    response, _ = await page(client, "/verify-email?token=abc")
    assert response.status == 303 and response.headers["Location"] == "/verify?token=abc"
    response, _ = await page(client, "/reset-password?token=abc")
    assert response.status == 303 and response.headers["Location"] == "/reset/confirm?token=abc"


async def test_signing_in_is_rate_limited_with_the_api(client):
    for _ in range(10):
        response, _ = await post_form(client, "/signin", {"login": "nobody", "password": "wrong password"})
        assert response.status == 401
    response, html = await post_form(client, "/signin", {"login": "nobody", "password": "wrong password"})
    assert response.status == 429 and error_text(html).startswith("Too many attempts: try again in")
    assert "Retry-After" in response.headers
    api = await client.post("/api/v1/session", json={"login": "nobody", "password": "wrong password"})
    assert api.status == 429  # one count for an address, whichever door it knocks at


@pytest.mark.slow
def test_gateway_serve_serves_the_pages(tmp_path, sqlite_template):
    """A real ``gateway serve`` process finds its templates, catalogs and assets where the package keeps them."""
    url = sqlite_copy(sqlite_template, tmp_path / "gateway.sqlite3")
    data = config()
    data["rates"].pop("static")  # keys with a "/", which write_toml does not quote; nothing here converts
    deployment_file = write_toml(tmp_path / "deploy.toml", {**data, "database": {"url": url}, "mail": {"outbox": str(tmp_path)}})
    server = Server(tmp_path, deployment_file, "serve")
    try:
        request = urllib.request.Request(f"http://127.0.0.1:{server.port}/", headers={"Accept-Language": "fr"})
        with urllib.request.urlopen(request, timeout=30) as answer:
            html = answer.read().decode()
            assert answer.headers["Vary"] == "Accept-Language, Cookie"
        assert html_lang(html) == "fr" and "S'inscrire" in html
        stylesheet = re.search(r'href="(/static/site\.[0-9a-f]+\.css)"', html).group(1)
        with urllib.request.urlopen(f"http://127.0.0.1:{server.port}{stylesheet}", timeout=30) as answer:
            assert answer.headers["Content-Type"].startswith("text/css") and answer.read() == assets()["site.css"].body
    finally:
        server.close()
