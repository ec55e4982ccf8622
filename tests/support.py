"""Shared test helpers: a deployment on a real database, with a clock the test sets."""

from __future__ import annotations

import copy
import os
import shutil
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from moneyed import Money
from sqlalchemy import Engine, create_engine, text

from gateway.clock import FixedClock
from gateway.config import settings_from_dict
from gateway.deployment import Deployment, open_deployment
from gateway.storage.engine import make_engine
from gateway.storage.migrate import upgrade
from gateway.storage.schema import metadata

POSTGRES_URL = os.environ.get("GATEWAY_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")

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
        engine = create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
        with engine.connect():
            pass
        engine.dispose()
        return True
    except Exception:
        return False


def reset_postgres(url: str) -> None:
    """An empty public schema, migrated to the head revision."""
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


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
