"""The discovery pages over HTTP, on both databases: the home page's lists, /things (search, filters, the three sorts,
paging), a thing's page, a creator's profile and Atom feed, their payment links, and the 404s and 422s.

The data is made through the use cases: things in English and in French,
one hidden, one registered two months ago, and funders with budgets who
flattr some of them in the current period (October 2026, the frozen clock).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import timedelta
from html import unescape
from urllib.parse import quote

import pytest

from gateway.core.periods import parse_period
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.http.schemas import encode_cursor
from gateway.usecases.discovery import SMALL_FUNDERS
from gateway.usecases.flattr import flattr
from gateway.usecases.participants import register_participant
from gateway.usecases.settlement import settle
from gateway.usecases.things import register_thing, update_thing
from gateway.web.discovery import PAGE_SIZE
from tests.support import NOVEMBER, OCTOBER, eur, top_up
from tests.web_support import BASE_URL, error_text, html_lang, page

ATOM = "{http://www.w3.org/2005/Atom}"


@dataclass(frozen=True)
class Scene:
    rust: int  # ada's, English, new, nobody flattred it
    comic: int  # zoé's, French, new, one funder: new and small
    song: int  # ada's, English, two months old, two funders
    famous: int  # ada's, English, new, three funders: new but not small
    hidden: int  # zoé's, French, hidden


@pytest.fixture
def scene(deployment) -> Scene:
    ada = register_participant(deployment, "ada")
    zoe = register_participant(deployment, "zoe", language="fr")
    deployment.clock.set(OCTOBER - timedelta(days=60))
    song = register_thing(deployment, ada, "https://ada.example/song", "Old song", "en", "music", "A song from summer.")
    deployment.clock.set(OCTOBER)
    rust = register_thing(
        deployment,
        ada,
        "https://ada.example/rust",
        "Learning Rust",
        "en",
        "code",
        "Ownership, step by step.",
        ["rust", "Tutorial"],
    )
    comic = register_thing(
        deployment, zoe, "https://zoe.example/bd", "L'été à Marseille", "fr", "bd", "Une bande dessinée\nen deux pages.", ["été"]
    )
    famous = register_thing(deployment, ada, "https://ada.example/famous", "Famous post", "en", "code")
    hidden = register_thing(deployment, zoe, "https://zoe.example/draft", "Brouillon secret", "fr", "brouillons", tags=["secret"])
    fans = [register_participant(deployment, f"fan{n}") for n in range(4)]
    for n, fan in enumerate(fans):
        top_up(deployment, fan, eur("5.00"), "sandbox", key=f"fan{n}")
    assert SMALL_FUNDERS == 3  # "famous" has as many funders as it takes to be no longer small
    for fan in fans[:3]:
        flattr(deployment, fan, famous.id)
    for fan in fans[:2]:
        flattr(deployment, fan, song.id)
    flattr(deployment, fans[3], comic.id)
    flattr(deployment, fans[3], hidden.id)  # then hidden: its flattr stays, and still it shows nowhere
    update_thing(deployment, zoe, hidden.id, {"hidden": True})
    return Scene(rust.id, comic.id, song.id, famous.id, hidden.id)


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_000_000.0)))


def listed(html: str) -> list[int]:
    """The things a page lists, in order (each list's titles link to the thing's page)."""
    return [int(found) for found in re.findall(r'class="thing-title" href="/things/([0-9]+)"', html)]


def shelf(html: str, sort: str) -> list[int]:
    """The things of one of the home page's lists."""
    found = re.search(rf'<section class="shelf" aria-labelledby="shelf-{sort}">(.*?)</section>', html, re.S)
    assert found, sort
    return listed(found.group(1))


def links(html: str, rel: str) -> list[str]:
    return [unescape(href) for href in re.findall(rf'<link rel="{rel}"[^>]*href="([^"]+)"', html)]


async def ok(client, path: str, **headers: str) -> str:
    response, html = await page(client, path, **headers)
    assert response.status == 200, (path, html)
    assert response.headers["Content-Type"].startswith("text/html")
    return html


# -- the home page ----------------------------------------------------------------------------------


