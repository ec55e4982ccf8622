"""Things, taking flattrs back, the operator's accounts, the public report and French, over real HTTP, on both databases."""

from __future__ import annotations

import asyncio
from urllib.parse import urlencode

import pytest

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.http.schemas import encode_cursor
from tests.http_support import member, newest_mail, settle_and_wait, sign_up, top_up, wait_for_mail
from tests.support import NOVEMBER
from tests.test_http_journeys import money, post

THINGS = "/api/v1/things"


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


async def register(client, user, url, title="A thing", **fields):
    return await (await post(client, THINGS, user, {"url": url, "title": title, **fields}, expect=201)).json()


async def listing(client, user=None, **query):
    response = await client.get(f"{THINGS}?{urlencode(query)}", headers=user.auth if user else {})
    assert response.status == 200, await response.text()
    return await response.json()


async def ids(client, user=None, **query):
    return [item["id"] for item in (await listing(client, user, **query))["items"]]


async def walk(client, limit, **query):
    """Every page of a listing, following next_cursor; the ids in the order served."""
    seen, cursor, pages = [], None, 0
    while True:
        page = await listing(client, limit=limit, **query, **({"cursor": cursor} if cursor else {}))
        assert len(page["items"]) <= limit
        seen += [item["id"] for item in page["items"]]
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            return seen, pages


async def flattr(client, user, thing_id, expect=200):
    return await post(client, f"{THINGS}/{thing_id}/flattr", user, {}, expect=expect)


async def settle(client, boss, period="2026-10"):
    return await settle_and_wait(client, boss, period, key=f"settle-{period}")


async def problem(response, status, code):
    assert response.status == status, (response.status, await response.text())
    assert response.content_type == "application/problem+json"
    body = await response.json()
    assert body["type"] == code, body
    return body


# -- things: register, change, hide, get ------------------------------------------------------


async def test_register_change_and_get_a_thing(client, deployment):
    owner, other = member(deployment, "owner"), member(deployment, "other")
    thing = await register(
        client,
        owner,
        "https://owner.example/comic/1",
        "Comic",
        description="A strip a day",
        language="fr",
        category="comics",
        tags=["Drôle", "strip", "  STRIP "],
    )
    assert thing == {
        "id": thing["id"],
        "owner": "owner",
        "url": "https://owner.example/comic/1",
        "title": "Comic",
        "description": "A strip a day",
        "language": "fr",
        "category": "comics",
        "tags": ["drôle", "strip"],
        "hidden": False,
        "created_at": "2026-10-15T12:00:00Z",
    }
    anonymous = await client.get(f"{THINGS}/{thing['id']}")
    assert anonymous.status == 200 and await anonymous.json() == thing

    await problem(await post(client, THINGS, other, {"url": thing["url"], "title": "Mine"}), 409, "url_taken")
    await problem(await post(client, THINGS, owner, {"url": "javascript:alert(1)", "title": "X"}), 422, "validation_error")
    too_many = await problem(
        await post(client, THINGS, owner, {"url": "https://owner.example/t", "title": "T", "tags": [f"t{i}" for i in range(11)]}),
        422,
        "validation_error",
    )
    assert too_many["errors"][0]["field"] == "tags"
    long_tag = await problem(
        await post(client, THINGS, owner, {"url": "https://owner.example/t", "title": "T", "tags": ["x" * 41]}),
        422,
        "validation_error",
    )
    assert long_tag["errors"][0]["field"] == "tags"

    path = f"{THINGS}/{thing['id']}"
    changed = await client.patch(path, json={"title": "Comic #1", "category": None, "tags": ["Daily"]}, headers=owner.auth)
    assert changed.status == 200, await changed.text()
    assert {k: (await changed.json())[k] for k in ("title", "category", "tags", "description")} == {
        "title": "Comic #1",
        "category": None,
        "tags": ["daily"],
        "description": "A strip a day",
    }
    assert (await (await client.get(path)).json())["tags"] == ["daily"]

    await problem(await client.patch(path, json={"title": "Stolen"}, headers=other.auth), 403, "forbidden")
    await problem(await client.patch(f"{THINGS}/999999", json={"title": "X"}, headers=owner.auth), 404, "not_found")
    for bad in (
        {"title": None},
        {"title": ""},
        {"hidden": None},
        {"hidden": "yes"},
        {"owner": "other"},
        {"tags": ["y" * 41]},
        {"language": "French"},
    ):
        body = await problem(await client.patch(path, json=bad, headers=owner.auth), 422, "validation_error")
        assert body["errors"][0]["field"] == next(iter(bad)), (bad, body)
    after = await (await client.get(path)).json()
    assert (after["title"], after["tags"], after["description"], after["hidden"]) == (
        "Comic #1",
        ["daily"],
        "A strip a day",
        False,
    )
    cleared = await client.patch(path, json={"tags": None, "description": None, "language": None}, headers=owner.auth)
    assert cleared.status == 200, await cleared.text()
    after = await (await client.get(path)).json()
    assert (after["title"], after["tags"], after["description"], after["language"]) == ("Comic #1", [], "", None)


