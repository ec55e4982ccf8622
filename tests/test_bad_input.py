"""Bad input over HTTP, as a new user or an attacker sends it: a clear 4xx problem, never a 500, nothing half-written.

Each test here failed before its fix (issue 9: deep JSON, NUL and control
characters, lone surrogates, a non-UTF-8 Authorization header, digits of
other scripts, idempotency by bytes, a hidden thing that betrayed itself,
a document that allowed what the server refused, security headers; an
Authorization header too long for aiohttp's parser, which it logged and
echoed), on SQLite and PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import signal
import socket
import uuid
from urllib.parse import quote

import pytest
from aiohttp import web
from sqlalchemy import text

from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.http.runner import GatewayRunner
from gateway.storage.migrate import head_revision
from tests.http_support import member
from tests.support import config, sqlite_copy
from tests.test_cli import gateway
from tests.test_http_catalog import problem
from tests.test_http_journeys import money, post
from tests.test_mail_crash import Server, deployment_file

THINGS = "/api/v1/things"


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


# -- 1. JSON nested deeper than the parser goes -------------------------------------------------


@pytest.mark.parametrize(
    "method, path",
    [
        ("POST", "/api/v1/session"),
        ("POST", "/api/v1/accounts"),
        ("PATCH", "/api/v1/me"),
        ("POST", "/api/v1/things"),
        ("POST", "/api/v1/me/top-ups"),
    ],
)
async def test_deeply_nested_json_is_a_bad_request(client, deployment, method, path):
    fan = member(deployment, "fan")
    headers = {"Content-Type": "application/json", **fan.auth, "Idempotency-Key": "deep"}
    for depth in (40, 980, 5000):
        response = await client.request(method, path, data=nested(depth), headers=headers)
        await problem(response, 400, "bad_request")


# -- 2. NUL and other control characters, and a title of spaces ---------------------------------


async def test_control_characters_are_refused_in_queries(client):
    for query in ("q=a%00b", "q=a%07b", "tag=x%00", "owner=bob%1b"):
        await problem(await client.get(f"{THINGS}?{query}"), 422, "validation_error")
    address = quote("https://a.example/\x00")
    await problem(await client.get(f"{THINGS}/lookup?url={address}"), 422, "validation_error")


async def test_control_characters_are_refused_in_bodies(client, deployment):
    artist = member(deployment, "artist")
    refused = await problem(
        await client.post("/api/v1/session", json={"login": "a\x00b", "password": "x" * 12}), 422, "validation_error"
    )
    assert refused["errors"][0]["field"] == "login"
    await problem(await post(client, THINGS, artist, {"url": "https://a.example/1", "title": "Nul\x00"}), 422, "validation_error")
    await problem(await post(client, THINGS, artist, {"url": "https://a.example/1", "title": "   "}), 422, "validation_error")
    await problem(await post(client, "/api/v1/me/tokens", artist, {"name": "t\x00", "scopes": ["read"]}), 422, "validation_error")
    # A description may hold line breaks and tabs, no other control character.
    created = await post(
        client, THINGS, artist, {"url": "https://a.example/2", "title": "Two", "description": "one\n\ttwo"}, expect=201
    )
    assert (await created.json())["description"] == "one\n\ttwo"
    await problem(
        await post(client, THINGS, artist, {"url": "https://a.example/3", "title": "Three", "description": "a\x00"}),
        422,
        "validation_error",
    )
    listed = await (await client.get(f"{THINGS}?owner=artist")).json()
    assert [item["url"] for item in listed["items"]] == ["https://a.example/2"]  # nothing else was written


# -- 3. a lone surrogate inside a list of strings ----------------------------------------------


async def test_a_lone_surrogate_is_refused_and_nothing_is_saved(client, deployment):
    artist = member(deployment, "artist")
    body = json.dumps({"auto_submit_sites": ["https://a.example/\udfff"]})  # json.dumps writes it as \udfff
    response = await client.patch("/api/v1/me", data=body, headers={**artist.auth, "Content-Type": "application/json"})
    await problem(response, 422, "validation_error")
    me = await client.get("/api/v1/me", headers=artist.auth)
    assert me.status == 200 and (await me.json())["auto_submit_sites"] == []
    thing = json.dumps({"url": "https://a.example/s", "title": "S", "tags": ["ok", "\udfff"]})
    response = await client.post(THINGS, data=thing, headers={**artist.auth, "Content-Type": "application/json"})
    await problem(response, 422, "validation_error")


# -- 4. bytes that are no UTF-8 in the Authorization header -------------------------------------


async def raw_request(client, head: bytes) -> tuple[int, bytes]:
    """Send ``head`` (request line and headers, as bytes) on a socket of its own; the status and the body."""
    reader, writer = await asyncio.open_connection("127.0.0.1", client.port)
    writer.write(head + b"Connection: close\r\n\r\n")
    await writer.drain()
    answer = await reader.read()
    writer.close()
    status_line, _, rest = answer.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


async def test_an_authorization_header_that_is_no_utf8_is_a_401(client):
    status, body = await raw_request(
        client, b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer fgw_\xff\xfe\x80abc\r\n"
    )
    assert status == 401 and json.loads(body)["type"] == "invalid_credentials"


# -- 5. what aiohttp's parser refuses, before any middleware: a header too long, and the like ----------
#
# aiohttp refused an Authorization header over 8,190 bytes itself: it logged the first hundred bytes of the
# line (the token) with a traceback, and answered them back in text/plain. ``gateway.http.runner`` answers.

SECRET = b"fgw_DefectFiveSecretToken"  # what must show nowhere: not in the answer, not in the log


def exchange(port: int, data: bytes) -> bytes:
    """Send ``data`` on a socket of its own and read the answer to its end (the server closes the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=30) as connection:
        try:
            connection.sendall(data)
        except (BrokenPipeError, ConnectionResetError):  # refused before it had read it all: its answer is there
            pass
        answer = b""
        while True:
            try:
                chunk = connection.recv(65536)
            except ConnectionResetError:
                break
            if not chunk:
                break
            answer += chunk
    return answer


