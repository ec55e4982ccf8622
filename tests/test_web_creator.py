"""The creator's pages over real HTTP, as a browser without JavaScript uses them, on SQLite and PostgreSQL.

Their things (registered, refused, changed, hidden), their earnings per
period (what the chart's table says adds up to the ledger's balance), what
is held and until when, withdrawing through the sandbox, PayPal (the fake)
and the checks before it (too much, held, no destination, the one-time code
above the line), a form sent twice withdrawing once, payout destinations
and Stripe Connect's onboarding (the fake).
"""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from pathlib import Path

import aiohttp
import pyotp
import pytest
from moneyed import Money

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.destinations import destinations_of
from gateway.usecases.earnings_history import earnings_by_period
from gateway.usecases.holds import held_earnings
from gateway.usecases.identity import profile
from gateway.usecases.identity.totp import begin_totp, confirm_totp
from gateway.usecases.statements import withdrawals_of
from gateway.usecases.things import get_thing, register_thing
from gateway.web.page import Formats
from tests.creator_support import creator_with_earnings, signed_in
from tests.rail_support import scripted_options
from tests.support import PASSWORD, balance, config, ledger_holds, payable
from tests.web_support import error_text, flash_text, page, post_form

pytest_plugins = ["tests.fakes.paypal", "tests.fakes.stripe_connect"]

NBSP = "\N{NO-BREAK SPACE}"


async def app_client(deployment, aiohttp_client):
    # A frozen limiter clock: a test's requests all fall in one window (no timing in tests).
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await app_client(deployment, aiohttp_client)


def key_of(html: str) -> str:
    found = re.search(r'name="key" value="([^"]+)"', html)
    assert found, "the withdrawal form has no key"
    return found.group(1)


def withdrawal_fields(html: str, amount: str, rail: str = "sandbox", **more: str) -> dict[str, str]:
    return {"rail": rail, "amount": amount, "currency": "EUR", "payout_currency": "EUR", "key": key_of(html), **more}


def text_of(html: str) -> str:
    """The page's text, tags dropped and spaces made plain: what a reader sees."""
    return re.sub(r"\s+", " ", unescape(re.sub(r"<[^>]+>", " ", html))).replace(NBSP, " ")


# -- the dashboard -----------------------------------------------------------------------------------


async def test_a_signed_out_visitor_is_sent_to_sign_in(client):
    for path in ("/creator", "/creator/withdraw", "/creator/destinations", "/creator/things/new", "/creator/withdrawals"):
        response, _ = await page(client, path)
        assert (response.status, response.headers["Location"]) == (303, "/signin")


async def test_the_dashboard_lists_the_things_and_the_earnings_per_period_as_the_ledger_has_them(deployment, client):
    ids = await creator_with_earnings(deployment)
    hidden = register_thing(deployment, ids["artist"], "https://artist.example/draft", "A draft")
    await signed_in(client, "artist")
    from gateway.usecases.things import update_thing

    update_thing(deployment, ids["artist"], hidden.id, {"hidden": True})
    response, html = await page(client, "/creator")
    assert response.status == 200
    for thing_id in (ids["thing"], hidden.id):
        assert f'href="/things/{thing_id}"' in html and f'href="/things/{thing_id}/button"' in html
        assert f'href="/creator/things/{thing_id}"' in html
    text = text_of(html)
    assert "The comic" in text and "https://artist.example/comic" in text and "A draft" in text
    assert "hidden" in text and "Flattrs this period: 0 · Funders ever: 1" in text  # December has no flattr yet

    per_period = earnings_by_period(deployment, ids["artist"])
    assert [(e.period, e.currency, e.amount, e.funders) for e in per_period] == [
        ("2026-10", "EUR", 900, 1),
        ("2026-11", "EUR", 900, 1),
    ]
    assert sum(e.amount for e in per_period) == balance(deployment, ids["artist"], "earnings")  # the ledger's
    rows = re.findall(r'<tr><th scope="row">([^<]+)</th><td class="amount">([^<]+)</td></tr>', html)
    assert rows == [("2026-10", "€9.00"), ("2026-11", "€9.00")]  # the chart's table
    assert 'role="img"' in html and "Earnings in EUR per period" in html
    assert "To withdraw" in text and "€18.00" in text
    assert "Nothing is held." in text