async def test_a_hidden_thing_is_unlisted_and_unflattrable_but_its_owner_sees_it(client, deployment):
    owner, fan = member(deployment, "owner"), member(deployment, "fan")
    await top_up(client, fan)
    shown = await register(client, owner, "https://owner.example/shown", "Shown")
    secret = await register(client, owner, "https://owner.example/secret", "Secret", tags=["x"])
    path = f"{THINGS}/{secret['id']}"
    hidden = await client.patch(path, json={"hidden": True}, headers=owner.auth)
    assert hidden.status == 200 and (await hidden.json())["hidden"] is True

    for viewer in (None, fan):
        headers = viewer.auth if viewer else {}
        await problem(await client.get(path, headers=headers), 404, "not_found")
        await problem(await client.get(f"{THINGS}/lookup?url={secret['url']}", headers=headers), 404, "not_found")
        await problem(await client.get(f"{path}/counts", headers=headers), 404, "not_found")
        assert await ids(client, viewer) == [shown["id"]]
        assert await ids(client, viewer, tag="x") == []
    assert (await (await client.get(path, headers=owner.auth)).json())["hidden"] is True
    assert (await (await client.get(f"{THINGS}/lookup?url={secret['url']}", headers=owner.auth)).json())["id"] == secret["id"]
    assert (await (await client.get(f"{path}/counts", headers=owner.auth)).json())["flattrs_this_period"] == 0
    assert await ids(client, owner) == [secret["id"], shown["id"]]
    assert await ids(client, owner, owner="owner", tag="x") == [secret["id"]]

    await problem(await flattr(client, fan, secret["id"], expect=None), 404, "not_found")
    await client.patch("/api/v1/me", json={"auto_submit_sites": ["https://owner.example/"]}, headers=owner.auth)
    auto = await post(client, f"{THINGS}/auto", fan, {"url": secret["url"], "title": "Again", "owner": "owner"})
    await problem(auto, 404, "not_found")  # not "already registered": a hidden thing is not there for others
    assert (await (await client.get("/api/v1/me/flattrs", headers=fan.auth)).json())["items"] == []

    await client.patch(path, json={"hidden": False}, headers=owner.auth)
    assert (await (await flattr(client, fan, secret["id"])).json())["thing_id"] == secret["id"]
    assert await ids(client) == [secret["id"], shown["id"]]


# -- listing: filters, sorts, pages -----------------------------------------------------------


