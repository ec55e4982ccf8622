"""The logs: one JSON object a line, each with its request's id, and no secret in any of them (issue 9, Operations).

The last test runs a whole journey against a real ``gateway serve`` process
on 127.0.0.1 (SQLite and PostgreSQL), keeps its stderr, and reads it: every
line is JSON, every request's id is there, and no password, token, cookie or
mailed secret is.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import secrets as secrets_module
import signal
import sys
import threading
from datetime import datetime, timedelta

import pytest
from aiohttp import ClientSession, CookieJar
from yarl import URL

from gateway import logs
from gateway.http.api import Call
from gateway.http.app import create_app
from gateway.http.batching import Batcher
from gateway.http.keys import SESSION_COOKIE
from gateway.http.ratelimit import MemoryLimiter
from gateway.logs import REQUEST_ID, JsonFormatter
from tests.http_support import wait_for_mail
from tests.processes import Server, free_port
from tests.support import config, write_toml

FIELDS = {"ts", "level", "logger", "msg", "request_id"}
LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
PASSWORD = "correct horse battery"
NEW_PASSWORD = "a stable new horse, 2026"
WRONG_PASSWORD = "not my horse, not at all"
SCOPES = ["read", "flattr", "money", "things", "account"]

log = logging.getLogger("gateway.tests")


def parsed(line: str) -> dict:
    """A log line as its JSON object, checked for the fields every line has."""
    record = json.loads(line)
    assert isinstance(record, dict) and FIELDS <= record.keys(), line
    assert datetime.fromisoformat(record["ts"]).utcoffset() == timedelta(0), line
    assert record["level"] in LEVELS and isinstance(record["logger"], str) and isinstance(record["msg"], str), line
    assert record["request_id"] is None or isinstance(record["request_id"], str), line
    assert isinstance(record.get("exc", ""), str), line
    return record


@pytest.fixture
def json_logs():
    """``logs.configure`` for the test (what ``gateway`` does at its start); the process's logging put back after."""
    root = logging.getLogger()
    before = (list(root.handlers), root.level, sys.excepthook, threading.excepthook, logging.getLogger("alembic").level)
    logs.configure(logging.INFO)
    yield
    for handler in [handler for handler in root.handlers if handler not in before[0]]:
        root.removeHandler(handler)
    root.setLevel(before[1])
    sys.excepthook, threading.excepthook = before[2], before[3]
    logging.getLogger("alembic").setLevel(before[4])
    logging.captureWarnings(False)


def test_a_record_is_one_line_of_json_with_its_traceback_inside():
    try:
        raise ValueError("two\nlines")
    except ValueError:
        record = log.makeRecord(log.name, logging.ERROR, __file__, 1, "it failed:\n%s", ("here",), sys.exc_info())
    record.fields = {"route": "/x/{id}", "msg": "not over the message"}
    line = JsonFormatter().format(record)
    assert "\n" not in line
    found = parsed(line)
    assert found["msg"] == "it failed:\nhere" and found["level"] == "ERROR" and found["logger"] == "gateway.tests"
    assert found["exc"].startswith("Traceback (most recent call last):") and "ValueError: two\nlines" in found["exc"]
    assert found["route"] == "/x/{id}" and found["request_id"] is None


async def test_a_request_id_reaches_the_use_case_threads_and_no_batch_of_many_requests(json_logs, capsys):
    call = Call(request=None, deployment=None, principal=None, body=None, query=None, path={})  # type: ignore[arg-type]
    batcher = Batcher(lambda items: [log.warning("a batch of %d", len(items)) or item for item in items])

    async def request(request_id: str) -> None:
        REQUEST_ID.set(request_id)  # as the middleware does, in the request's own task
        await call.run(log.warning, "in a use case's thread for %s", request_id)
        await batcher.submit(request_id)

    await asyncio.gather(asyncio.create_task(request("first")), asyncio.create_task(request("second")))
    log.warning("outside any request")
    records = [parsed(line) for line in capsys.readouterr().err.splitlines()]
    by_message = {record["msg"]: record["request_id"] for record in records}
    assert by_message["in a use case's thread for first"] == "first"
    assert by_message["in a use case's thread for second"] == "second"
    assert by_message["outside any request"] is None
    assert [record["request_id"] for record in records if record["msg"].startswith("a batch of")] in ([None], [None, None])


