"""The flattr button over real HTTP, on both databases: the confirmation page, the badge, the snippets, auto-submit.

A GET never flattrs; the POST (its CSRF token checked) flattrs once however
often it is sent, and leads back to the thing's registered address only,
whatever the request names (``next``, ``url``, a Referer). Signing in from the
confirmation page comes back to it. The badge is an image even for a thing
that does not exist, cacheable, and answers 304 to its ETag.
"""

from __future__ import annotations

import re
from html import unescape
from urllib.parse import quote, urlencode

import pytest

from gateway.core.periods import parse_period
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.usecases.calendar import current_period
from gateway.usecases.flattr import flattrs_of
from gateway.usecases.identity import profile
from gateway.usecases.settlement import settle
from gateway.usecases.things import get_thing, register_thing, thing_by_url, update_thing
from gateway.web.render import assets
from tests.support import NOVEMBER, OCTOBER, config, eur, payable, top_up
from tests.web_support import BASE_URL, PASSWORD, csrf_token, error_text, flash_text, page, post_form

POST_URL = "https://blog.example/posts/1"
SITE = "https://blog.example/"


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))


@pytest.fixture
def scene(deployment):
    """A creator with a thing on their blog (which takes auto-submitted things), and a funder with money."""
    artist = payable(deployment, "artist")
    fan = payable(deployment, "fan")
    top_up(deployment, fan, eur("5.00"), "sandbox", key="fan")
    profile.update_profile(deployment, artist, auto_submit_sites=[SITE])
    thing = register_thing(deployment, artist, POST_URL, "A post").id
    return artist, fan, thing


async def sign_in(client, handle: str, next_path: str | None = None) -> str:
    """Sign ``handle`` in through the page (whoever was signed in before is forgotten); where it led."""
    client.session.cookie_jar.clear()
    fields = {"login": handle, "password": PASSWORD, **({"next": next_path} if next_path is not None else {})}
    response, html = await post_form(client, "/signin", fields)
    assert response.status == 303, html
    return response.headers["Location"]


def points(deployment, funder: int, thing: int) -> int:
    found = [f.points for f in flattrs_of(deployment, funder, current_period(deployment)) if f.thing_id == thing]
    return found[0] if found else 0


def seen_of(html: str) -> str:
    return re.search(r'name="seen" value="([0-9]+)"', html).group(1)


async def flattr_from_page(client, thing: int, **more: str):
    """Post the confirmation page's form as its reader would, with ``more`` fields added."""
    _, html = await page(client, f"/flattr/{thing}")
    fields = {"seen": seen_of(html), **more}
    return await post_form(client, f"/flattr/{thing}", fields, token=csrf_token(html))


def policy(response) -> dict[str, str]:
    return dict(part.strip().split(" ", 1) for part in response.headers["Content-Security-Policy"].split(";"))


# -- the confirmation ---------------------------------------------------------------------------------


async def test_signing_in_from_the_confirmation_comes_back_to_it_and_the_post_leads_to_the_registered_address(
    client, deployment, scene
):
    _, fan, thing = scene
    response, html = await page(client, f"/flattr/{thing}")
    assert response.status == 200 and "A post" in html and "artist" in html
    assert 'name="seen"' not in html  # no form before signing in
    link = f"/signin?next={quote(f'/flattr/{thing}', safe='')}"
    assert f'href="{link}"' in html.replace("&amp;", "&")
    assert policy(response)["frame-ancestors"] == "'none'" and response.headers["X-Frame-Options"] == "DENY"
    assert policy(response)["form-action"] == "'self' https://blog.example"  # the redirect after the post is allowed

    _, html = await page(client, link)
    assert f'name="next" value="/flattr/{thing}"' in html
    assert await sign_in(client, "fan", f"/flattr/{thing}") == f"/flattr/{thing}"
    response, html = await page(client, f"/flattr/{thing}")
    assert flash_text(html) == "You are signed in."
    assert "Budget €2.00: this flattr would get about €2.00 of it, before fees." in unescape(html)
    assert points(deployment, fan, thing) == 0  # a GET flattrs nothing, however often
    response, _ = await flattr_from_page(client, thing)
    assert response.status == 303 and response.headers["Location"] == POST_URL
    assert points(deployment, fan, thing) == 1
    _, html = await page(client, f"/flattr/{thing}")
    assert "Flattrs this period: 1" in html and "already" in html and 'name="seen"' not in html