async def test_the_home_page_has_the_three_lists_and_a_search_box(client, scene):
    html = await ok(client, "/")
    assert shelf(html, "popular") == [scene.famous, scene.song, scene.comic]  # what nobody flattred is not popular
    assert shelf(html, "new") == [scene.famous, scene.comic, scene.rust, scene.song]
    assert shelf(html, "small") == [scene.comic, scene.rust]
    assert scene.hidden not in listed(html)
    assert '<form method="get" action="/things" class="search" role="search">' in html
    for sort in ("popular", "new", "small"):
        assert f'href="/things?sort={sort}"' in html
    assert 'href="/signup"' in html  # the newcomer's call to action stays


async def test_the_home_page_of_an_empty_platform_says_so(client, deployment):
    html = await ok(client, "/", **{"Accept-Language": "fr"})
    assert html_lang(html) == "fr"
    assert "Rien n" in html and listed(html) == []


# -- the list: sorts, filters, search ------------------------------------------------------------------


async def test_the_three_sorts(client, scene):
    assert listed(await ok(client, "/things")) == [scene.famous, scene.song, scene.comic, scene.rust]  # popular first
    assert listed(await ok(client, "/things?sort=popular")) == [scene.famous, scene.song, scene.comic, scene.rust]
    assert listed(await ok(client, "/things?sort=new")) == [scene.famous, scene.comic, scene.rust, scene.song]
    html = await ok(client, "/things?sort=small")
    assert listed(html) == [scene.comic, scene.rust]  # new, and flattred by fewer than SMALL_FUNDERS people
    assert "People who flattred it: 1" in html
    assert 'aria-current="true">New and small</a>' in html


FOUND = [  # a query, and the things it lists
    ("language=fr", ["comic"]),
    ("language=en&sort=new", ["famous", "rust", "song"]),
    ("category=code&sort=new", ["famous", "rust"]),
    ("tag=rust", ["rust"]),
    ("tag=tutorial", ["rust"]),  # tags are kept lower-cased
    ("q=rust", ["rust"]),
    ("q=OWNERSHIP", ["rust"]),  # in the description, whatever the case
    ("q=%C3%89T%C3%89", ["comic"]),  # ÉTÉ finds "été", on SQLite too
    ("q=song&category=music", ["song"]),
    ("q=secret", []),  # a hidden thing is found by nobody
    ("category=brouillons", []),
    ("q=100%25", []),  # % is no wildcard
    ("tag=nothing&sort=small", []),
    ("colour=blue&language=fr", ["comic"]),  # a name no list knows is ignored
]


async def test_filters_and_search(client, scene):
    for query, expected in FOUND:
        html = await ok(client, f"/things?{query}")
        assert listed(html) == [getattr(scene, name) for name in expected], query
        assert ("No thing matches this." in html) == (not expected), query


async def test_the_filters_are_offered_as_links_that_keep_the_others(client, scene):
    html = await ok(client, "/things?sort=new&q=a")
    assert 'href="/things?q=a&amp;language=fr&amp;sort=new">French</a>' in html
    assert 'href="/things?q=a&amp;category=music&amp;sort=new">music</a>' in html
    assert 'href="/things?q=a&amp;tag=rust&amp;sort=new">rust</a>' in html
    assert "brouillons" not in html and "secret" not in html  # the hidden thing's category and tag are offered nowhere
    html = await ok(client, "/things?language=fr&tag=%C3%A9t%C3%A9", **{"Accept-Language": "fr"})
    assert "Langue\N{NO-BREAK SPACE}: français" in html
    assert 'href="/things?tag=%C3%A9t%C3%A9">retirer</a>' in html  # taking the language off keeps the tag
    assert '<input type="hidden" name="language" value="fr">' in html  # the search box keeps the filters too


async def test_the_list_pages_on_with_a_more_link(client, deployment, scene):
    maker = register_participant(deployment, "maker")
    made = [register_thing(deployment, maker, f"https://maker.example/{n}", f"Piece {n}").id for n in range(PAGE_SIZE + 2)]
    html = await ok(client, "/things?sort=new")
    assert listed(html) == made[::-1][:PAGE_SIZE]
    more = unescape(re.search(r'<a class="button" href="([^"]+)" rel="next">', html).group(1))
    assert more.startswith("/things?sort=new&after=")
    html = await ok(client, more)
    assert listed(html) == [*made[::-1][PAGE_SIZE:], scene.famous, scene.comic, scene.rust, scene.song]
    assert 'rel="next"' not in html
    html = await ok(client, "/creators/maker")
    assert len(listed(html)) == PAGE_SIZE
    more = unescape(re.search(r'<a class="button" href="([^"]+)" rel="next">', html).group(1))
    assert listed(await ok(client, more)) == made[1::-1]


