"""Rate limits over real HTTP: in memory, and in Redis shared by two app instances.

Redis is at 127.0.0.1:6379 (or GATEWAY_TEST_REDIS_URL). Where it is unreachable the Redis
tests are skipped, except under CI (``CI`` set), where that is a failure, as for PostgreSQL.
Each test's Redis keys start with a prefix of its own, under the run's (``redis_prefix``
in conftest.py): two runs sharing a Redis never count each other's hits.
"""

from __future__ import annotations

import asyncio
from urllib.parse import urlsplit

import pytest
import redis

from gateway.http.app import create_app
from gateway.http.keys import LIMITER
from gateway.http.ratelimit import RULES, MemoryLimiter, RedisLimiter
from tests.http_support import mailed_token, member, sign_up, top_up, wait_for_mail
from tests.support import REDIS_URL, config

# A moment one second into a window of every rule (all their lengths divide an hour), so that
# Retry-After is known exactly and no window ends in the middle of a test.
T0 = 1_800_000_000 + 1
PASSWORD = "correct horse battery"


class Clock:
    """The limiters' time, which the test moves on."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def redis_config() -> dict:
    data = config()
    data["http"] = {"redis_url": REDIS_URL}
    return data


@pytest.fixture(params=["memory", "redis"])
def kind(request) -> str:
    return request.param


@pytest.fixture
def make_limiter(kind, request):
    """Limiters of the test's kind on one clock; with Redis, they share its counters."""
    if kind == "memory":
        return lambda deployment, clock: MemoryLimiter(clock=clock)
    prefix = request.getfixturevalue("redis_prefix")
    return lambda deployment, clock: RedisLimiter(deployment.settings.http.redis_url, clock=clock, prefix=prefix)


def limited(response, rule: str, retry_after: int):
    """Assert a 429 as the API serves it."""
    limit = RULES[rule].limit
    assert response.status == 429, response.status
    assert response.content_type == "application/problem+json"
    assert response.headers["Retry-After"] == str(retry_after)
    assert response.headers["RateLimit-Limit"] == str(limit)
    assert response.headers["RateLimit-Remaining"] == "0"
    assert response.headers["RateLimit-Reset"] == str(retry_after)


def counted(response, rule: str, remaining: int, status: int):
    """Assert an allowed request, and the headers that say how many are left."""
    assert response.status == status, response.status
    assert response.headers["RateLimit-Limit"] == str(RULES[rule].limit)
    assert response.headers["RateLimit-Remaining"] == str(remaining)
    assert response.headers["RateLimit-Reset"] == str(RULES[rule].window - 1)
    assert "Retry-After" not in response.headers


async def open_account(client, outbox, handle: str) -> None:
    """Sign up and open the link mailed (the account is made then), without signing in."""
    address = f"{handle}@example.org"
    await client.post("/api/v1/accounts", json={"handle": handle, "email": address, "password": PASSWORD})
    await wait_for_mail(outbox, address)
    opened = await client.post("/api/v1/email-verification", json={"token": mailed_token(outbox, address)})
    assert opened.status == 204, await opened.text()


