"""The API's conventions: money as strings, idempotency, problem+json, CSRF, rate limits, OpenAPI, authorization."""

from __future__ import annotations

import re

import pytest

from gateway.http.api import Api
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.http.routes import install_routes
from tests.http_support import operator, sign_up
from tests.test_http_journeys import money, post


@pytest.fixture
async def client(deployment, aiohttp_client):
    # The limiter's clock stands still one second into a window: no window ends mid-test.
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=lambda: 1_800_000_001)))


def endpoints():
    api = Api()
    install_routes(api)
    return api.endpoints


async def test_a_number_where_an_amount_string_is_due_is_refused(client, outbox):
    fan = await sign_up(client, outbox, "fan")
    response = await post(client, "/api/v1/me/top-ups", fan, {"amount": {"amount": 20.0, "currency": "EUR"}}, key="k")
    problem = await response.json()
    assert response.status == 422 and problem["type"] == "validation_error"
    assert problem["errors"][0]["field"] == "amount.amount"
    balances = await (await client.get("/api/v1/me/balances", headers=fan.auth)).json()
    assert balances["items"] == []  # nothing moved


async def test_idempotency_key_replays_and_refuses_reuse(client, outbox):
    fan = await sign_up(client, outbox, "fan")
    first = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("5.00")}, key="same")
    second = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("5.00")}, key="same")
    assert first.status == second.status == 201 and await first.json() == await second.json()
    reused = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("6.00")}, key="same")
    assert reused.status == 422 and (await reused.json())["type"] == "idempotency_key_reused"
    missing = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("5.00")})
    assert missing.status == 422 and (await missing.json())["errors"][0]["field"] == "Idempotency-Key"
    balances = await (await client.get("/api/v1/me/balances", headers=fan.auth)).json()
    assert balances["items"][0]["balance"] == money("5.00")


async def test_an_error_replays_too(client, outbox):
    artist = await sign_up(client, outbox, "artist")
    first = await post(client, "/api/v1/me/withdrawals", artist, {"amount": money("5.00")}, key="w")
    again = await post(client, "/api/v1/me/withdrawals", artist, {"amount": money("5.00")}, key="w")
    assert first.status == again.status == 402
    assert (await again.json())["type"] == "insufficient_funds"


@pytest.mark.parametrize(
    "path, status, code",
    [
        ("/api/v1/nowhere", 404, "not_found"),
        ("/api/v1/things/not-a-number", 404, "not_found"),
        ("/api/v1/things/123456", 404, "not_found"),
    ],
)
async def test_problems_for_paths(client, path, status, code):
    response = await client.get(path)
    assert response.status == status and response.content_type == "application/problem+json"
    assert (await response.json())["type"] == code


async def test_bad_json_and_media_type(client, outbox):
    fan = await sign_up(client, outbox, "fan")
    bad = await client.post("/api/v1/things", data=b"{not json", headers={**fan.auth, "Content-Type": "application/json"})
    assert bad.status == 400 and (await bad.json())["type"] == "bad_request"
    form = await client.post(
        "/api/v1/things", data=b"a=1", headers={**fan.auth, "Content-Type": "application/x-www-form-urlencoded"}
    )
    assert form.status == 415
    wrong_method = await client.put("/api/v1/me")
    assert wrong_method.status == 405 and (await wrong_method.json())["type"] == "method_not_allowed"


async def test_cookie_writes_need_the_csrf_header(client, outbox):
    await sign_up(client, outbox, "fan")
    session = await client.post("/api/v1/session", json={"login": "fan", "password": "correct horse battery"})
    csrf = (await session.json())["csrf_token"]
    body = {"url": "https://x.example/a", "title": "A"}
    refused = await client.post("/api/v1/things", json=body)
    assert refused.status == 403 and (await refused.json())["type"] == "csrf_failed"
    assert (await client.post("/api/v1/things", json=body, headers={"X-CSRF-Token": csrf})).status == 201
    assert (await client.get("/api/v1/me")).status == 200  # reads need no header
    cookie = session.cookies["fgw_session"]
    assert cookie["httponly"] and cookie["samesite"] == "Lax"


async def test_sign_in_is_rate_limited(client, outbox):
    await sign_up(client, outbox, "fan")
    statuses = []
    for _ in range(12):
        response = await client.post("/api/v1/session", json={"login": "fan", "password": "wrong password!"})
        statuses.append(response.status)
    assert statuses[:9] == [401] * 9 and statuses[-1] == 429
    assert int(response.headers["Retry-After"]) >= 1 and response.headers["RateLimit-Remaining"] == "0"