async def test_each_filter_and_text_search(client, deployment):
    alice, bob = member(deployment, "alice"), member(deployment, "bob")
    folk = await register(
        client,
        alice,
        "https://alice.example/folk",
        "Folk song",
        description="acoustic",
        language="en",
        category="music",
        tags=["Folk"],
    )
    ete = await register(
        client,
        alice,
        "https://alice.example/ete",
        "Été à Paris",
        description="une chanson",
        language="fr",
        category="music",
        tags=["folk", "chanson"],
    )
    bd = await register(
        client,
        bob,
        "https://bob.example/bd",
        "Bande dessinée",
        description="100% drôle",
        language="fr",
        category="comics",
        tags=["strip"],
    )
    jokes = await register(
        client, bob, "https://bob.example/jokes", "1000 jokes", description="snake_case humour", language="en", category="comics"
    )
    hidden = await register(
        client, bob, "https://bob.example/hidden", "Folk secret", language="en", category="music", tags=["folk"]
    )
    await client.patch(f"{THINGS}/{hidden['id']}", json={"hidden": True}, headers=bob.auth)
    a, e, b, j = folk["id"], ete["id"], bd["id"], jokes["id"]

    assert await ids(client) == [j, b, e, a]
    assert await ids(client, owner="alice") == [e, a]
    assert await ids(client, owner="bob") == [j, b]
    assert await ids(client, bob, owner="bob") == [hidden["id"], j, b]
    assert await ids(client, owner="nobody") == []
    assert await ids(client, language="fr") == [b, e]
    assert await ids(client, language="en") == [j, a]
    assert await ids(client, category="music") == [e, a]
    assert await ids(client, category="comics") == [j, b]
    assert await ids(client, tag="folk") == [e, a]
    assert await ids(client, tag="FOLK") == [e, a]
    assert await ids(client, tag="strip") == [b]
    assert await ids(client, language="fr", category="music") == [e]
    assert await ids(client, owner="bob", tag="strip", language="fr") == [b]
    assert await ids(client, q="song") == [a]
    assert await ids(client, q="ACOUSTIC") == [a]  # descriptions too, whatever the case
    assert await ids(client, q="chanson", category="music") == [e]
    # The text is found as it is written: % and _ are not wildcards.
    assert await ids(client, q="100%") == [b]
    assert await ids(client, q="e_c") == [j]
    assert await ids(client, q="%") == [b]
    # Case-insensitive beyond ASCII, on both databases.
    assert await ids(client, q="été") == [e]
    assert await ids(client, q="ÉTÉ À") == [e]
    assert await ids(client, q="DESSINÉE") == [b]
    assert await ids(client, q="nothing like it") == []

    await problem(await client.get(f"{THINGS}?colour=red"), 422, "validation_error")
    await problem(await client.get(f"{THINGS}?sort=oldest"), 422, "validation_error")
    await problem(await client.get(f"{THINGS}?limit=0"), 422, "validation_error")


async def test_sorts_popular_this_period_new_and_most_funders_and_public_counts(client, deployment):
    creator = member(deployment, "creator")
    boss = member(deployment, "boss", role="operator")
    fans = [member(deployment, f"fan{n}") for n in range(3)]
    for fan in fans:
        await top_up(client, fan)
    t1, t2, t3, t4 = [(await register(client, creator, f"https://c.example/{n}", f"T{n}"))["id"] for n in range(1, 5)]
    # October: t1 by three fans, t3 by two, t2 by one, t4 by none.
    for fan, things in zip(fans, ([t1, t2, t3], [t1, t3], [t1])):
        for thing in things:
            await flattr(client, fan, thing)

    assert await ids(client, sort="new") == [t4, t3, t2, t1]
    assert await ids(client, sort="popular") == [t1, t3, t2, t4]
    assert await ids(client, sort="funders") == [t4, t3, t2, t1]  # nobody has funded anything yet: newest first
    counts = await (await client.get(f"{THINGS}/{t1}/counts")).json()
    assert counts == {"thing_id": t1, "flattrs_this_period": 3, "funders_ever": 0}
    await problem(await client.get(f"{THINGS}/999999/counts"), 404, "not_found")

    deployment.clock.set(NOVEMBER)
    await settle(client, boss)
    assert await ids(client, sort="funders") == [t1, t3, t2, t4]
    assert await ids(client, sort="popular") == [t4, t3, t2, t1]  # a new period: nothing flattred yet
    # November: t4 by two fans, t2 by one (fan0 again: funders are counted once settled, so t2 keeps 1).
    await flattr(client, fans[1], t4)
    await flattr(client, fans[2], t4)
    await flattr(client, fans[0], t2)
    assert await ids(client, sort="popular") == [t4, t2, t3, t1]
    assert await ids(client, sort="funders") == [t1, t3, t2, t4]
    assert await (await client.get(f"{THINGS}/{t1}/counts")).json() == {
        "thing_id": t1,
        "flattrs_this_period": 0,
        "funders_ever": 3,
    }
    assert await (await client.get(f"{THINGS}/{t4}/counts")).json() == {
        "thing_id": t4,
        "flattrs_this_period": 2,
        "funders_ever": 0,
    }
    assert await (await client.get(f"{THINGS}/{t2}/counts")).json() == {
        "thing_id": t2,
        "flattrs_this_period": 1,
        "funders_ever": 1,
    }