async def test_sign_up_log_in_flattr_and_top_up_answer_429_after_their_count(
    deployment_factory, aiohttp_client, make_limiter, outbox
):
    deployment = deployment_factory(redis_config())
    clock = Clock()
    client = await aiohttp_client(create_app(deployment, limiter=make_limiter(deployment, clock)))
    assert all(RULES[name].window in (60, 3600) for name in ("sign_up", "log_in", "flattr", "top_up"))

    # Sign up: 10 an hour from one address. Every attempt counts, refused ones too.
    signed = await client.post("/api/v1/accounts", json={"handle": "ann", "email": "ann@example.org", "password": PASSWORD})
    counted(signed, "sign_up", 9, 202)
    refused = await asyncio.gather(
        *(
            client.post("/api/v1/accounts", json={"handle": f"x{n}", "email": f"x{n}@example.org", "password": "short"})
            for n in range(9)
        )
    )
    assert [response.status for response in refused] == [422] * 9
    too_many = await client.post("/api/v1/accounts", json={"handle": "zed", "email": "zed@example.org", "password": PASSWORD})
    limited(too_many, "sign_up", 3599)
    problem = await too_many.json()
    assert problem["type"] == "rate_limited" and problem["status"] == 429
    assert not any("zed@example.org" in path.read_text() for path in outbox.glob("*.eml"))  # nobody was made

    # Log in: 10 a minute from one address (once ann opened the link that makes her account).
    await wait_for_mail(outbox, "ann@example.org")
    opened = await client.post("/api/v1/email-verification", json={"token": mailed_token(outbox, "ann@example.org")})
    assert opened.status == 204
    session = await client.post("/api/v1/session", json={"login": "ann", "password": PASSWORD})
    counted(session, "log_in", 9, 201)
    client.session.cookie_jar.clear()
    assert (await client.post("/api/v1/session", json={"login": "ann", "password": "not the password"})).status == 401
    refused = await asyncio.gather(*(client.post("/api/v1/session", json={"login": "ann", "password": ""}) for _ in range(8)))
    assert [response.status for response in refused] == [422] * 8
    limited(await client.post("/api/v1/session", json={"login": "ann", "password": PASSWORD}), "log_in", 59)
    # The password-reset routes draw on the same count (one guesses a login as the other does).
    limited(await client.post("/api/v1/password-reset", json={"email": "ann@example.org"}), "log_in", 59)

    # Top up: 30 a minute for each account.
    fan, other, creator = member(deployment, "fan"), member(deployment, "other"), member(deployment, "creator")
    first = await client.post(
        "/api/v1/me/top-ups",
        json={"amount": {"amount": "5.00", "currency": "EUR"}},
        headers={**fan.auth, "Idempotency-Key": "first"},
    )
    counted(first, "top_up", 29, 201)
    replays = await asyncio.gather(
        *(  # replays and refused bodies count as well
            client.post(
                "/api/v1/me/top-ups",
                json={"amount": {"amount": "5.00", "currency": "EUR"}},
                headers={**fan.auth, "Idempotency-Key": "first" if n % 2 else ""},
            )
            for n in range(29)
        )
    )
    assert sorted(response.status for response in replays) == [201] * 14 + [422] * 15
    limited(
        await client.post(
            "/api/v1/me/top-ups",
            json={"amount": {"amount": "5.00", "currency": "EUR"}},
            headers={**fan.auth, "Idempotency-Key": "late"},
        ),
        "top_up",
        59,
    )
    balances = await (await client.get("/api/v1/me/balances", headers=fan.auth)).json()
    assert balances["items"][0]["balance"] == {"amount": "5.00", "currency": "EUR"}  # the refused top-up moved nothing
    await top_up(client, other)  # another account has a count of its own

    # Flattr: 600 a minute for each account, flattrs and auto-submits together.
    thing = await (
        await client.post("/api/v1/things", json={"url": "https://c.example/x", "title": "X"}, headers=creator.auth)
    ).json()
    await client.patch("/api/v1/me", json={"auto_submit_sites": ["https://c.example/"]}, headers=creator.auth)
    path = f"/api/v1/things/{thing['id']}/flattr"
    counted(await client.post(path, json={}, headers=fan.auth), "flattr", 599, 200)
    refused = await asyncio.gather(*(client.post(path, json={"points": "one"}, headers=fan.auth) for _ in range(598)))
    assert {response.status for response in refused} == {422}
    auto = await client.post(
        "/api/v1/things/auto", json={"url": "https://c.example/y", "title": "Y", "owner": "creator"}, headers=fan.auth
    )
    counted(auto, "flattr", 0, 200)  # the 600th
    limited(await client.post(path, json={}, headers=fan.auth), "flattr", 59)
    limited(
        await client.post(
            "/api/v1/things/auto", json={"url": "https://c.example/z", "title": "Z", "owner": "creator"}, headers=fan.auth
        ),
        "flattr",
        59,
    )
    assert (await client.get("/api/v1/things/lookup?url=https://c.example/z")).status == 404
    counted(await client.post(path, json={}, headers=other.auth), "flattr", 599, 200)

    # A minute on, the minute's counts start again; the hour's does not.
    clock.now += 60
    counted(
        await client.post(
            "/api/v1/me/top-ups",
            json={"amount": {"amount": "1.00", "currency": "EUR"}},
            headers={**fan.auth, "Idempotency-Key": "next"},
        ),
        "top_up",
        29,
        201,
    )
    assert (await client.post(path, json={}, headers=fan.auth)).status == 409  # already flattred, no longer limited
    session = await client.post("/api/v1/session", json={"login": "ann", "password": PASSWORD})
    counted(session, "log_in", 9, 201)
    client.session.cookie_jar.clear()
    limited(
        await client.post("/api/v1/accounts", json={"handle": "zed", "email": "zed@example.org", "password": PASSWORD}),
        "sign_up",
        3599 - 60,
    )
    clock.now += 3600
    assert (
        await client.post("/api/v1/accounts", json={"handle": "zed", "email": "zed@example.org", "password": "short"})
    ).status == 422