REFUSED = [  # a query no list could have, and what the page says of it
    ("sort=best", "This cannot be accepted as it is"),
    ("language=%3Cscript%3E", "Choose one of the languages offered."),
    ("q=" + "x" * 201, "This cannot be accepted as it is"),
    ("q=a%00b", "This cannot be accepted as it is"),
    ("tag=" + "t" * 41, "This cannot be accepted as it is"),
    ("after=not-a-cursor!", "This cannot be accepted as it is"),
    ("after=%C3%A9", "This cannot be accepted as it is"),
    ("sort=new&after=" + quote(encode_cursor(["popular", 3, 1])), "This cannot be accepted as it is"),
]


async def test_a_query_no_list_could_have_is_a_422_page_never_a_500(client, scene):
    for query, message in REFUSED:
        response, html = await page(client, f"/things?{query}")
        assert response.status == 422, (query, html)
        assert error_text(html).startswith(message), query
        assert "<script>" not in html and listed(html) == []


# -- a thing's page ----------------------------------------------------------------------------------


async def test_a_things_page(client, scene):
    html = await ok(client, f"/things/{scene.comic}", **{"Accept-Language": "fr"})
    assert links(html, "payment") == [f"{BASE_URL}/flattr/{scene.comic}"]
    assert '<h1 lang="fr">L&#39;été à Marseille</h1>' in html
    assert "Une bande dessinée\nen deux pages." in html
    assert '<a class="external" href="https://zoe.example/bd" rel="nofollow ugc">' in html
    assert f'<a class="button flattr" href="/flattr/{scene.comic}">' in html
    assert re.search(rf'<img class="badge" src="/things/{scene.comic}/badge.svg" alt="[^"]+"', html)
    facts = dict(re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.S))
    assert facts["Flattrs de cette période"] == "1" and facts["Soutiens jusqu’ici"] == "0"
    assert facts["Créateur ou créatrice"] == '<a href="/creators/zoe">zoe</a>'
    assert facts["Langue"] == '<a href="/things?language=fr">français</a>'
    assert facts["Catégorie"] == '<a href="/things?category=bd">bd</a>'
    assert 'href="/things?tag=%C3%A9t%C3%A9">été</a>' in html
    assert facts["Enregistré le"] == "15 octobre 2026"