def refused(answer: bytes) -> dict:
    """The problem+json of a 400 that aiohttp's parser caused, with our headers."""
    head, _, body = answer.partition(b"\r\n\r\n")
    status_line, *lines = head.decode("latin-1").split("\r\n")
    headers = {name.lower(): value for name, _, value in (line.partition(": ") for line in lines)}
    assert status_line.split()[1] == "400", answer[:300]
    assert headers["content-type"].startswith("application/problem+json"), headers
    assert headers["server"] == "flattr-gateway" and headers["x-content-type-options"] == "nosniff"
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-request-id"])
    problem_ = json.loads(body)
    assert problem_["type"] == "bad_request" and problem_["status"] == 400, problem_
    return problem_


@pytest.mark.slow
def test_an_authorization_header_too_long_for_the_parser_is_a_problem_and_shows_nowhere(tmp_path, sqlite_template):
    url = sqlite_copy(sqlite_template, tmp_path / "gateway.sqlite3")
    server = Server(tmp_path, deployment_file(tmp_path / "deploy.toml", url, {"outbox": str(tmp_path / "outbox")}), "serve")
    try:
        for size in (9_000, 70_000):
            token = SECRET + b"x" * (size - len(SECRET))
            answer = exchange(server.port, b"GET /api/v1/me HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + token + b"\r\n\r\n")
            assert "longer than this server reads" in refused(answer)["detail"]
            assert SECRET not in answer and b"fgw_" not in answer
        assert server.ready()  # still serving
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=60) == 0, server.errors()
    finally:
        server.close()
    log = server.errors()
    assert "HTTP parser could not read (LineTooLong)" in log, log
    assert SECRET.decode() not in log and "fgw_" not in log and "Traceback" not in log, log


PARSER_REFUSES = {
    "a request line too long": b"GET /api/v1/things?q=" + SECRET + b"y" * 40_000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "too many headers": b"GET /healthz HTTP/1.1\r\nHost: x\r\n"
    + b"".join(b"X-%d: %s\r\n" % (n, SECRET) for n in range(200))
    + b"\r\n",
    "a bad request line": b"GET /?" + SECRET + b" HTTP/1.1 and more\r\nHost: x\r\n\r\n",
    "a bad method": b"G\x01T /" + SECRET + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "a bad header name": b"GET /healthz HTTP/1.1\r\nHost: x\r\nBad Name " + SECRET + b": 1\r\n\r\n",
    "a control character in a header": b"GET /healthz HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer \x01" + SECRET + b"\r\n\r\n",
    "bad chunking": b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
    b"Transfer-Encoding: chunked\r\n\r\nzz" + SECRET + b"\r\n{}\r\n0\r\n\r\n",
    "a bad content length": b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Length: 2" + SECRET + b"\r\n\r\n{}",
}