async def test_each_answer_names_its_request_id_and_a_plain_one_sent_is_kept(deployment, aiohttp_client):
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))
    ours = (await client.get("/healthz")).headers["X-Request-Id"]
    assert re.fullmatch(r"[0-9a-f]{32}", ours)
    assert (await client.get("/healthz")).headers["X-Request-Id"] != ours
    assert (await client.get("/healthz", headers={"X-Request-Id": "lb-7f3a.19:2"})).headers["X-Request-Id"] == "lb-7f3a.19:2"
    for unplain in ("x" * 65, "two words", "<script>", "-leading-dash"):
        answer = await client.get("/healthz", headers={"X-Request-Id": unplain})
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["X-Request-Id"]), unplain
    missing = await client.get("/api/v1/nowhere", headers={"X-Request-Id": "trace-404"})
    assert missing.status == 404 and missing.content_type == "application/problem+json"
    assert missing.headers["X-Request-Id"] == "trace-404"


@pytest.mark.slow
def deployment_with_rails(tmp_path, database_url: str, outbox) -> tuple[object, list[str]]:
    """The deployment file, with the card and PayPal rails pointed at a port where nothing listens; their secrets."""
    rail_secrets = {
        "stripe": secrets_module.token_hex(16),
        "whsec": secrets_module.token_hex(16),
        "paypal": secrets_module.token_hex(16),
    }
    stripe_file = tmp_path / "stripe.toml"
    stripe_file.write_text(f'secret_key = "sk_test_{rail_secrets["stripe"]}"\nwebhook_secret = "whsec_{rail_secrets["whsec"]}"\n')
    paypal_file = tmp_path / "paypal.toml"
    paypal_file.write_text(
        f'PAYPAL_CLIENT_ID = "journey-client"\nPAYPAL_SECRET = "{rail_secrets["paypal"]}"\nPAYPAL_WEBHOOK_ID = "WH-1"\n'
    )
    nowhere = f"http://127.0.0.1:{free_port()}"  # refused at once: every call to a provider fails on the way
    data = config()
    data["rates"].pop("static")  # keys with a "/", which write_toml does not quote; nothing here converts
    data["rails"]["stripe"] = {"currencies": ["EUR"], "api_base": nowhere, "network_retries": 0, "secrets_file": str(stripe_file)}
    data["rails"]["paypal"] = {"currencies": ["EUR"], "base_url": nowhere, "secrets_file": str(paypal_file)}
    path = write_toml(tmp_path / "deploy.toml", {**data, "database": {"url": database_url}, "mail": {"outbox": str(outbox)}})
    return path, list(rail_secrets.values())


