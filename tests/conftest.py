"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is the server at 127.0.0.1:5432, reached through its ``postgres``
database, or GATEWAY_TEST_POSTGRES_URL (a server and a database to connect
to there). Each run creates a database of its own on it (``test_<pid>_<random>``)
and drops it at the end, so that two runs on one machine never meet.
Where it is unreachable the PostgreSQL half is skipped, except under CI
(``CI`` set), where that is a failure: CI must test both. The same holds for
Redis (127.0.0.1:6379 or GATEWAY_TEST_REDIS_URL), where a run's keys start
with a prefix of its own and are deleted at its end.
"""

from __future__ import annotations

import os
import secrets
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from gateway.storage.engine import make_engine
from gateway.storage.migrate import upgrade
from tests.rail_support import install_scripted_rail, scripted_options
from tests.support import (
    POSTGRES_SERVER_URL,
    REDIS_URL,
    config,
    create_run_database,
    drop_run_database,
    make,
    postgres_reachable,
    sqlite_copy,
    truncate_postgres,
)


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.sqlite3"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_ready() -> Iterator[str]:
    """This run's own PostgreSQL database, migrated; dropped at the end of the session, whatever the tests did."""
    if not postgres_reachable():
        message = f"PostgreSQL is not reachable at {POSTGRES_SERVER_URL}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the database tests on PostgreSQL)")
        pytest.skip(message)
    url = create_run_database()
    try:
        yield url
    finally:
        drop_run_database(url)


def delete_redis_keys(url: str, prefix: str) -> None:
    """Delete every key that starts with ``prefix``."""
    with redis.Redis.from_url(url) as connection:
        keys = list(connection.scan_iter(match=prefix + "*"))
        if keys:
            connection.delete(*keys)


@pytest.fixture(scope="session")
def redis_url() -> str:
    try:
        with redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2) as connection:
            connection.ping()
    except redis.RedisError as error:
        message = f"Redis is not reachable at {REDIS_URL} ({error})"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the rate-limit tests on Redis)")
        pytest.skip(message)
    return REDIS_URL


@pytest.fixture(scope="session")
def redis_run_prefix(redis_url: str) -> Iterator[str]:
    """The prefix of every key this run writes in Redis; whatever is left under it is deleted at the run's end."""
    prefix = f"gateway-test:{os.getpid()}-{secrets.token_hex(4)}:"
    yield prefix
    delete_redis_keys(redis_url, prefix)


@pytest.fixture
def redis_prefix(redis_url: str, redis_run_prefix: str) -> Iterator[str]:
    """A key prefix for this test alone, under the run's; its keys are deleted at the end."""
    prefix = f"{redis_run_prefix}{uuid.uuid4().hex}:"
    yield prefix
    delete_redis_keys(redis_url, prefix)


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path, sqlite_template) -> str:
    """A migrated, empty database of each kind."""
    if request.param == "sqlite":
        return sqlite_copy(sqlite_template, tmp_path / "gateway.sqlite3")
    url = request.getfixturevalue("postgres_ready")
    engine = make_engine(url)
    truncate_postgres(engine)
    engine.dispose()
    return url


@pytest.fixture
def outbox(tmp_path) -> Path:
    """Where the test deployment's mail goes (one .eml file a message)."""
    return tmp_path / "outbox"


@pytest.fixture
def deployment_factory(database_url, outbox):
    """Build deployments on the test's database; all are closed at the end."""
    made = []

    def factory(data=None, moment=None):
        data = data or config()
        data.setdefault("mail", {"outbox": str(outbox)})
        deployment = make(database_url, data, **({"moment": moment} if moment else {}))
        made.append(deployment)
        return deployment

    yield factory
    for deployment in made:
        deployment.close()


@pytest.fixture
def deployment(deployment_factory):
    return deployment_factory()


@pytest.fixture(scope="session")
def scripted_rail_path(tmp_path_factory) -> Path:
    """The tests' third-party rail package, installed in a folder of this run's and found through its entry point."""
    return install_scripted_rail(tmp_path_factory.mktemp("scripted-rail"))


@pytest.fixture
def provider(tmp_path) -> Path:
    """The scripted rail's provider: a folder that outlives the processes that call it."""
    return tmp_path / "provider"


@pytest.fixture
def railed(deployment_factory, scripted_rail_path, provider):
    """A deployment with the sandbox and the scripted third-party rail (EUR and JPY)."""
    data = config()
    data["rails"]["scripted"] = scripted_options(provider)
    return deployment_factory(data)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The ``slow`` tests first (the order among each kind kept): under pytest-xdist, a minute-long test that started
    last would keep the whole run waiting for it alone."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