async def test_two_app_instances_share_the_count_in_redis(deployment_factory, aiohttp_client, redis_url, redis_prefix):
    clock = Clock()
    clients = []
    for _ in range(2):  # two nodes of one deployment: one database, one Redis
        deployment = deployment_factory(redis_config())
        limiter = RedisLimiter(deployment.settings.http.redis_url, clock=clock, prefix=redis_prefix)
        clients.append(await aiohttp_client(create_app(deployment, limiter=limiter)))
    statuses = []
    for n in range(12):
        response = await clients[n % 2].post("/api/v1/session", json={"login": "", "password": ""})
        statuses.append(response.status)
    assert statuses == [422] * 10 + [429] * 2
    limited(response, "log_in", 59)
    with redis.Redis.from_url(redis_url) as connection:
        assert connection.get(f"{redis_prefix}log_in:ip127.0.0.1:{int(T0 // 60)}") == b"12"
        assert 0 < connection.ttl(f"{redis_prefix}log_in:ip127.0.0.1:{int(T0 // 60)}") <= 61

    # In memory, each node counts alone: that is what Redis is for.
    alone = [await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=clock))) for _ in range(2)]
    statuses = [(await alone[n % 2].post("/api/v1/session", json={"login": "", "password": ""})).status for n in range(12)]
    assert statuses == [422] * 12


async def test_the_configuration_chooses_the_limiter(deployment_factory):
    with_redis = create_app(deployment_factory(redis_config()))
    limiter = with_redis[LIMITER]
    assert isinstance(limiter, RedisLimiter)
    configured = urlsplit(REDIS_URL)
    assert {k: limiter._redis.connection_pool.connection_kwargs[k] for k in ("host", "port", "db")} == {
        "host": configured.hostname,
        "port": configured.port,
        "db": int(configured.path.strip("/") or 0),
    }
    await limiter.close()
    assert isinstance(create_app(deployment_factory(config()))[LIMITER], MemoryLimiter)


async def test_memory_limiter_keeps_an_hours_count_when_it_drops_ended_windows():
    clock = Clock()
    limiter = MemoryLimiter(clock=clock)
    sign_up, log_in = RULES["sign_up"], RULES["log_in"]
    for _ in range(sign_up.limit):
        assert (await limiter.hit("sign_up:ip10.0.0.1", sign_up)).allowed
    assert not (await limiter.hit("sign_up:ip10.0.0.1", sign_up)).allowed
    # A flood of log-in attempts from many addresses fills the limiter past what it keeps...
    for n in range(MemoryLimiter.MAX_KEYS + 1):
        await limiter.hit(f"log_in:ip{n}", log_in)
    await limiter.hit("log_in:ip-last", log_in)
    # ...which must not wipe the hour-long sign-up count along with the minute-long ones.
    assert not (await limiter.hit("sign_up:ip10.0.0.1", sign_up)).allowed
    clock.now += log_in.window
    await limiter.hit("log_in:ip-after", log_in)
    assert not (await limiter.hit("sign_up:ip10.0.0.1", sign_up)).allowed
    assert len(limiter._counts) < 10  # the ended minute's counters are gone, the hour's is kept
    clock.now += sign_up.window
    assert (await limiter.hit("sign_up:ip10.0.0.1", sign_up)).allowed