@pytest.fixture
async def served(deployment):
    """The app on ``GatewayRunner`` (as ``gateway serve`` runs it), on a port of 127.0.0.1; the port."""
    runner = GatewayRunner(create_app(deployment, limiter=MemoryLimiter()))
    await runner.setup()
    listening = socket.socket()
    listening.bind(("127.0.0.1", 0))
    listening.listen(16)
    try:
        await web.SockSite(runner, listening).start()
        yield listening.getsockname()[1]
    finally:
        await runner.cleanup()
        listening.close()


@pytest.mark.parametrize("what", list(PARSER_REFUSES))
async def test_what_the_parser_refuses_is_a_problem_and_shows_nowhere(served, what, caplog):
    caplog.set_level(logging.DEBUG)
    answer = await asyncio.to_thread(exchange, served, PARSER_REFUSES[what])
    refused(answer)
    assert SECRET not in answer
    assert "HTTP parser could not read" in caplog.text
    assert SECRET.decode() not in caplog.text and "Traceback" not in caplog.text, caplog.text


async def test_a_body_that_does_not_decode_is_a_bad_request_and_shows_nowhere(served, caplog):
    caplog.set_level(logging.DEBUG)
    head = b"POST /api/v1/session HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Encoding: gzip\r\n"
    answer = await asyncio.to_thread(exchange, served, head + b"Content-Length: %d\r\n\r\n%s" % (len(SECRET), SECRET))
    assert answer.startswith(b"HTTP/1.1 400 ") and json.loads(answer.partition(b"\r\n\r\n")[2])["type"] == "bad_request"
    assert SECRET not in answer
    assert SECRET.decode() not in caplog.text and "Traceback" not in caplog.text, caplog.text


# -- 6. digits of other scripts are no digits ---------------------------------------------------


@pytest.mark.parametrize("amount", ["٣.٠٠", "３.００", "3.٠٠"])
async def test_money_in_other_digits_is_refused(client, deployment, amount):
    fan = member(deployment, "fan")
    response = await post(client, "/api/v1/me/top-ups", fan, {"amount": money(amount)}, key=uuid.uuid4().hex)
    await problem(response, 422, "validation_error")
    budget = await client.put("/api/v1/me/budgets/EUR", json={"amount": "٥"}, headers=fan.auth)
    await problem(budget, 422, "validation_error")
    balances = await (await client.get("/api/v1/me/balances", headers=fan.auth)).json()
    assert balances["items"] == []  # nothing moved


async def test_ids_and_periods_in_other_digits_are_not_found(client, deployment):
    artist = member(deployment, "artist")
    await post(client, THINGS, artist, {"url": "https://a.example/3", "title": "Three"}, expect=201)
    await problem(await client.get(f"{THINGS}/{quote('٣')}"), 404, "not_found")
    await problem(await client.get(f"/api/v1/periods/{quote('٢٠٢٦-١٠')}/report"), 422, "validation_error")


def test_the_cli_takes_no_period_in_other_digits(tmp_path):
    url = f"sqlite:///{tmp_path / 'g.sqlite3'}"
    assert gateway("--database-url", url, "db", "upgrade").returncode == 0
    result = gateway("--database-url", url, "report", "--period", "٢٠٢٦-١٠")
    assert result.returncode == 1 and result.stderr.startswith("gateway: validation_error:") and result.stderr.count("\n") == 1


# -- 7. an Idempotency-Key compares what the request says, not its bytes ------------------------


async def test_the_same_request_written_another_way_is_replayed(client, deployment):
    fan = member(deployment, "fan")
    headers = {**fan.auth, "Idempotency-Key": "one", "Content-Type": "application/json"}
    first = await client.post("/api/v1/me/top-ups", data='{"amount": {"amount": "5.00", "currency": "EUR"}}', headers=headers)
    assert first.status == 201, await first.text()
    again = await client.post("/api/v1/me/top-ups", data='{ "amount" : { "currency":"EUR","amount":"5.00" } }', headers=headers)
    assert again.status == 201 and await again.json() == await first.json()
    other = await client.post("/api/v1/me/top-ups", data='{"amount": {"amount": "6.00", "currency": "EUR"}}', headers=headers)
    await problem(other, 422, "idempotency_key_reused")


# -- 8. a hidden thing is missing to strangers --------------------------------------------------