async def test_the_openapi_document_covers_every_route(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    assert spec["openapi"] == "3.1.0"
    declared = {(e.method.lower(), e.path) for e in endpoints()}
    documented = {(method, path) for path, ops in spec["paths"].items() for method in ops}
    assert declared == documented
    served = {
        (r.method.lower(), r.resource.canonical)
        for r in client.app.router.routes()
        if r.resource.canonical.startswith("/api/v1/")
        and r.method != "HEAD"
        and not r.resource.canonical.endswith("openapi.json")
    }
    assert served == documented
    page = await client.get("/api/docs")
    assert page.status == 200 and "POST /api/v1/me/top-ups" in await page.text()


async def test_the_component_names_are_the_apis_own(client):
    """A schema is named as the API names it (``RateOut``), never by the module it was declared in."""
    schemas = (await (await client.get("/api/v1/openapi.json")).json())["components"]["schemas"]
    assert {"MoneyJson", "RateOut", "RateFromDefault", "Problem"} <= set(schemas)
    assert [name for name in schemas if not name.isidentifier() or "__" in name] == []


async def test_every_route_refuses_strangers_and_other_accounts(client, deployment, outbox):
    owner = await sign_up(client, outbox, "owner")
    other = await sign_up(client, outbox, "other")
    await operator(client, outbox, deployment)
    thing = await (await post(client, "/api/v1/things", owner, {"url": "https://o.example/t", "title": "T"}, expect=201)).json()
    top = await (await post(client, "/api/v1/me/top-ups", owner, {"amount": money("5.00")}, key="t", expect=201)).json()
    tokens = await (await client.get("/api/v1/me/tokens", headers=owner.auth)).json()
    ids = {
        "thing_id": thing["id"],
        "top_up_id": top["id"],
        "token_id": tokens["items"][0]["id"],
        "withdrawal_id": 1,
        "participant_id": owner.id,
        "currency": "EUR",
        "period": "2026-10",
        "rail": "sandbox",
    }
    checked = 0
    for endpoint in endpoints():
        path = re.sub(r"\{(\w+)\}", lambda m: str(ids[m.group(1)]), endpoint.path)
        if endpoint.access == "public":
            continue
        anonymous = await client.request(endpoint.method, path, json={})
        assert anonymous.status == 401, (endpoint.method, path)
        as_other = await client.request(endpoint.method, path, json={}, headers={**other.auth, "Idempotency-Key": "x"})
        if endpoint.access == "operator":
            assert as_other.status == 403, (endpoint.method, path)
        elif endpoint.path_params() and set(endpoint.path_params()) & {"top_up_id", "token_id", "withdrawal_id"}:
            assert as_other.status == 404, (endpoint.method, path, as_other.status)
        elif endpoint.method == "PATCH" and "thing_id" in endpoint.path_params():
            assert as_other.status in (403, 422), (endpoint.method, path, as_other.status)
        checked += 1
    # Nothing of the owner's changed: the thing, the top-up and the token are as they were.
    assert (await (await client.get(f"/api/v1/things/{thing['id']}")).json())["title"] == "T"
    assert (await client.get(f"/api/v1/me/top-ups/{top['id']}", headers=owner.auth)).status == 200
    assert (await client.get("/api/v1/me", headers=owner.auth)).status == 200
    assert checked > 25


async def test_a_token_without_a_scope_is_refused(client, outbox):
    reader = await sign_up(client, outbox, "reader", scopes=("read",))
    assert (await client.get("/api/v1/me", headers=reader.auth)).status == 200
    refused = await post(client, "/api/v1/things", reader, {"url": "https://r.example/x", "title": "X"})
    assert refused.status == 403 and "things" in (await refused.json())["detail"]


async def test_a_token_cannot_widen_its_own_powers(client, outbox):
    keeper = await sign_up(client, outbox, "keeper", scopes=("account", "read"))
    wider = await client.post("/api/v1/me/tokens", json={"name": "more", "scopes": ["money"]}, headers=keeper.auth)
    assert wider.status == 403 and "money" in (await wider.json())["detail"]
    same = await client.post("/api/v1/me/tokens", json={"name": "same", "scopes": ["read"]}, headers=keeper.auth)
    assert same.status == 201
    moved = await client.patch("/api/v1/me", json={"email": "thief@example.org"}, headers=keeper.auth)
    assert moved.status == 403  # password resets would follow the address


@pytest.mark.parametrize("path", ["/api/v1/periods/0000-01/report", "/api/v1/periods/9999-12/report"])
async def test_periods_out_of_range_are_bad_input(client, path):
    answer = await client.get(path)
    assert answer.status == 422 and (await answer.json())["type"] == "validation_error"


async def test_an_amount_beyond_any_column_is_refused(client, outbox):
    fan = await sign_up(client, outbox, "whale")
    huge = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("9" * 30)}, key="huge")
    assert huge.status == 422 and (await huge.json())["type"] == "validation_error"


async def test_the_longest_idempotency_key_works(client, outbox):
    fan = await sign_up(client, outbox, "longkey")
    key = "k" * 200
    first = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("5.00")}, key=key)
    assert first.status == 201, await first.text()
    again = await post(client, "/api/v1/me/top-ups", fan, {"amount": money("5.00")}, key=key)
    assert again.status == 201 and (await again.json())["id"] == (await first.json())["id"]