async def test_a_token_does_not_buy_more_log_in_attempts(deployment, aiohttp_client):
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=Clock())))
    holder = member(deployment, "holder")
    for attempt in range(10):
        refused = await client.post("/api/v1/session", json={"login": "", "password": ""})
        assert refused.status == 422
        assert refused.headers["RateLimit-Remaining"] == str(9 - attempt)  # on errors too
    assert (await client.post("/api/v1/session", json={"login": "", "password": ""})).status == 429
    with_token = await client.post("/api/v1/session", json={"login": "", "password": ""}, headers=holder.auth)
    assert with_token.status == 429


async def test_wrong_attempts_for_one_login_are_limited_from_every_address(
    deployment_factory, aiohttp_client, make_limiter, outbox
):
    """A botnet guessing one account's password: each address stays under its own limit, the login does not."""
    deployment = deployment_factory(redis_config())
    clock = Clock()
    client = await aiohttp_client(create_app(deployment, limiter=make_limiter(deployment, clock)))
    await open_account(client, outbox, "ann")
    limit = RULES["log_in_failures"].limit
    for attempt in range(limit):
        if attempt % 9 == 0:
            clock.now += 60  # a new minute: as if from fresh addresses, the per-address count starts again
        wrong = await client.post("/api/v1/session", json={"login": " ANN ", "password": f"guess number {attempt}"})
        assert wrong.status == 401
    right = await client.post("/api/v1/session", json={"login": "ann@example.org", "password": PASSWORD})
    assert right.status == 429 and right.headers["RateLimit-Limit"] == str(limit)  # the address is the same account
    assert "this account" in (await right.json())["detail"]
    other = await client.post("/api/v1/session", json={"login": "bob", "password": "whatever it is"})
    assert other.status == 401  # another login has a count of its own
    clock.now += RULES["log_in_failures"].window
    assert (await client.post("/api/v1/session", json={"login": "ann", "password": PASSWORD})).status == 201


async def test_the_right_password_never_counts_against_its_login(deployment_factory, aiohttp_client, outbox):
    deployment = deployment_factory()
    clock = Clock()
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=clock)))
    await open_account(client, outbox, "ann")
    for _ in range(RULES["log_in_failures"].limit + 1):
        clock.now += 60
        assert (await client.post("/api/v1/session", json={"login": "ann", "password": PASSWORD})).status == 201
        client.session.cookie_jar.clear()


async def test_guesses_sent_all_at_once_are_counted_before_they_are_checked(deployment, aiohttp_client, outbox):
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=Clock())))
    await open_account(client, outbox, "ann")
    limit = RULES["log_in_failures"].limit
    guesses = await asyncio.gather(
        *(
            client.post(
                "/api/v1/session", json={"login": "ann", "password": f"guess number {n}"}, headers={"X-Forwarded-For": str(n)}
            )
            for n in range(limit + 5)
        )
    )
    statuses = sorted(response.status for response in guesses)
    # The per-address limit (10 a minute) refuses some too; however many, no more than `limit` were checked.
    assert statuses.count(401) <= limit and statuses.count(429) >= 5


async def test_an_unreachable_redis_falls_back_to_counting_in_memory(deployment, aiohttp_client, caplog):
    clock = Clock()
    limiter = RedisLimiter("redis://127.0.0.1:1/0", clock=clock)  # nothing listens on port 1
    client = await aiohttp_client(create_app(deployment, limiter=limiter))
    statuses = [(await client.post("/api/v1/session", json={"login": "", "password": ""})).status for _ in range(11)]
    assert statuses == [422] * 10 + [429]
    assert "Redis is unreachable" in caplog.text


async def test_switching_two_factor_sign_in_is_limited(deployment, aiohttp_client, outbox):
    client = await aiohttp_client(create_app(deployment, limiter=MemoryLimiter(clock=Clock())))
    fan = await sign_up(client, outbox, "fan")
    await client.post("/api/v1/me/totp", headers=fan.auth)
    statuses = [
        (await client.post("/api/v1/me/totp/confirm", json={"code": "000000"}, headers=fan.auth)).status
        for _ in range(RULES["totp"].limit + 1)
    ]
    assert statuses == [422] * RULES["totp"].limit + [429]
