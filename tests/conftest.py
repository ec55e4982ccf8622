"""Fixtures: every database test runs on SQLite and on PostgreSQL.

PostgreSQL is at 127.0.0.1:5432 (database ``test``) or GATEWAY_TEST_POSTGRES_URL.
Where it is unreachable the PostgreSQL half is skipped, except under CI
(``CI`` set), where that is a failure: CI must test both.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from gateway.storage.engine import make_engine
from gateway.storage.migrate import upgrade
from tests.support import (
    POSTGRES_URL,
    config,
    make,
    postgres_reachable,
    reset_postgres,
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
def postgres_ready() -> str:
    if not postgres_reachable():
        message = f"PostgreSQL is not reachable at {POSTGRES_URL}"
        if os.environ.get("CI"):
            pytest.fail(message + " (CI must run the database tests on PostgreSQL)")
        pytest.skip(message)
    reset_postgres(POSTGRES_URL)
    return POSTGRES_URL


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