async def test_cursor_pages_walk_every_thing_once_in_each_sort(client, deployment):
    creator = member(deployment, "creator")
    fans = [member(deployment, f"fan{n}") for n in range(2)]
    for fan in fans:
        await top_up(client, fan)
    made = [(await register(client, creator, f"https://c.example/{n}", f"T{n}", tags=["all"]))["id"] for n in range(7)]
    # Scores with ties, so that the pages must break them by id: 2, 1, 1, 0, 2, 0, 1.
    for fan, things in zip(fans, ([made[0], made[1], made[4], made[6]], [made[0], made[2], made[4]])):
        for thing in things:
            await flattr(client, fan, thing)

    for sort in ("new", "popular", "funders"):
        whole = await ids(client, sort=sort, limit=200)
        assert sorted(whole) == sorted(made)
        for limit in (1, 2, 3, 7):
            seen, pages = await walk(client, limit, sort=sort, tag="all")
            assert seen == whole, (sort, limit)
            assert pages == -(-len(made) // limit), (sort, limit)  # no empty last page
    assert await ids(client, sort="popular", limit=200) == [made[4], made[0], made[6], made[2], made[1], made[5], made[3]]
    last = await listing(client, limit=7)
    assert last["next_cursor"] is None

    first = await listing(client, sort="popular", limit=2)
    tampered = [
        "not-a-cursor!",
        "e30",  # garbage, and {} in base64
        encode_cursor("x"),
        encode_cursor(3),
        encode_cursor([1]),
        encode_cursor(["a", "b"]),
        encode_cursor([True, 1]),
        encode_cursor([10**30, 0]),
        encode_cursor(["new", 10**30, 0]),
        encode_cursor(["new", 1.5, 0]),
        encode_cursor(["new", True, 0]),
        encode_cursor([1, 2, 3, 4]),
        first["next_cursor"][:-2],
    ]
    for sort in ("new", "popular", "funders"):
        for cursor in tampered:
            response = await client.get(f"{THINGS}?{urlencode({'sort': sort, 'limit': 2, 'cursor': cursor})}")
            body = await problem(response, 422, "validation_error")
            assert body["errors"][0]["field"] == "cursor", (sort, cursor)
    # A cursor belongs to the sort that made it: another sort's would skip or repeat things.
    new_cursor = (await listing(client, sort="new", limit=2))["next_cursor"]
    await problem(await client.get(f"{THINGS}?{urlencode({'sort': 'popular', 'cursor': new_cursor})}"), 422, "validation_error")


async def test_lookup_by_url(client, deployment):
    owner = member(deployment, "owner")
    thing = await register(client, owner, "https://owner.example/page?id=7&lang=fr", "Page")
    found = await client.get(f"{THINGS}/lookup?{urlencode({'url': thing['url']})}")
    assert found.status == 200 and await found.json() == thing
    await problem(await client.get(f"{THINGS}/lookup?{urlencode({'url': thing['url'] + '/'})}"), 404, "not_found")
    await problem(await client.get(f"{THINGS}/lookup?{urlencode({'url': 'https://owner.example/page'})}"), 404, "not_found")
    missing = await problem(await client.get(f"{THINGS}/lookup"), 422, "validation_error")
    assert missing["errors"][0]["field"] == "url"


# -- auto-submit ------------------------------------------------------------------------------


async def test_auto_submit_registers_on_the_first_flattr_once(client, deployment):
    creator = member(deployment, "creator")
    fans = [member(deployment, f"fan{n}") for n in range(5)]
    broke = member(deployment, "broke")
    for fan in fans:
        await top_up(client, fan)
    mine = await client.patch(
        "/api/v1/me", json={"auto_submit_sites": ["https://Creator.example", "https://blog.example/ann/"]}, headers=creator.auth
    )
    assert (await mine.json())["auto_submit_sites"] == ["https://blog.example/ann/", "https://creator.example/"]
    url = "https://creator.example/post/1"
    body = {"url": url, "title": "First post", "owner": "creator", "language": "en", "tags": ["Blog"]}

    first = await (await post(client, f"{THINGS}/auto", fans[0], body, expect=200)).json()
    thing = first["thing"]
    assert (thing["owner"], thing["url"], thing["title"], thing["tags"], thing["language"]) == (
        "creator",
        url,
        "First post",
        ["blog"],
        "en",
    )
    assert first["flattr"] == {"period": "2026-10", "thing_id": thing["id"], "points": 1}
    assert await (await client.get(f"{THINGS}/lookup?{urlencode({'url': url})}")).json() == thing

    again = await post(client, f"{THINGS}/auto", fans[0], body)
    await problem(again, 409, "already_flattred")
    second = await (
        await post(client, f"{THINGS}/auto", fans[1], {**body, "title": "Renamed", "owner": "fan1"}, expect=200)
    ).json()
    assert second["thing"] == thing  # the thing at that URL, as its creator registered it
    assert await ids(client, owner="creator") == [thing["id"]]
    assert await ids(client, owner="fan1") == []
    counts = await (await client.get(f"{THINGS}/{thing['id']}/counts")).json()
    assert counts["flattrs_this_period"] == 2

    # A flattr that is refused registers nothing.
    refused = [
        (broke, {**body, "url": "https://creator.example/2"}, 402, "no_means"),
        (fans[0], {**body, "url": "https://creator.example/3", "owner": "nobody"}, 404, "not_found"),
        (creator, {**body, "url": "https://creator.example/4"}, 403, "own_thing"),
        (fans[0], {**body, "url": "https://creator.example/5", "points": 2}, 422, "validation_error"),
        (fans[0], {**body, "url": "ftp://creator.example/6"}, 422, "validation_error"),
        # Only under the creator's own sites: not anybody's page, nor a look-alike address.
        (fans[0], {**body, "url": "https://someone-else.example/7"}, 403, "not_the_creators_site"),
        (fans[0], {**body, "url": "https://creator.example.evil.example/8"}, 403, "not_the_creators_site"),
        (fans[0], {**body, "url": "https://blog.example/bob/9"}, 403, "not_the_creators_site"),
        (fans[0], {**body, "url": "https://blog.example/ann/../bob/10"}, 403, "not_the_creators_site"),
        (fans[0], {**body, "url": "https://blog.example/ann/11", "owner": "fan1"}, 403, "not_the_creators_site"),
    ]
    for who, attempt, status, code in refused:
        await problem(await post(client, f"{THINGS}/auto", who, attempt), status, code)
        await problem(await client.get(f"{THINGS}/lookup?{urlencode({'url': attempt['url']})}"), 404, "not_found")
    assert await ids(client) == [thing["id"]]

    # Funders who flattr a new URL at the same moment all flattr the one thing registered.
    race = {**body, "url": "https://creator.example/race", "title": "Race"}
    responses = await asyncio.gather(*(post(client, f"{THINGS}/auto", fan, race) for fan in fans))
    results = [(response.status, await response.json()) for response in responses]
    assert [status for status, _ in results] == [200] * len(fans), results
    assert len({result["thing"]["id"] for _, result in results}) == 1
    raced = results[0][1]["thing"]["id"]
    assert (await (await client.get(f"{THINGS}/{raced}/counts")).json())["flattrs_this_period"] == len(fans)


# -- taking a flattr back ---------------------------------------------------------------------


async def test_a_flattr_taken_back_is_gone_from_my_flattrs_and_the_settlement(client, deployment):
    fan, kept_artist, dropped_artist = member(deployment, "fan"), member(deployment, "kept"), member(deployment, "dropped")
    boss = member(deployment, "boss", role="operator")
    await top_up(client, fan)
    kept = await register(client, kept_artist, "https://kept.example/a", "Kept")
    dropped = await register(client, dropped_artist, "https://dropped.example/b", "Dropped")
    await flattr(client, fan, kept["id"])
    await flattr(client, fan, dropped["id"])
    mine = await (await client.get("/api/v1/me/flattrs", headers=fan.auth)).json()
    assert [f["thing_id"] for f in mine["items"]] == [kept["id"], dropped["id"]]

    taken = await client.delete(f"{THINGS}/{dropped['id']}/flattr", headers=fan.auth)
    assert taken.status == 204, await taken.text()
    mine = await (await client.get("/api/v1/me/flattrs", headers=fan.auth)).json()
    assert mine == {"period": "2026-10", "items": [{"period": "2026-10", "thing_id": kept["id"], "points": 1}]}
    assert (await (await client.get(f"{THINGS}/{dropped['id']}/counts")).json())["flattrs_this_period"] == 0
    await problem(await client.delete(f"{THINGS}/{dropped['id']}/flattr", headers=fan.auth), 404, "not_found")
    await problem(await client.delete(f"{THINGS}/{kept['id']}/flattr", headers=kept_artist.auth), 404, "not_found")

    deployment.clock.set(NOVEMBER)
    report = await settle(client, boss)
    assert report["creators"] == [{"handle": "kept", "earned": money("1.80"), "funders": 1}]  # the minimum budget, 2.00, less 10%
    receipts = await (await client.get("/api/v1/me/receipts?period=2026-10", headers=fan.auth)).json()
    (receipt,) = receipts["items"]
    assert [(line["thing_id"], line["share"]) for line in receipt["lines"]] == [(kept["id"], money("1.80"))]
    balances = await (await client.get("/api/v1/me/balances", headers=dropped_artist.auth)).json()
    assert balances["items"] == []

    late = await problem(await client.delete(f"{THINGS}/{kept['id']}/flattr", headers=fan.auth), 409, "period_closed")
    assert "2026-10" in late["detail"]
    october = await (await client.get("/api/v1/me/flattrs?period=2026-10", headers=fan.auth)).json()
    assert [f["thing_id"] for f in october["items"]] == [kept["id"]]
    # Not flattred in either period: plainly not found.
    await problem(await client.delete(f"{THINGS}/{dropped['id']}/flattr", headers=fan.auth), 404, "not_found")


# -- the operator -----------------------------------------------------------------------------


async def test_operator_lists_and_freezes_accounts(client, deployment, outbox):
    boss = member(deployment, "boss", role="operator")
    others = [member(deployment, f"m{n}") for n in range(3)]
    victim = await sign_up(client, outbox, "victim")
    session = await client.post("/api/v1/session", json={"login": "victim", "password": "correct horse battery"})
    assert session.status == 201
    assert (await client.get("/api/v1/me")).status == 200  # the session cookie speaks

    # A member is no operator, whatever they try; the victim stays as it was.
    await problem(await client.get("/api/v1/operator/accounts", headers=others[0].auth), 403, "forbidden")
    await problem(await post(client, f"/api/v1/operator/accounts/{victim.id}/freeze", others[0], {}), 403, "forbidden")
    assert (await client.get("/api/v1/me", headers=victim.auth)).status == 200

    every = []
    cursor = None
    while True:
        page = await (
            await client.get(
                "/api/v1/operator/accounts?" + urlencode({"limit": 2, **({"cursor": cursor} if cursor else {})}),
                headers=boss.auth,
            )
        ).json()
        every += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert [(a["handle"], a["role"], a["frozen"]) for a in every] == [
        ("boss", "operator", False),
        ("m0", "member", False),
        ("m1", "member", False),
        ("m2", "member", False),
        ("victim", "member", False),
    ]
    for cursor in ("not-a-cursor!", encode_cursor(10**30), encode_cursor("x"), encode_cursor([1])):
        response = await client.get("/api/v1/operator/accounts?" + urlencode({"cursor": cursor}), headers=boss.auth)
        await problem(response, 422, "validation_error")

    frozen = await post(client, f"/api/v1/operator/accounts/{victim.id}/freeze", boss, {"frozen": True}, expect=200)
    assert await frozen.json() == {"id": victim.id, "handle": "victim", "role": "member", "frozen": True}
    await problem(await client.get("/api/v1/me", headers=victim.auth), 401, "invalid_credentials")
    await problem(await client.get("/api/v1/me"), 401, "unauthorized")  # the cookie's session ended
    await problem(
        await client.post("/api/v1/session", json={"login": "victim", "password": "correct horse battery"}), 403, "forbidden"
    )
    client.session.cookie_jar.clear()
    accounts = await (await client.get("/api/v1/operator/accounts", headers=boss.auth)).json()
    assert [a["handle"] for a in accounts["items"] if a["frozen"]] == ["victim"]
    await problem(await post(client, "/api/v1/operator/accounts/999999/freeze", boss, {}), 404, "not_found")

    await post(client, f"/api/v1/operator/accounts/{victim.id}/freeze", boss, {"frozen": False}, expect=200)
    assert (await client.get("/api/v1/me", headers=victim.auth)).status == 200


async def test_the_public_report_lists_only_creators_who_opted_in(client, deployment):
    fan, shy, proud = member(deployment, "fan"), member(deployment, "shy"), member(deployment, "proud")
    boss = member(deployment, "boss", role="operator")
    await top_up(client, fan, "10.00")
    assert (await client.put("/api/v1/me/budgets/EUR", json={"amount": "4.00"}, headers=fan.auth)).status == 200
    listed = await client.patch("/api/v1/me", json={"listed": True}, headers=proud.auth)
    assert listed.status == 200 and (await listed.json())["listed"] is True
    for artist in (shy, proud):
        thing = await register(client, artist, f"https://{artist.handle}.example/x")
        await flattr(client, fan, thing["id"])

    await problem(await client.get("/api/v1/periods/2026-10/report"), 404, "not_found")  # not closed yet
    deployment.clock.set(NOVEMBER)
    await problem(await client.get("/api/v1/periods/2026-10/report"), 404, "not_found")  # ended, not settled
    await settle(client, boss)

    public = await client.get("/api/v1/periods/2026-10/report")
    assert public.status == 200, await public.text()
    report = await public.json()
    assert report["status"] == "closed"
    assert report["creators"] == [{"handle": "proud", "earned": money("1.80"), "funders": 1}]
    (eur,) = report["currencies"]
    assert (eur["currency"], eur["distributed"]) == ("EUR", money("3.60"))  # the totals are public, the names opted in
    full = await (await client.get("/api/v1/operator/periods/2026-10/report", headers=boss.auth)).json()
    assert sorted(c["handle"] for c in full["creators"]) == ["proud", "shy"]

    await client.patch("/api/v1/me", json={"listed": False}, headers=proud.auth)
    assert (await (await client.get("/api/v1/periods/2026-10/report")).json())["creators"] == []
    await problem(await client.get("/api/v1/periods/2026-13/report"), 422, "validation_error")


# -- French -----------------------------------------------------------------------------------


async def test_french_profile_and_mail(client, outbox):
    address = "amelie@example.org"
    signed = await client.post(
        "/api/v1/accounts", json={"handle": "amelie", "email": address, "password": "correct horse battery", "language": "fr"}
    )
    assert signed.status == 202  # the language shows in the mail: the answer has no profile
    letter = await wait_for_mail(outbox, address)
    assert letter["Subject"] == "Confirmez votre adresse e-mail"
    body = letter.get_content()
    assert body.startswith("Bonjour amelie,") and "Il est valable 2 jours" in body and "Si vous ne vous êtes pas inscrit" in body
    user = await sign_up(client, outbox, "bob")  # the helper signs up in English
    assert newest_mail(outbox, "bob@example.org")["Subject"] == "Confirm your e-mail address"

    await problem(await client.patch("/api/v1/me", json={"language": "de"}, headers=user.auth), 422, "validation_error")
    changed = await client.patch("/api/v1/me", json={"language": "fr"}, headers=user.auth)
    assert changed.status == 200 and (await changed.json())["language"] == "fr"
    assert (await (await client.get("/api/v1/me", headers=user.auth)).json())["language"] == "fr"
    assert (await client.post("/api/v1/password-reset", json={"email": "bob@example.org"})).status == 204
    reset = await wait_for_mail(outbox, "bob@example.org", count=2)  # sent by the worker, after the verification
    assert reset["Subject"] == "Choisissez un nouveau mot de passe"
    assert "votre mot de passe ne change pas" in reset.get_content()

    await problem(
        await client.post(
            "/api/v1/accounts",
            json={"handle": "hans", "email": "hans@example.org", "password": "correct horse battery", "language": "de"},
        ),
        422,
        "validation_error",
    )
