"""Shared test helpers: a deployment on a real database, with a clock the test sets."""

from __future__ import annotations

import asyncio
import copy
import os
import secrets
import shutil
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar

from moneyed import Money
from sqlalchemy import Engine, create_engine, event, insert, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from gateway.clock import FixedClock
from gateway.config import settings_from_dict
from gateway.core.check import check_ledger
from gateway.deployment import Deployment, open_deployment
from gateway.security import hash_password
from gateway.storage.engine import make_engine
from gateway.storage.migrate import upgrade
from gateway.storage.schema import accounts, credentials, metadata
from gateway.usecases import top_up as top_up_usecase
from gateway.usecases import withdraw as withdraw_usecase
from gateway.usecases.participants import register_participant
from gateway.usecases.top_up import TopUp
from gateway.usecases.withdraw import Withdrawal

T = TypeVar("T")

# The PostgreSQL server, and a database on it to connect to for creating and dropping others: each
# test run makes a database of its own there (``create_run_database``), so that two runs never meet.
# Redis, for the rate limits shared between processes: each run's keys start with a prefix of its own.
REDIS_URL = os.environ.get("GATEWAY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
POSTGRES_SERVER_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")

# A day inside the October 2026 period, and a moment after it ended.
OCTOBER = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
NOVEMBER = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)
DECEMBER = datetime(2026, 12, 2, 0, 5, tzinfo=UTC)

BASE_CONFIG: dict[str, Any] = {
    "platform": {
        "name": "test",
        "default_currency": "EUR",
        "fee": Decimal("0.10"),
        "period": "month",
        "weighted_points": False,
        "max_points": 5,
        "unspent": "return",
        "give_to_receive": False,
        "settle_batch": 3,  # small, so the tests cross batch boundaries
    },
    "currencies": {
        "EUR": {"kind": "fiat", "minimum_budget": "2.00", "minimum_withdrawal": "1.00"},
        "USD": {"kind": "fiat", "minimum_budget": "2.00", "minimum_withdrawal": "1.00"},
        "JPY": {"kind": "fiat", "minimum_budget": "300", "minimum_withdrawal": "100"},
        "KWD": {"kind": "fiat", "minimum_budget": "1.000", "minimum_withdrawal": "1.000"},
        "LETS": {"kind": "mutual_credit", "credit_limit": "100", "minimum_budget": "5", "fee": "0"},
        "HOUR": {"kind": "time", "credit_limit": "10", "minimum_budget": "0:30", "fee": "0"},
        "WOE": {
            "kind": "demurrage",
            "rate": "0.01",
            "every_months": 1,
            "fund": "community-fund",
            "minimum_budget": "2.00",
            "fee": "0",
        },
        "CHI": {
            "kind": "demurrage",
            "rate": "0.02",
            "every_months": 3,
            "fund": "community-fund",
            "minimum_budget": "2.00",
            "fee": "0",
        },
    },
    "rails": {"sandbox": {"currencies": ["EUR", "USD", "JPY", "KWD", "WOE", "CHI"]}},
    "rates": {
        "providers": ["static"],
        "date": "2026-10-30",
        "static": {"EUR/USD": Decimal("1.1172"), "EUR/JPY": Decimal("175.68"), "EUR/KWD": Decimal("0.3421")},
    },
}


def config(**platform: Any) -> dict[str, Any]:
    data = copy.deepcopy(BASE_CONFIG)
    data["platform"].update(platform)
    return data


def postgres_reachable() -> bool:
    try:
        engine = create_engine(POSTGRES_SERVER_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def _on_server(statement: str) -> None:
    """Run ``statement`` on the maintenance database, outside a transaction (CREATE and DROP DATABASE need that)."""
    engine = create_engine(POSTGRES_SERVER_URL, isolation_level="AUTOCOMMIT", connect_args={"connect_timeout": 10})
    try:
        with engine.connect() as connection:
            connection.execute(text(statement))
    finally:
        engine.dispose()


def create_run_database() -> str:
    """A new database for this test run alone (``test_<pid>_<random>``), migrated to the head revision; its URL.

    A run never touches another's tables: two runs on one server used to share
    one database, and one's TRUNCATE met the other's missing tables.
    """
    name = f"test_{os.getpid()}_{secrets.token_hex(4)}"
    _on_server(f'CREATE DATABASE "{name}"')
    url = make_url(POSTGRES_SERVER_URL).set(database=name).render_as_string(hide_password=False)
    engine = make_engine(url)
    try:
        upgrade(engine)
    except BaseException:
        engine.dispose()
        drop_run_database(url)
        raise
    engine.dispose()
    return url


def drop_run_database(url: str) -> None:
    """Drop a run's database, whatever connections a failed test left open to it (FORCE ends them)."""
    name = make_url(url).database
    assert name and name.startswith("test_"), f"not a test run's database: {name!r}"
    _on_server(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def impatient_engine(url: str) -> Iterator[Engine]:
    """An engine on ``url`` whose connections never wait for a lock: where one is held, they fail at once.

    A test probes a lock with it, instead of guessing from how long a thread
    took: PostgreSQL answers "lock timeout" (55P03) after a millisecond,
    and a lock that is free is granted however busy the machine is; SQLite
    answers "database is locked" at a busy timeout of 0.
    """
    if make_url(url).get_backend_name() == "postgresql":
        engine = make_engine(url, connect_args={"options": "-c lock_timeout=1ms"}, pool_size=2, max_overflow=0)
    else:
        engine = make_engine(url)

        @event.listens_for(engine, "connect")
        def no_busy_wait(dbapi_connection: Any, _record: Any) -> None:  # after make_engine's own, which sets 30 s
            dbapi_connection.execute("PRAGMA busy_timeout = 0")

    try:
        yield engine
    finally:
        engine.dispose()


def is_lock_refusal(error: OperationalError) -> bool:
    """Whether ``error`` is an impatient connection's answer to a lock held elsewhere (``impatient_engine``)."""
    return getattr(error.orig, "sqlstate", None) == "55P03" or "database is locked" in str(error.orig)


def wait_for_a_lock_wait(engine: Engine, timeout: float = 60.0) -> None:
    """Return once a connection to this PostgreSQL database waits for a lock: the event a test waits for.

    The database is the run's own, so the waiter is the test's. Waiting for
    it (not for a length of time) is what makes the test mean the same on a
    busy machine: it goes on only once the other writer is blocked. Each
    look is a transaction of its own: PostgreSQL keeps one view of
    ``pg_stat_activity`` for a whole transaction.
    """
    deadline = time.monotonic() + timeout
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        while True:
            waiting = connection.execute(
                text(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                    "AND pid <> pg_backend_pid() AND wait_event_type = 'Lock'"
                )
            ).scalar()
            if waiting:
                return
            assert time.monotonic() < deadline, "no connection came to wait for the lock"
            time.sleep(0.005)


def truncate_tables(connection) -> None:
    """PostgreSQL: every table of the schema emptied and its ids restarted, in the connection's transaction."""
    names = ", ".join(table.name for table in metadata.sorted_tables)
    connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))