async def test_the_post_leads_only_to_the_registered_address_whatever_the_request_names(client, deployment, scene):
    _, _, thing = scene
    assert await sign_in(client, "fan", "//evil.example/") == "/account"  # a next that is not a path of this site
    assert await sign_in(client, "fan", "https://evil.example/") == "/account"
    response, _ = await flattr_from_page(
        client, thing, next="https://evil.example/", url="https://evil.example/", redirect="https://evil.example/"
    )
    assert response.status == 303 and response.headers["Location"] == POST_URL
    _, html = await page(client, f"/flattr/{thing}")
    response, _ = await post_form(
        client, f"/flattr/{thing}", {"seen": "1" * 5000}, token=csrf_token(html), headers={"Referer": "https://evil.example/"}
    )
    assert response.headers["Location"] == POST_URL  # a nonsense "seen" is only no proof of a repeat


async def test_a_post_without_its_pages_token_is_refused_and_flattrs_nothing(client, deployment, scene):
    _, fan, thing = scene
    await sign_in(client, "fan")
    for token in ("", "forged-token"):
        response, html = await post_form(client, f"/flattr/{thing}", {"seen": "0"}, token=token)
        assert response.status == 403 and "Reload the page" in html
    assert points(deployment, fan, thing) == 0


async def test_a_post_not_signed_in_goes_to_sign_in_and_back(client, deployment, scene):
    _, fan, thing = scene
    response, _ = await post_form(client, f"/flattr/{thing}", {"seen": "0", "popup": "1"}, from_page=f"/flattr/{thing}")
    assert response.status == 303
    assert response.headers["Location"] == "/signin?next=" + quote(f"/flattr/{thing}?popup=1", safe="")
    assert points(deployment, fan, thing) == 0


async def test_a_double_click_counts_once(client, deployment, scene):
    _, fan, thing = scene
    await sign_in(client, "fan")
    _, html = await page(client, f"/flattr/{thing}")
    for _ in range(2):  # the same form, posted twice
        response, _ = await post_form(client, f"/flattr/{thing}", {"seen": seen_of(html)}, token=csrf_token(html))
        assert response.status == 303 and response.headers["Location"] == POST_URL
    assert points(deployment, fan, thing) == 1


async def test_with_weighted_points_a_double_click_adds_one_point_and_a_new_click_another(deployment_factory, aiohttp_client):
    deployment = deployment_factory(config(weighted_points=True, max_points=3))
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))
    artist, fan = payable(deployment, "artist"), payable(deployment, "fan")
    top_up(deployment, fan, eur("5.00"), "sandbox", key="fan")
    thing = register_thing(deployment, artist, POST_URL, "A post").id
    await sign_in(client, "fan")
    _, html = await page(client, f"/flattr/{thing}")
    for _ in range(2):
        await post_form(client, f"/flattr/{thing}", {"seen": seen_of(html)}, token=csrf_token(html))
    assert points(deployment, fan, thing) == 1
    response, _ = await flattr_from_page(client, thing)  # the page again: a new click, one more point
    assert response.status == 303 and points(deployment, fan, thing) == 2


async def test_refusals_are_said_on_the_page_never_as_a_500(client, deployment, scene):
    artist, _, thing = scene
    response, html = await page(client, "/flattr/999999")
    assert response.status == 404 and "There is no such thing here, or its creator hid it." in html
    response, html = await page(client, "/flattr/not-a-number", Accept="text/html")
    assert response.status == 404

    await sign_in(client, "artist")
    top_up(deployment, artist, eur("5.00"), "sandbox", key="artist")
    response, html = await page(client, f"/flattr/{thing}")
    assert "This is your own thing: you cannot flattr it." in html and 'name="seen"' not in html
    response, html = await post_form(client, f"/flattr/{thing}", {"seen": "0"}, token=csrf_token(html))
    assert response.status == 403 and error_text(html) == "This is your own thing: you cannot flattr it."

    payable(deployment, "broke")
    await sign_in(client, "broke")
    response, html = await page(client, f"/flattr/{thing}")
    assert "top it up first" in html
    response, html = await post_form(client, f"/flattr/{thing}", {"seen": "0"}, token=csrf_token(html))
    assert response.status == 402 and error_text(html).startswith("Your wallet holds less than the minimum budget")
    response, html = await post_form(client, "/flattr/999999", {"seen": "0"}, token=csrf_token(html))
    assert response.status == 404


async def test_a_closed_period_is_said_on_the_page(client, deployment, scene):
    _, fan, thing = scene
    await sign_in(client, "fan")
    _, html = await page(client, f"/flattr/{thing}")
    deployment.clock.set(NOVEMBER)
    settle(deployment, parse_period("2026-10", "month"))
    deployment.clock.set(OCTOBER)  # a click from a page read before the period closed
    response, html = await post_form(client, f"/flattr/{thing}", {"seen": "0"}, token=csrf_token(html))
    assert response.status == 409 and "This period is being settled" in error_text(html)
    assert points(deployment, fan, thing) == 0