async def test_a_strangers_change_of_a_hidden_thing_is_answered_as_for_a_missing_one(client, deployment):
    artist, stranger = member(deployment, "artist"), member(deployment, "stranger")
    thing = await (await post(client, THINGS, artist, {"url": "https://a.example/h", "title": "H"}, expect=201)).json()
    shown = await (await post(client, THINGS, artist, {"url": "https://a.example/v", "title": "V"}, expect=201)).json()
    hide = await client.patch(f"{THINGS}/{thing['id']}", json={"hidden": True}, headers=artist.auth)
    assert hide.status == 200
    hidden = await problem(
        await client.patch(f"{THINGS}/{thing['id']}", json={"title": "X"}, headers=stranger.auth), 404, "not_found"
    )
    missing = await problem(await client.patch(f"{THINGS}/999999", json={"title": "X"}, headers=stranger.auth), 404, "not_found")
    assert hidden["detail"] == missing["detail"].replace("999999", str(thing["id"]))
    # A thing that is shown is the owner's to change: a stranger is told so.
    await problem(await client.patch(f"{THINGS}/{shown['id']}", json={"title": "X"}, headers=stranger.auth), 403, "forbidden")
    # Its address stays taken, hidden or not, and says so in its own words.
    for url in (thing["url"], shown["url"]):
        await problem(await post(client, THINGS, stranger, {"url": url, "title": "Mine"}), 409, "url_taken")


# -- 10. the document allows only what the server takes -----------------------------------------


async def test_the_document_says_what_the_deployment_takes(deployment_factory, aiohttp_client):
    weighted = deployment_factory(config(weighted_points=True, max_points=5))
    client = await aiohttp_client(create_app(weighted, limiter=MemoryLimiter()))
    spec = await (await client.get("/api/v1/openapi.json")).json()
    schemas = spec["components"]["schemas"]
    assert {name: schemas[name]["properties"]["points"]["maximum"] for name in ("Points", "AutoSubmit", "SubscriptionIn")} == {
        "Points": 5,
        "AutoSubmit": 5,
        "SubscriptionIn": 5,
    }
    assert "maximum" not in schemas["FlattrOut"]["properties"]["points"]  # a flattr read back may predate a lower maximum
    period = next(p for p in spec["paths"]["/api/v1/periods/{period}/report"]["get"]["parameters"] if p["name"] == "period")
    pattern = re.compile(period["schema"]["pattern"])
    assert not pattern.search("0000-00") and not pattern.search("2026-13") and not pattern.search("٢٠٢٦-١٠")
    assert pattern.search("2026-10") and pattern.search("2026-W48")


async def test_a_method_the_route_does_not_take_is_405(client, deployment):
    fan = member(deployment, "fan")
    response = await client.patch(f"{THINGS}/auto", json={}, headers=fan.auth)
    assert response.status == 405 and response.headers["Allow"] == "POST"
    assert (await response.json())["type"] == "method_not_allowed"


# -- 11. security headers ----------------------------------------------------------------------


async def test_security_headers_on_answers_and_problems(client):
    for response in (await client.get("/api/v1/openapi.json"), await client.get(f"{THINGS}/999")):
        assert response.headers["Server"] == "flattr-gateway"
        assert response.headers["X-Content-Type-Options"] == "nosniff"
        assert "Strict-Transport-Security" not in response.headers  # served as http
    docs = await client.get("/api/docs")
    policy = docs.headers["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in policy and "default-src 'none'" in policy


async def test_hsts_when_the_deployment_is_served_as_https(deployment_factory, aiohttp_client):
    data = config()
    data["http"] = {"base_url": "https://flattr.example"}
    client = await aiohttp_client(create_app(deployment_factory(data), limiter=MemoryLimiter()))
    response = await client.get(f"{THINGS}/1")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=")
    assert response.status == 404  # a problem gets it too


# -- operations: health and readiness --------------------------------------------------------


async def test_healthz_and_readyz(client):
    health = await client.get("/healthz")
    assert health.status == 200 and await health.json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status == 200 and await ready.json() == {"status": "ready"}


async def test_readyz_refuses_a_database_behind_the_release(deployment, aiohttp_client):
    def set_revision(revision: str) -> None:
        with deployment.engine.begin() as connection:
            connection.execute(text("UPDATE alembic_version SET version_num = :revision"), {"revision": revision})

    set_revision("0001")
    try:
        client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))
        assert (await client.get("/healthz")).status == 200  # alive all the same
        refused = await problem(await client.get("/readyz"), 503, "not_ready")
        assert "schema 0001" in refused["detail"]
    finally:
        set_revision(head_revision())  # the database is the session's on PostgreSQL: later tests need it current