def truncate_postgres(engine) -> None:
    with engine.begin() as connection:
        truncate_tables(connection)


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, Decimal)):
        return str(value)
    if isinstance(value, str):
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML for {value!r}")


def write_toml(path: Path, data: dict[str, dict[str, Any]]) -> Path:
    """``data`` written as a TOML file: each key a table, a dict in a table its sub-table (the shape of a deployment file)."""
    lines: list[str] = []

    def table(name: str, values: dict[str, Any]) -> None:
        if lines:
            lines.append("")
        lines.append(f"[{name}]")
        for key, value in values.items():
            if not isinstance(value, dict):
                lines.append(f"{key} = {_toml_value(value)}")
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{name}.{key}", value)

    for name, values in data.items():
        table(name, values)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def sqlite_copy(template: Path, target: Path) -> str:
    shutil.copyfile(template, target)
    return f"sqlite:///{target}"


def make(url: str, data: dict[str, Any] | None = None, moment: datetime = OCTOBER, engine: Engine | None = None) -> Deployment:
    settings = settings_from_dict(data or config(), database_url=url)
    return open_deployment(settings, clock=FixedClock(moment), engine=engine)


def eur(amount: str) -> Money:
    return Money(amount, "EUR")


def top_up(deployment: Deployment, *args: Any, **kwargs: Any) -> TopUp:
    """The top-up use case (a coroutine: rails are called asynchronously), run to its end where a test cannot await it."""
    return run_to_end(top_up_usecase.top_up(deployment, *args, **kwargs))


def withdraw(deployment: Deployment, *args: Any, **kwargs: Any) -> Withdrawal:
    """The withdrawal use case, run to its end where a test cannot await it."""
    return run_to_end(withdraw_usecase.withdraw(deployment, *args, **kwargs))


def run_to_end(coroutine: Coroutine[Any, Any, T]) -> T:
    """A coroutine's result, from a plain function: on a loop of its own, in a thread of its own if this one runs a loop.

    For rails that need nothing of the caller's loop (the sandbox, the scripted rail): one whose provider is a
    fake served on the test's own loop would wait for it forever; await the use case there instead.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coroutine)
    with ThreadPoolExecutor(1) as thread:
        return thread.submit(asyncio.run, coroutine).result()


PASSWORD = "correct horse battery"


def payable(deployment: Deployment, handle: str, **kwargs: Any) -> int:
    """A person who can be paid out: registered, with a verified address, as after opening the mailed link."""
    participant = register_participant(deployment, handle, **kwargs)
    verify_address(deployment, participant, f"{handle}@example.org")
    return participant


def verify_address(deployment: Deployment, participant: int, email: str, password: str = PASSWORD) -> None:
    """Give a registered person a password and a verified address (the data a verified sign-up leaves)."""
    now = deployment.clock.now()
    with deployment.engine.begin() as connection:
        connection.execute(
            insert(credentials).values(
                participant_id=participant,
                email=email,
                email_verified_at=now,
                password_hash=hash_password(password),
                updated_at=now,
            )
        )


def balance(deployment: Deployment, owner: int, purpose: str, code: str = "EUR") -> int:
    """An account's balance in minor units; 0 for one not opened yet."""
    with deployment.engine.connect() as connection:
        found = connection.execute(
            select(accounts.c.balance).where(
                accounts.c.owner_id == owner, accounts.c.purpose == purpose, accounts.c.currency == code
            )
        ).scalar()
    return int(found or 0)


def ledger_holds(deployment: Deployment) -> None:
    """Every invariant of the ledger holds."""
    with deployment.engine.connect() as connection:
        assert check_ledger(connection) == []