async def test_in_a_popup_the_post_answers_with_the_thank_you_page_for_the_opener(client, deployment, scene):
    _, _, thing = scene
    await sign_in(client, "fan")
    response, html = await page(client, f"/flattr/{thing}?popup=1")
    assert 'name="popup" value="1"' in html and assets()["flattr-popup.js"].name in html
    # The button waits for the window to be seen (its script enables it): no double click the opener asked for flattrs.
    assert '<button type="submit" id="flattr-confirm" disabled>' in html
    _, plain = await page(client, f"/flattr/{thing}")
    assert "disabled" not in plain  # the page itself, reached by a link, needs no script
    response, html = await post_form(client, f"/flattr/{thing}", {"seen": "0", "popup": "1"}, token=csrf_token(html))
    assert response.status == 200
    assert f'data-thing="{thing}" data-count="1" data-origin="https://blog.example"' in html
    assert policy(response)["frame-ancestors"] == "'none'"


async def test_signing_in_keeps_only_a_local_next_and_the_sign_up_page_passes_it_on(client, deployment, scene):
    _, html = await page(client, "/signin?next=" + quote("https://evil.example/", safe=""))
    sign_in_form = re.search(r'<form method="post" action="/signin".*?</form>', html, re.S).group(0)
    assert 'name="next"' not in sign_in_form and 'href="/signup"' in html
    _, html = await page(client, "/signup?next=%2Fflattr%2F1")
    assert 'href="/signin?next=/flattr/1"' in html
    await sign_in(client, "fan")
    response, _ = await page(client, "/signin?next=%2Fflattr%2F1")  # signed in already: straight there
    assert response.status == 303 and response.headers["Location"] == "/flattr/1"


# -- the badge and the script --------------------------------------------------------------------------


