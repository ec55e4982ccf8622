"""The security pages: two-factor sign-in switched on (only by a first right code) and off (only with a code), and a
new e-mail address that changes nothing until its mailed link is opened — on both databases."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape

import pyotp
import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.identity import profile
from tests.http_support import wait_for_mail
from tests.test_web_account import account_id
from tests.web_support import PASSWORD, error_text, flash_text, link_of, page, post_form, signed_up_through_pages


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))


def shown_secret(html: str) -> str:
    found = re.search(r'<code class="secret" id="totp-secret">([A-Z2-7 ]+)</code>', html)
    assert found, "the page shows no key"
    return found.group(1).replace(" ", "")


async def test_two_factor_sign_in_is_on_only_after_a_right_code_and_off_only_with_one(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "guarded")
    me = account_id(deployment, client)
    response, html = await post_form(client, "/account/totp", {}, from_page="/account/security")
    assert response.status == 200
    secret = shown_secret(html)
    assert 'href="otpauth://totp/' in unescape(html)
    assert not profile.profile(deployment, me).totp_enabled  # a secret alone puts nothing in force

    response, html = await post_form(client, "/account/totp/confirm", {"code": "000000"}, from_page="/account/security")
    assert response.status == 422 and "This code is wrong" in error_text(html)
    assert not profile.profile(deployment, me).totp_enabled

    code = pyotp.TOTP(secret).at(deployment.clock.now())
    response, _ = await post_form(client, "/account/totp/confirm", {"code": code}, from_page="/account/security")
    assert response.status == 303 and response.headers["Location"] == "/account/security"
    assert profile.profile(deployment, me).totp_enabled
    _, html = await page(client, "/account/security")
    assert flash_text(html).startswith("Two-factor sign-in is on")

    response, html = await post_form(client, "/account/totp/disable", {"code": code}, from_page="/account/security")
    assert response.status == 422 and "already used" in error_text(html)  # a code works once
    assert profile.profile(deployment, me).totp_enabled
    deployment.clock.set(deployment.clock.now() + timedelta(seconds=30))
    code = pyotp.TOTP(secret).at(deployment.clock.now())
    response, _ = await post_form(client, "/account/totp/disable", {"code": code}, from_page="/account/security")
    assert response.status == 303
    assert not profile.profile(deployment, me).totp_enabled


async def test_a_new_address_is_taken_when_its_link_is_opened(client, deployment, outbox):
    await signed_up_through_pages(client, outbox, "mover")
    me = account_id(deployment, client)
    response, html = await post_form(
        client, "/account/email", {"email": "not an address", "password": PASSWORD}, from_page="/account/security"
    )
    assert response.status == 422 and error_text(html) == "This is not an e-mail address."
    # The password again: a session alone (a shared computer, a stolen cookie) cannot move the account elsewhere.
    response, html = await post_form(
        client, "/account/email", {"email": "new@example.org", "password": "not the password"}, from_page="/account/security"
    )
    assert response.status == 401 and error_text(html) == "This login and password do not match."
    response, _ = await post_form(
        client, "/account/email", {"email": "new@example.org", "password": PASSWORD}, from_page="/account/security"
    )
    assert response.status == 303
    assert profile.profile(deployment, me).email == "mover@example.org"  # until the link is opened
    link = link_of(await wait_for_mail(outbox, "new@example.org"))
    _, html = await page(client, link)
    token = re.search(r'name="token" value="([^"]+)"', html).group(1)
    response, _ = await post_form(client, "/verify", {"token": token}, from_page=link)
    assert response.status == 303 and response.headers["Location"] == "/account"
    assert profile.profile(deployment, me).email == "new@example.org"


async def test_the_security_pages_are_for_the_signed_in(client):
    response, _ = await page(client, "/account/security")
    assert response.status == 303 and response.headers["Location"] == "/signin"