async def test_held_parts_show_the_date_each_becomes_free(deployment_factory, scripted_rail_path, provider, aiohttp_client):
    data = config()
    data["rails"]["scripted"] = {**scripted_options(provider), "hold_days": 60}
    deployment = deployment_factory(data)
    ids = await creator_with_earnings(deployment, rail="scripted", periods=1)
    client = await app_client(deployment, aiohttp_client)
    await signed_in(client, "artist")
    (part,) = held_earnings(deployment, ids["artist"])
    free_on = Formats(deployment, "en").day(part.free_on)
    _, html = await page(client, "/creator")
    assert re.search(rf"<td>2026-10</td><td class=\"amount\">€9.00</td><td>{re.escape(free_on)}</td>", html), html

    _, form = await page(client, "/creator/withdraw")
    assert free_on in text_of(form)
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "5.00"), from_page="/creator/withdraw")
    assert response.status == 402
    assert error_text(html) == (
        f"Part of these earnings is held against a chargeback until {free_on}: withdraw less, or wait until then."
    )
    assert balance(deployment, ids["artist"], "earnings") == 900 and withdrawals_of(deployment, ids["artist"]) == []

    profile.update_profile(deployment, ids["artist"], language="fr")  # a signed-in person's pages speak their language
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "5.00"), from_page="/creator/withdraw")
    french = Formats(deployment, "fr").day(part.free_on)
    assert response.status == 402 and error_text(html).startswith(
        f"Une part de ces revenus est retenue en cas de rétrofacturation jusqu’au {french}"
    )


# -- things ------------------------------------------------------------------------------------------


async def test_registering_a_thing_refusing_a_bad_address_and_a_taken_one_then_changing_and_hiding_it(deployment, client):
    artist = payable(deployment, "artist")
    other = payable(deployment, "other")
    register_thing(deployment, other, "https://other.example/taken", "Taken")
    await signed_in(client, "artist")
    fields = {
        "url": "https://artist.example/song",
        "title": "A song",
        "description": "Three minutes.",
        "language": "en",
        "category": "music",
        "tags": "Folk, live, folk",
    }
    response, html = await post_form(client, "/creator/things/new", {**fields, "url": "ftp://artist.example/song"})
    assert response.status == 422 and "An address starts with http:// or https://" in error_text(html)
    assert 'value="A song"' in html  # the form keeps what was typed
    response, html = await post_form(client, "/creator/things/new", {**fields, "url": "https://other.example/taken"})
    assert response.status == 409 and error_text(html) == "A thing is already registered at this address."
    response, html = await post_form(client, "/creator/things/new", {**fields, "language": "English"})
    assert response.status == 422 and "A language is a code" in error_text(html)
    profile.update_profile(deployment, artist, language="fr")
    response, html = await post_form(client, "/creator/things/new", {**fields, "url": "https://other.example/taken"})
    assert response.status == 409 and error_text(html) == "Une création est déjà enregistrée à cette adresse."
    profile.update_profile(deployment, artist, language="en")

    response, _ = await post_form(client, "/creator/things/new", fields)
    assert response.status == 303
    thing_id = int(response.headers["Location"].rsplit("/", 1)[1])
    made = get_thing(deployment, thing_id, artist)
    assert (made.url, made.title, made.language, made.category, made.tags) == (
        "https://artist.example/song",
        "A song",
        "en",
        "music",
        ["folk", "live"],
    )
    _, html = await page(client, f"/creator/things/{thing_id}")
    assert flash_text(html) == "Your thing is registered." and 'value="folk, live"' in html

    changes = {"title": "", "description": "", "language": "", "category": "", "tags": ""}
    response, html = await post_form(client, f"/creator/things/{thing_id}", changes)
    assert response.status == 422 and error_text(html).startswith("A title is 1 to")
    response, _ = await post_form(client, f"/creator/things/{thing_id}", {**changes, "title": "The song", "hidden": "on"})
    assert response.status == 303
    changed = get_thing(deployment, thing_id, artist)
    assert (changed.title, changed.hidden, changed.tags, changed.language) == ("The song", True, [], None)

    taken = get_thing(deployment, 1, other).id
    response, _ = await page(client, f"/creator/things/{taken}")
    assert response.status == 404  # another's thing is not edited here
    response, _ = await post_form(client, f"/creator/things/{taken}", {"title": "Mine now"}, from_page="/creator/things/new")
    assert response.status == 404 and get_thing(deployment, taken).title == "Taken"


async def test_the_auto_submit_sites_are_saved_and_a_bad_one_refused(deployment, client):
    artist = payable(deployment, "artist")
    await signed_in(client, "artist")
    response, html = await post_form(client, "/creator/sites", {"sites": "https://blog.example/posts?x=1"}, from_page="/creator")
    assert response.status == 422 and error_text(html).startswith("At most 10 sites")
    assert "https://blog.example/posts?x=1" in html
    response, _ = await post_form(
        client, "/creator/sites", {"sites": "https://Blog.example/posts\n\n  https://comics.example/ "}, from_page="/creator"
    )
    assert response.status == 303
    assert profile.profile(deployment, artist).auto_submit_sites == ["https://blog.example/posts/", "https://comics.example/"]
    _, html = await page(client, "/creator")
    assert flash_text(html) == "Your sites are saved." and "https://comics.example/" in html