async def test_the_badge_is_a_cacheable_image_with_the_count_that_answers_304(client, deployment, scene):
    _, _, thing = scene
    response = await client.get(f"/things/{thing}/badge.svg")
    body = await response.text()
    assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml"
    assert response.headers["Cache-Control"] == "public, max-age=60"
    assert response.headers["Cross-Origin-Resource-Policy"] == "cross-origin"
    assert "Set-Cookie" not in response.headers
    assert 'aria-label="Flattr: 0"' in body and body.startswith("<svg")
    etag = response.headers["ETag"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', etag)  # strong: no W/
    again = await client.get(f"/things/{thing}/badge.svg", headers={"If-None-Match": etag})
    assert again.status == 304 and again.headers["ETag"] == etag and await again.read() == b""
    assert again.headers["Cache-Control"] == "public, max-age=60"

    await sign_in(client, "fan")
    await flattr_from_page(client, thing)
    changed = await client.get(f"/things/{thing}/badge.svg?count=1", headers={"If-None-Match": etag})
    assert changed.status == 200 and 'aria-label="Flattr: 1"' in await changed.text()
    assert changed.headers["ETag"] != etag


async def test_a_thing_that_does_not_exist_or_is_hidden_gets_the_plain_badge(client, deployment, scene):
    artist, _, thing = scene
    update_thing(deployment, artist, thing, {"hidden": True})
    for path in (f"/things/{thing}/badge.svg", "/things/999999/badge.svg"):
        response = await client.get(path, headers={"Accept": "text/html"})
        body = await response.text()
        assert response.status == 200 and response.headers["Content-Type"] == "image/svg+xml", path
        assert 'aria-label="Flattr"' in body and not re.search(r"<text[^>]*>[0-9]+</text>", body)


async def test_the_script_has_a_stable_cacheable_address(client):
    response = await client.get("/button.js")
    assert response.status == 200 and response.headers["Content-Type"].startswith("text/javascript")
    assert response.headers["Cache-Control"] == "public, max-age=300"
    assert await response.read() == assets()["button.js"].body
    again = await client.get("/button.js", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status == 304


# -- the snippets ----------------------------------------------------------------------------------------


async def test_the_snippets_are_for_the_things_creator_only(client, deployment, scene):
    _, _, thing = scene
    response, _ = await page(client, f"/things/{thing}/button")
    assert response.status == 303 and response.headers["Location"] == "/signin"
    await sign_in(client, "fan")
    response, html = await page(client, f"/things/{thing}/button")
    assert response.status == 403 and "<textarea" not in html
    response, _ = await page(client, "/things/999999/button")
    assert response.status == 404

    await sign_in(client, "artist")
    response, html = await page(client, f"/things/{thing}/button")
    assert response.status == 200
    codes = [unescape(code) for code in re.findall(r"<textarea[^>]*readonly[^>]*>(.*?)</textarea>", html, re.S)]
    link = f"{BASE_URL}/flattr/{thing}"
    assert codes[0] == f'<a class="flattr-button" href="{link}">Flattr “A post”</a>'
    badge = f'<img src="{BASE_URL}/things/{thing}/badge.svg" alt="Flattr “A post”" height="20">'
    assert codes[1] == f'<a class="flattr-button" href="{link}">{badge}</a>'
    assert codes[2] == f'{codes[1]}\n<script src="{BASE_URL}/button.js" async></script>'


# -- Flattr's auto-submit ------------------------------------------------------------------------------------


def auto(url: str, title: str = "A new post", user: str = "artist", **more: str) -> str:
    return "/submit/auto?" + urlencode({"user_id": user, "url": url, "title": title, **more})


async def test_auto_submit_asks_first_then_registers_and_flattrs_on_the_post(client, deployment, scene):
    _, fan, _ = scene
    address = "https://blog.example/posts/2"
    link = auto(address, description="Second", language="en_GB", tags="comics, art", category="images")
    response, html = await page(client, link)
    assert response.status == 200 and "A new post" in html and 'name="user_id"' not in html  # sign in first
    assert "/signin?next=" + quote(link.split("?")[0], safe="") in html
    assert policy(response)["form-action"] == "'self' https://blog.example"
    await sign_in(client, "fan")
    for _ in range(2):  # a GET, signed in or not, registers and flattrs nothing
        response, html = await page(client, link)
        assert response.status == 200 and 'name="url"' in html
    with pytest.raises(Exception, match="no thing"):
        thing_by_url(deployment, address)

    fields = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)">', html))
    response, _ = await post_form(
        client, "/submit/auto", {k: unescape(v) for k, v in fields.items() if k != "csrf_token"}, token=csrf_token(html)
    )
    assert response.status == 303 and response.headers["Location"] == address
    thing = thing_by_url(deployment, address)
    assert (thing.owner, thing.title, thing.language, thing.category, thing.tags) == (
        "artist",
        "A new post",
        "en-GB",
        "images",
        ["art", "comics"],
    )
    assert points(deployment, fan, thing.id) == 1
    response, _ = await page(client, link)  # registered now: the link leads to its confirmation page
    assert response.status == 303 and response.headers["Location"] == f"/flattr/{thing.id}"


async def test_auto_submit_outside_the_creators_sites_is_refused(client, deployment, scene):
    _, fan, _ = scene
    await sign_in(client, "fan")
    for link, status in (
        (auto("https://elsewhere.example/page"), 403),
        (auto("https://blog.example.evil.example/page"), 403),
        (auto("https://blog.example/posts/3", user="nobody"), 404),
        (auto("https://blog.example/posts/3", title=""), 422),
        (auto("javascript:alert(1)"), 422),
    ):
        response, html = await page(client, link)
        assert response.status == status, (link, html)
        assert 'name="url"' not in html
    _, html = await page(client, "/")
    fields = {"user_id": "artist", "url": "https://elsewhere.example/page", "title": "Not theirs"}
    response, html = await post_form(client, "/submit/auto", fields, token=csrf_token(html))
    assert response.status == 403 and "only from the sites they list" in html
    with pytest.raises(Exception, match="no thing"):
        thing_by_url(deployment, "https://elsewhere.example/page")
    assert flattrs_of(deployment, fan, current_period(deployment)) == []


async def test_a_hidden_thing_cannot_be_flattred_through_its_page(client, deployment, scene):
    artist, fan, thing = scene
    update_thing(deployment, artist, thing, {"hidden": True})
    await sign_in(client, "fan")
    response, html = await page(client, f"/flattr/{thing}")
    assert response.status == 404
    assert get_thing(deployment, thing, viewer=artist).hidden


async def test_an_address_that_is_not_ascii_is_led_back_to_percent_encoded(client, deployment, scene):
    artist, fan, _ = scene
    thing = register_thing(deployment, artist, "https://bücher.example/café?page=é", "Un café").id
    await sign_in(client, "fan")
    response, _ = await page(client, f"/flattr/{thing}")
    assert policy(response)["form-action"] == "'self' https://xn--bcher-kva.example"
    response, _ = await flattr_from_page(client, thing)
    assert response.status == 303 and response.headers["Location"] == "https://xn--bcher-kva.example/caf%C3%A9?page=%C3%A9"
    assert points(deployment, fan, thing) == 1