async def test_after_the_settlement_the_funders_are_counted_and_small_stays_small(client, deployment, scene):
    deployment.clock.set(NOVEMBER)
    settle(deployment, parse_period("2026-10", "month"))
    facts = dict(re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", await ok(client, f"/things/{scene.famous}"), re.S))
    assert facts["Flattrs this period"] == "0" and facts["Funders so far"] == "3"  # a new period; three paid it in October
    assert listed(await ok(client, "/things?sort=small")) == [scene.comic, scene.rust]  # October's funders still count
    assert shelf(await ok(client, "/"), "popular") == []
    deployment.clock.set(NOVEMBER + timedelta(days=30))
    assert listed(await ok(client, "/things?sort=small")) == []  # a month on, nothing is new any more


async def test_an_unknown_thing_is_a_404_page(client, scene):
    for path in ("/things/999999", "/things/0", "/things/999999999999999999", "/things/abc"):
        response, html = await page(client, path, Accept="text/html")
        assert response.status == 404 and response.headers["Content-Type"].startswith("text/html"), path
        assert "<h1>Not found</h1>" in html, path


async def test_a_hidden_thing_is_a_404_page_and_listed_nowhere(client, scene):
    response, html = await page(client, f"/things/{scene.hidden}")
    assert response.status == 404 and "<h1>Not found</h1>" in html
    for path in ("/", "/things", "/things?sort=new", "/things?sort=small", "/things?language=fr", "/creators/zoe"):
        assert scene.hidden not in listed(await ok(client, path)), path
    feed = ET.fromstring(await (await client.get("/creators/zoe/feed.atom")).read())
    assert [entry.findtext(f"{ATOM}title") for entry in feed.iter(f"{ATOM}entry")] == ["L'été à Marseille"]


# -- a creator's profile and feed --------------------------------------------------------------------


async def test_a_creators_profile(client, scene):
    html = await ok(client, "/creators/ada")
    assert links(html, "payment") == [f"{BASE_URL}/creators/ada"]
    assert re.search(
        rf'<link rel="alternate" type="application/atom\+xml" href="{re.escape(BASE_URL)}/creators/ada/feed.atom"', html
    )
    assert "<h1>ada</h1>" in html
    assert listed(html) == [scene.famous, scene.rust, scene.song]
    facts = dict(re.findall(r"<dt>(.*?)</dt>\s*<dd>(.*?)</dd>", html, re.S))
    assert facts["Things"] == "3" and facts["Member since"] == "October 15, 2026"
    html = await ok(client, "/creators/zoe")
    assert listed(html) == [scene.comic]
    assert re.search(r"<dt>Things</dt>\s*<dd>1</dd>", html)  # the hidden one is not counted


async def test_a_creators_feed_is_atom_with_payment_links(client, scene):
    response = await client.get("/creators/ada/feed.atom")
    assert response.status == 200
    assert response.headers["Content-Type"] == "application/atom+xml; charset=utf-8"
    feed = ET.fromstring(await response.read())
    assert feed.tag == f"{ATOM}feed"
    assert feed.findtext(f"{ATOM}id") == f"{BASE_URL}/creators/ada"
    assert feed.findtext(f"{ATOM}title") == "ada · test"
    assert feed.findtext(f"{ATOM}updated") == "2026-10-15T12:00:00+00:00"
    assert feed.findtext(f"{ATOM}author/{ATOM}name") == "ada"
    feed_links = {link.get("rel"): link.get("href") for link in feed.findall(f"{ATOM}link")}
    assert feed_links == {
        "self": f"{BASE_URL}/creators/ada/feed.atom",
        "alternate": f"{BASE_URL}/creators/ada",
        "payment": f"{BASE_URL}/creators/ada",
    }
    entries = feed.findall(f"{ATOM}entry")
    assert [entry.findtext(f"{ATOM}id") for entry in entries] == [
        f"{BASE_URL}/things/{thing}" for thing in (scene.famous, scene.rust, scene.song)
    ]
    rust = entries[1]
    assert rust.findtext(f"{ATOM}title") == "Learning Rust"
    assert rust.findtext(f"{ATOM}summary") == "Ownership, step by step."
    assert rust.findtext(f"{ATOM}updated") == "2026-10-15T12:00:00+00:00"
    assert rust.get("{http://www.w3.org/XML/1998/namespace}lang") == "en"
    assert {link.get("rel"): link.get("href") for link in rust.findall(f"{ATOM}link")} == {
        "alternate": "https://ada.example/rust",
        "payment": f"{BASE_URL}/flattr/{scene.rust}",
    }
    assert [category.get("term") for category in rust.findall(f"{ATOM}category")] == ["code", "rust", "tutorial"]
    assert entries[2].findtext(f"{ATOM}updated") == "2026-08-16T12:00:00+00:00"  # the old song
    for entry in entries:  # what RFC 4287 asks of every entry
        assert entry.findtext(f"{ATOM}id") and entry.findtext(f"{ATOM}title") and entry.findtext(f"{ATOM}updated")


async def test_a_feed_without_things_is_still_a_feed(client, deployment):
    register_participant(deployment, "quiet")
    response = await client.get("/creators/quiet/feed.atom")
    assert response.status == 200
    feed = ET.fromstring(await response.read())
    assert feed.findall(f"{ATOM}entry") == [] and feed.findtext(f"{ATOM}updated") == "2026-10-15T12:00:00+00:00"


async def test_an_unknown_creator_is_a_404_page(client, deployment):
    register_participant(deployment, "ada")
    for path in (
        "/creators/nobody",
        "/creators/nobody/feed.atom",
        "/creators/-bad-",
        "/creators/%C3%A9",
        "/creators/" + "a" * 65,
    ):
        response, html = await page(client, path)
        assert response.status == 404 and "<h1>Not found</h1>" in html, path


async def test_a_bad_position_on_a_profile_is_a_422_page(client, scene):
    response, html = await page(client, "/creators/ada?after=garbage")
    assert response.status == 422 and "<h1>This cannot be accepted</h1>" in html