# -- withdrawing -------------------------------------------------------------------------------------


async def test_withdrawing_through_the_sandbox_and_a_form_sent_twice_withdraws_once(deployment, client):
    ids = await creator_with_earnings(deployment)
    await signed_in(client, "artist")
    _, form = await page(client, "/creator/withdraw")
    assert 'value="EUR" selected' in form  # the preferred currency, preselected
    fields = withdrawal_fields(form, "12.00")
    first, _ = await post_form(client, "/creator/withdraw", fields, from_page="/creator/withdraw")
    again, _ = await post_form(client, "/creator/withdraw", fields, from_page="/creator/withdraw")  # a double click
    assert first.status == again.status == 303
    assert first.headers["Location"] == again.headers["Location"]
    (done,) = withdrawals_of(deployment, ids["artist"])
    assert first.headers["Location"] == f"/creator/withdrawals/{done.id}" and done.status == "succeeded"
    assert (balance(deployment, ids["artist"], "earnings"), balance(deployment, ids["artist"], "payout")) == (600, 0)

    _, html = await page(client, first.headers["Location"])
    assert flash_text(html) == "Your withdrawal is asked for. Here is where it stands."
    assert "Paid" in text_of(html) and "€12.00" in text_of(html)
    _, html = await page(client, "/creator/withdrawals")
    assert f'href="/creator/withdrawals/{done.id}"' in html and "Paid" in text_of(html)

    _, form = await page(client, "/creator/withdraw")
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "6.01"), from_page="/creator/withdraw")
    assert response.status == 402 and error_text(html) == "This is more than your earnings in this currency."
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "0.50"), from_page="/creator/withdraw")
    assert response.status == 422 and error_text(html) == "This is less than the smallest withdrawal in this currency."
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "lots"), from_page="/creator/withdraw")
    assert response.status == 422 and error_text(html) == "Write an amount such as 12.50, more than zero."
    assert 'aria-invalid="true"' in html
    assert len(withdrawals_of(deployment, ids["artist"])) == 1 and balance(deployment, ids["artist"], "earnings") == 600
    ledger_holds(deployment)


async def test_another_creators_withdrawal_is_not_found(deployment, client):
    ids = await creator_with_earnings(deployment)
    from tests.support import withdraw

    done = withdraw(deployment, ids["artist"], Money("2.00", "EUR"), "sandbox", key="theirs")
    payable(deployment, "nosy")
    await signed_in(client, "nosy")
    response, _ = await page(client, f"/creator/withdrawals/{done.id}")
    assert response.status == 404
    _, html = await page(client, "/creator/withdraw")
    assert "You have no earnings to withdraw yet." in html


@pytest.fixture
def guarded(deployment_factory):
    data = config()
    data["currencies"]["EUR"]["totp_withdrawal_above"] = "10.00"
    return deployment_factory(data)


async def test_above_the_line_a_withdrawal_asks_for_two_factor_sign_in_then_its_code(guarded, aiohttp_client):
    ids = await creator_with_earnings(guarded)
    client = await app_client(guarded, aiohttp_client)
    await signed_in(client, "artist")
    _, form = await page(client, "/creator/withdraw")
    assert "Above €10.00, a withdrawal asks for the code of your authenticator app" in text_of(form)
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "12.00"), from_page="/creator/withdraw")
    assert response.status == 403 and error_text(html).startswith("A withdrawal this large needs two-factor sign-in")

    secret, _ = begin_totp(guarded, ids["artist"])
    totp = pyotp.TOTP(secret)
    confirm_totp(guarded, ids["artist"], totp.at(guarded.clock.now()))
    guarded.clock.set(guarded.clock.now() + timedelta(seconds=30))  # the confirming code is used: the next step
    _, form = await page(client, "/creator/withdraw")
    assert 'name="totp_code"' in form
    response, html = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "12.00"), from_page="/creator/withdraw")
    assert response.status == 401 and error_text(html) == "Type the 6-digit code of your authenticator app as well."
    assert 'id="totp_code"' in html and 'aria-invalid="true"' in html
    code = totp.at(guarded.clock.now())
    fields = withdrawal_fields(html, "12.00", totp_code=code)
    response, _ = await post_form(client, "/creator/withdraw", fields, from_page="/creator/withdraw")
    assert response.status == 303
    assert balance(guarded, ids["artist"], "earnings") == 600
    response, _ = await post_form(client, "/creator/withdraw", withdrawal_fields(form, "5.00"), from_page="/creator/withdraw")
    assert response.status == 303 and balance(guarded, ids["artist"], "earnings") == 100  # at or below the line: no code