async def test_a_whole_journey_logs_json_lines_and_no_secret(tmp_path, database_url):
    outbox = tmp_path / "outbox"
    config_path, rail_secrets = deployment_with_rails(tmp_path, database_url, outbox)
    server = await asyncio.to_thread(Server, tmp_path, config_path, "serve")
    origin = f"http://127.0.0.1:{server.port}"
    secrets = [PASSWORD, NEW_PASSWORD, WRONG_PASSWORD, *rail_secrets]  # what must show nowhere in the log; more below
    request_ids: list[str] = []
    try:
        async with ClientSession(origin, cookie_jar=CookieJar(unsafe=True)) as http:  # unsafe: cookies for an IP address

            async def call(method: str, path: str, status: int, **options) -> dict | None:
                async with http.request(method, "/api/v1" + path, **options) as response:
                    body = await response.read()
                    assert response.status == status, (method, path, response.status, body)
                    request_ids.append(response.headers["X-Request-Id"])
                    return json.loads(body) if body else None

            async def signed_in(handle: str, password: str) -> str:
                """Sign in; the CSRF token (the session cookie is in the jar)."""
                session = await call("POST", "/session", 201, json={"login": handle, "password": password})
                secrets.extend([session["csrf_token"], http.cookie_jar.filter_cookies(URL(origin))[SESSION_COOKIE].value])
                return session["csrf_token"]

            async def person(handle: str) -> dict[str, str]:
                """Sign up, verify the address with the mailed token, sign in and make a token: its Authorization header."""
                address = f"{handle}@example.org"
                await call("POST", "/accounts", 202, json={"handle": handle, "email": address, "password": PASSWORD})
                letter = await wait_for_mail(outbox, address)
                verification = re.search(r"token=([A-Za-z0-9_\-]+)", letter.get_content()).group(1)
                secrets.append(verification)
                await call("POST", "/email-verification", 204, json={"token": verification})
                csrf = await signed_in(handle, PASSWORD)
                made = await call(
                    "POST", "/me/tokens", 201, json={"name": "journey", "scopes": SCOPES}, headers={"X-CSRF-Token": csrf}
                )
                secrets.append(made["token"])
                await call("DELETE", "/session", 204, headers={"X-CSRF-Token": csrf})  # sign out
                http.cookie_jar.clear()
                return {"Authorization": f"Bearer {made['token']}"}

            artist = await person("artist")
            fan = await person("fan")
            thing = await call(
                "POST", "/things", 201, json={"url": "https://artist.example/song", "title": "A song"}, headers=artist
            )
            money = {"amount": "20.00", "currency": "EUR"}
            await call("POST", "/me/top-ups", 201, json={"amount": money}, headers={**fan, "Idempotency-Key": "top-up-1"})
            await call("PUT", "/me/budgets/EUR", 200, json={"amount": "10.00"}, headers=fan)
            await call("POST", f"/things/{thing['id']}/flattr", 200, json={}, headers=fan)
            assert (await call("GET", "/me", 200, headers=fan))["handle"] == "fan"

            # Errors: raised inside a use case (a second flattr, a wrong password), and a body the schema refuses.
            again = await call("POST", f"/things/{thing['id']}/flattr", 409, json={}, headers=fan)
            assert again["type"] == "already_flattred"
            assert (await call("POST", "/session", 401, json={"login": "fan", "password": WRONG_PASSWORD}))["type"]
            bad = await call("POST", "/me/top-ups", 422, json={"amount": 20}, headers={**fan, "Idempotency-Key": "top-up-2"})
            assert bad["type"] == "validation_error"

            # The rails, whose providers do not answer: each top-up is left unknown, and their errors are logged.
            for rail in ("stripe", "paypal"):
                body = {"amount": money, "rail": rail}
                left = await call("POST", "/me/top-ups", 201, json=body, headers={**fan, "Idempotency-Key": f"top-up-{rail}"})
                assert left["status"] == "unknown"
            forged = {"Stripe-Signature": "t=1,v1=00", "Content-Type": "application/json"}
            assert (await call("POST", "/rails/stripe/webhooks", 400, data=b"{}", headers=forged))["type"] == "webhook_refused"

            # A new password by the mailed link; signed in with it, and out.
            await call("POST", "/password-reset", 204, json={"email": "fan@example.org"})
            letter = await wait_for_mail(outbox, "fan@example.org", count=2)
            reset = re.search(r"token=([A-Za-z0-9_\-]+)", letter.get_content()).group(1)
            secrets.append(reset)
            await call("POST", "/password-reset/confirm", 204, json={"token": reset, "password": NEW_PASSWORD})
            csrf = await signed_in("fan", NEW_PASSWORD)
            await call("DELETE", "/session", 204, headers={"X-CSRF-Token": csrf})

        server.process.send_signal(signal.SIGTERM)
        assert await asyncio.to_thread(server.process.wait, 60) == 0, server.errors()
    finally:
        server.close()

    text = server.errors()
    records = [parsed(line) for line in text.splitlines()]  # every line is one JSON object with the fields
    assert len(records) >= len(request_ids)
    logged_ids = {record["request_id"] for record in records}
    assert set(request_ids) <= logged_ids, set(request_ids) - logged_ids  # each answer's id is in the log
    assert len(set(request_ids)) == len(request_ids)
    routes = {(record.get("route"), record.get("status")) for record in records if record["logger"] == "gateway.access"}
    assert ("/api/v1/things/{thing_id}/flattr", 409) in routes and ("/api/v1/session", 401) in routes
    assert len(secrets) == 3 + 3 + 2 * 4 + 1 + 2 and all(len(secret) >= 12 for secret in secrets)
    assert any(record["logger"] == "gateway.payments" for record in records)  # the rails' errors were logged
    for secret in secrets:
        assert secret not in text, f"a secret in the log: {secret[:4]}…"