# -- destinations, PayPal and Stripe -----------------------------------------------------------------


def paypal_secrets(tmp_path: Path, fake) -> Path:
    path = tmp_path / "paypal-secrets.toml"
    path.write_text(f'PAYPAL_CLIENT_ID = "{fake.client_id}"\nPAYPAL_SECRET = "{fake.secret}"\n', encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
async def with_paypal(deployment_factory, paypal_fake, tmp_path, monkeypatch):
    for variable in ("PAYPAL_CLIENT_ID", "PAYPAL_SECRET", "PAYPAL_WEBHOOK_ID"):
        monkeypatch.delenv(variable, raising=False)
    data = config()
    data["rails"]["paypal"] = {
        "base_url": paypal_fake.url,
        "currencies": ["EUR"],
        "secrets_file": str(paypal_secrets(tmp_path, paypal_fake)),
    }
    deployment = deployment_factory(data)
    yield deployment
    await deployment.rails["paypal"].close()


async def test_a_paypal_address_is_set_with_the_password_then_paypal_pays_it(with_paypal, paypal_fake, aiohttp_client, outbox):
    ids = await creator_with_earnings(with_paypal)
    client = await app_client(with_paypal, aiohttp_client)
    await signed_in(client, "artist")
    _, form = await page(client, "/creator/withdraw")
    assert "Set where it pays you first." in text_of(form)
    response, html = await post_form(
        client, "/creator/withdraw", withdrawal_fields(form, "5.00", rail="paypal"), from_page="/creator/withdraw"
    )
    assert response.status == 422 and error_text(html).startswith("This rail has nowhere to pay you yet")
    assert withdrawals_of(with_paypal, ids["artist"]) == [] and paypal_fake.calls["create_payout"] == 0

    response, html = await post_form(
        client,
        "/creator/destinations/paypal",
        {"destination": "artist@paypal.example", "password": "not it"},
        from_page="/creator/destinations",
    )
    assert response.status == 401 and error_text(html) == "This password is wrong."
    assert 'value="artist@paypal.example"' in html and destinations_of(with_paypal, ids["artist"]) == []
    response, _ = await post_form(
        client,
        "/creator/destinations/paypal",
        {"destination": " artist@paypal.example ", "password": PASSWORD},
        from_page="/creator/destinations",
    )
    assert response.status == 303
    assert [(d.rail, d.destination) for d in destinations_of(with_paypal, ids["artist"])] == [("paypal", "artist@paypal.example")]
    _, html = await page(client, "/creator/destinations")
    assert flash_text(html).startswith("Your payout destination is saved.") and "artist@paypal.example" in html

    _, form = await page(client, "/creator/withdraw")
    assert "Pays you at artist@paypal.example." in text_of(form)
    response, _ = await post_form(
        client, "/creator/withdraw", withdrawal_fields(form, "5.00", rail="paypal"), from_page="/creator/withdraw"
    )
    assert response.status == 303
    (done,) = withdrawals_of(with_paypal, ids["artist"])
    assert (done.rail, done.status) == ("paypal", "succeeded")
    (item,) = paypal_fake.payout_items.values()
    assert item["payout_item"]["receiver"] == "artist@paypal.example"
    assert (balance(with_paypal, ids["artist"], "earnings"), balance(with_paypal, ids["artist"], "payout")) == (1300, 0)


STRIPE_KEY = "sk_test_" + "0" * 32


@pytest.fixture
async def with_stripe(deployment_factory, stripe_fake, tmp_path, monkeypatch):
    monkeypatch.delenv("STRIPE_SECRET_KEY", raising=False)
    monkeypatch.delenv("STRIPE_WEBHOOK_SECRET", raising=False)
    secrets = tmp_path / "stripe-secrets.toml"
    secrets.write_text(f'secret_key = "{STRIPE_KEY}"\n', encoding="utf-8")
    secrets.chmod(0o600)
    data = config()
    data["rails"]["stripe"] = {
        "api_base": stripe_fake.url,
        "currencies": ["EUR"],
        "secrets_file": str(secrets),
        "network_retries": 0,
    }
    deployment = deployment_factory(data)
    yield deployment
    await deployment.rails["stripe"].close()


async def test_stripe_onboarding_asks_the_password_and_leads_to_stripe_and_back(with_stripe, stripe_fake, aiohttp_client):
    artist = payable(with_stripe, "artist")
    client = await app_client(with_stripe, aiohttp_client)
    await signed_in(client, "artist")
    _, html = await page(client, "/creator/destinations")
    assert 'action="/creator/destinations/stripe/onboarding"' in html and "Open my account at stripe" in html
    response, html = await post_form(
        client, "/creator/destinations/stripe/onboarding", {"password": "wrong"}, from_page="/creator/destinations"
    )
    assert response.status == 401 and error_text(html) == "This password is wrong."
    assert destinations_of(with_stripe, artist) == []

    response, html = await post_form(
        client, "/creator/destinations/stripe/onboarding", {"password": PASSWORD}, from_page="/creator/destinations"
    )
    assert response.status == 200
    link = unescape(re.search(r'<a class="button" href="([^"]+)" rel="noreferrer">Continue at stripe</a>', html).group(1))
    assert link.startswith(stripe_fake.url + "/_fake/onboarding/")
    (kept,) = destinations_of(with_stripe, artist)
    assert kept.rail == "stripe" and kept.destination.startswith("acct_")

    async with aiohttp.ClientSession() as browser, browser.get(link, allow_redirects=False) as visit:  # Stripe's pages
        assert visit.status == 302 and visit.headers["Location"].endswith("/payouts/stripe/ready")
    response, _ = await page(client, "/payouts/stripe/ready")
    assert (response.status, response.headers["Location"]) == (303, "/creator/destinations")
    _, html = await page(client, "/creator/destinations")
    assert flash_text(html).startswith("Welcome back.") and kept.destination in html
    assert "Continue my account at stripe" in html
    response, _ = await page(client, "/payouts/stripe/onboarding")
    _, html = await page(client, "/creator/destinations")
    assert flash_text(html) == "The provider's link expired: ask for a new one below."


async def test_the_withdrawals_come_a_page_at_a_time_newest_first(deployment, client, monkeypatch):
    from gateway.web import payouts
    from tests.support import withdraw

    monkeypatch.setattr(payouts, "PAGE_SIZE", 2)  # the page's size, small enough to turn a page
    ids = await creator_with_earnings(deployment)
    made = [withdraw(deployment, ids["artist"], Money(f"{n}.00", "EUR"), "sandbox", key=f"w{n}").id for n in (1, 2, 3)]
    await signed_in(client, "artist")
    _, html = await page(client, "/creator/withdrawals")
    assert re.findall(r'href="/creator/withdrawals/(\d+)"', html) == [str(made[2]), str(made[1])]
    assert f'href="/creator/withdrawals?before={made[1]}"' in html
    _, html = await page(client, f"/creator/withdrawals?before={made[1]}")
    assert re.findall(r'href="/creator/withdrawals/(\d+)"', html) == [str(made[0])] and "Older withdrawals" not in html
    response, html = await page(client, "/creator/withdrawals?before=x")
    assert response.status == 200 and len(re.findall(r'href="/creator/withdrawals/(\d+)"', html)) == 2


async def test_guessing_the_password_on_the_destinations_page_is_limited(deployment, client):
    artist = payable(deployment, "artist")
    await signed_in(client, "artist")
    _, html = await page(client, "/creator/destinations")
    token = re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)
    for _ in range(10):  # the API's "totp" rule: 10 in 5 minutes, counted for the person
        response, _ = await post_form(
            client, "/creator/destinations/sandbox", {"destination": "x", "password": "guess"}, token=token
        )
        assert response.status == 401
    response, html = await post_form(
        client, "/creator/destinations/sandbox", {"destination": "x", "password": PASSWORD}, token=token
    )
    assert response.status == 429 and error_text(html).startswith("Too many attempts")
    assert destinations_of(deployment, artist) == []


async def test_a_form_sent_twice_at_once_withdraws_once(deployment, client):
    import asyncio

    ids = await creator_with_earnings(deployment)
    await signed_in(client, "artist")
    _, form = await page(client, "/creator/withdraw")
    token = re.search(r'name="csrf_token" value="([^"]+)"', form).group(1)
    fields = withdrawal_fields(form, "7.00")
    answers = await asyncio.gather(*(post_form(client, "/creator/withdraw", fields, token=token) for _ in range(2)))
    (done,) = withdrawals_of(deployment, ids["artist"])
    assert [(r.status, r.headers["Location"]) for r, _ in answers] == [(303, f"/creator/withdrawals/{done.id}")] * 2
    assert balance(deployment, ids["artist"], "earnings") == 1100
    ledger_holds(deployment)
