"""Helpers for ``test_settle_crash``: a population, a canonical dump of what settlement wrote, kill points.

Nothing here replaces or patches the gateway's code: the population is made
through the use cases, ``gateway settle`` runs as a real process, and the
kill points are reached from outside it: the process is run in short slices
(SIGCONT, SIGSTOP) and, between slices, the committed state is read through
a read-only connection of the test's own (``step_until``, ``Probe``).
Linux only: process states, threads and CPU clocks come from ``/proc`` and
``clock_gettime``.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg
from moneyed import Money
from sqlalchemy import create_engine, func, insert, select, text
from sqlalchemy.engine import make_url

from gateway.clock import FixedClock
from gateway.config import settings_from_dict
from gateway.deployment import open_deployment
from gateway.errors import GatewayError
from gateway.storage.engine import make_engine, normalize_url, reading
from gateway.storage.schema import (
    accounts,
    budgets,
    creator_totals,
    flattrs,
    metadata,
    participants,
    period_totals,
    periods,
    postings,
    receipts,
    settlements,
    subscriptions,
    things,
    transactions,
)
from gateway.usecases.budgets import set_budget
from gateway.usecases.flattr import flattr
from gateway.usecases.registry import register_participant, register_thing
from gateway.usecases.subscriptions import subscribe
from gateway.usecases.top_up import top_up

PERIOD = "2026-10"
OCTOBER = datetime(2026, 10, 15, 12, 0, tzinfo=timezone.utc)

PLATFORM: dict[str, Any] = {
    "name": "crash test",
    "default_currency": "EUR",
    "fee": Decimal("0.10"),
    "period": "month",
    "weighted_points": True,
    "max_points": 5,
    "unspent": "account:commons",
    "give_to_receive": True,
}
CURRENCIES: dict[str, dict[str, Any]] = {
    "EUR": {"kind": "fiat", "minimum_budget": "2.00", "minimum_withdrawal": "1.00"},
    "LETS": {"kind": "mutual_credit", "credit_limit": "100", "minimum_budget": "5", "fee": "0"},
    "WOE": {"kind": "demurrage", "rate": "0.01", "every_months": 1, "fund": "community-fund",
            "minimum_budget": "2.00", "fee": "0.05"},
    # Demurrage money of a circle of makers whose holdings tie (see ``seed``).
    "TIE": {"kind": "demurrage", "rate": "0.01", "every_months": 1, "fund": "community-fund",
            "minimum_budget": "1.00", "fee": "0"},
}
RAILS = {"sandbox": {"currencies": ["EUR", "WOE", "TIE"]}}


def config_data(batch: int, outbox: str) -> dict[str, Any]:
    return {
        "platform": {**PLATFORM, "settle_batch": batch},
        "currencies": CURRENCIES,
        "rails": RAILS,
        "rates": {"providers": ["static"]},
        "mail": {"outbox": outbox},
    }


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


def write_config(path: Path, url: str, batch: int, outbox: str) -> Path:
    """The deployment file ``gateway --config`` reads: the population's currencies, on ``url``."""
    lines = ["[database]", f"url = {_toml_value(url)}"]

    def table(name: str, values: dict[str, Any]) -> None:
        lines.append("")
        lines.append(f"[{name}]")
        for key, value in values.items():
            if not isinstance(value, dict):
                lines.append(f"{key} = {_toml_value(value)}")
        for key, value in values.items():
            if isinstance(value, dict):
                table(f"{name}.{key}", value)

    for name, values in config_data(batch, outbox).items():
        table(name, values)
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- the population -------------------------------------------------------------------------


def seed(url: str, funders: int, outbox: str, seed_value: int = 2026) -> dict[str, int]:
    """Funders, creators and things for October 2026, through the use cases; returns counts by kind.

    Deterministic for a seed: the same calls in the same order, so the same
    rows with the same ids on every fresh database.
    """
    rng = random.Random(seed_value)
    settings = settings_from_dict(config_data(1, outbox), database_url=url)
    if url.startswith("postgresql"):  # no commit waits for the disk, no ping per checkout: 3 times faster
        engine = create_engine(normalize_url(url), connect_args={"options": "-c synchronous_commit=off"})
    else:
        engine = make_engine(url)
    deployment = open_deployment(settings, clock=FixedClock(OCTOBER), engine=engine)
    counts: dict[str, int] = {}

    def count(kind: str) -> None:
        counts[kind] = counts.get(kind, 0) + 1

    def person(handle: str, currency: str | None = None) -> int:
        return register_participant(deployment, handle, preferred_currency=currency)

    def fund(who: int, handle: str, amount: str, code: str) -> None:
        top_up(deployment, who, Money(amount, code), "sandbox", key=f"seed-{handle}-{code}")

    try:
        # Creators: half of them fund too (so, give-to-receive, they receive); the others do not.
        creators = [person(f"creator{i:02d}") for i in range(24)]
        things = [
            register_thing(deployment, owner, f"https://example.org/{i:02d}/{n}", f"Work {i}.{n}").id
            for i, owner in enumerate(creators)
            for n in range(2)
        ]
        for i, creator in enumerate(creators[::2]):
            fund(creator, f"creator{2 * i:02d}", "20.00", "EUR")
            flattr(deployment, creator, things[(4 * i + 7) % len(things)], points=rng.randint(1, 5))
            count("creator_funds")

        def clicks(who: int, many: int) -> None:
            for thing in rng.sample(things, many):
                try:
                    flattr(deployment, who, thing, points=rng.randint(1, 5))
                except GatewayError:  # own_thing: a creator's own work
                    pass

        for i in range(funders):
            handle = f"funder{i:04d}"
            kind = rng.random()
            if kind < 0.62:  # euros, some with a budget of their own (capped by the wallet)
                who = person(handle, "EUR")
                fund(who, handle, f"{rng.randint(3, 40)}.{rng.choice(['00', '50', '25'])}", "EUR")
                if rng.random() < 0.5:
                    set_budget(deployment, who, Money(f"{rng.randint(2, 45)}.{rng.choice(['00', '10', '99'])}", "EUR"))
                clicks(who, rng.randint(1, 4))
                count("eur")
            elif kind < 0.74:  # demurrage money
                who = person(handle, "WOE")
                fund(who, handle, f"{rng.randint(5, 60)}.00", "WOE")
                set_budget(deployment, who, Money(f"{rng.randint(2, 20)}.{rng.choice(['00', '35'])}", "WOE"))
                clicks(who, rng.randint(1, 3))
                count("woe")
            elif kind < 0.84:  # mutual credit: no top-up, gives within the credit limit
                who = person(handle, "LETS")
                set_budget(deployment, who, Money(str(rng.randint(5, 150)), "LETS"))
                clicks(who, rng.randint(1, 3))
                count("lets")
            elif kind < 0.90:  # a budget and no flattr: it goes whole to the commons
                who = person(handle, "EUR")
                fund(who, handle, "10.00", "EUR")
                set_budget(deployment, who, Money(f"{rng.randint(2, 9)}.00", "EUR"))
                count("unspent")
            elif kind < 0.95:  # two budgets, one wallet: the WOE budget has no means
                who = person(handle, "EUR")
                fund(who, handle, "15.00", "EUR")
                set_budget(deployment, who, Money("6.00", "EUR"))
                set_budget(deployment, who, Money("4.00", "WOE"))
                clicks(who, 2)
                count("no_means")
            else:  # subscriptions (one for a single period), and a click on the same thing raised by one
                who = person(handle, "EUR")
                fund(who, handle, "30.00", "EUR")
                picked = rng.sample(things, 2)
                subscribe(deployment, who, picked[0], points=rng.randint(1, 5), periods=rng.choice([None, 1, 3]))
                subscribe(deployment, who, picked[1], points=5)
                flattr(deployment, who, picked[1], points=1)
                count("subscriptions")
        # WOE savers: holders that no batch touches, who pay the demurrage at the close.
        for i in range(12):
            handle = f"saver{i:02d}"
            fund(person(handle), handle, f"{rng.randint(10, 99)}.{rng.randint(10, 99)}", "WOE")
            count("savers")
        makers_circle(deployment, person, fund)
        counts["makers"] = MAKERS
    finally:
        deployment.close()
    return counts


MAKERS = 40


def makers_circle(deployment, person, fund) -> None:
    """Forty makers in TIE, each flattring the next but six's work: holdings that tie at the close.

    Each gives 5.50 of the 10.00 they put in, and receives one other's 5.50:
    40 wallets of 4.50, 40 earnings of 5.50 (accounts the settlement opens),
    and one 10.00 holding. The demurrage, 1% of 410.00, is 4.10: the
    earnings' exact shares are 5.5 cents each, so 30 of the 40 pay 6 cents
    and 10 pay 5. Which 10 is decided among equals, so it must not depend
    on the order the settlement happened to open their accounts in.
    """
    makers = [person(f"maker{i:02d}", "TIE") for i in range(MAKERS)]
    works = [register_thing(deployment, maker, f"https://example.org/maker/{i}", f"Make {i}").id for i, maker in enumerate(makers)]
    for i, maker in enumerate(makers):
        fund(maker, f"maker{i:02d}", "10.00", "TIE")
        set_budget(deployment, maker, Money("5.50", "TIE"))
        flattr(deployment, maker, works[(7 * i + 3) % MAKERS])  # a permutation with no fixed point
    fund(person("tie-holder"), "tie-holder", "10.00", "TIE")


# --- a copy of the seeded database, put back before each run ---------------------------------


class Snapshot:
    """The seeded database as it is now, to put back (``restore``) before each run.

    SQLite: a copy of the file. PostgreSQL: every table's rows and every
    sequence's position, held in memory; putting them back truncates the
    tables and reinserts the rows with their ids, so a restored database is
    the seeded one row for row, id for id.
    """

    def __init__(self, url: str, workdir: Path) -> None:
        self.url = url
        self.postgresql = url.startswith("postgresql")
        if self.postgresql:
            self._take_postgresql()
        else:
            self.path = Path(url.removeprefix("sqlite:///"))
            self.copy = workdir / "seeded.sqlite3"
            with contextlib.closing(sqlite3.connect(self.path)) as source, contextlib.closing(sqlite3.connect(self.copy)) as target:
                source.backup(target)

    def _take_postgresql(self) -> None:
        engine = make_engine(self.url)
        try:
            with engine.connect() as connection:
                self.rows = {table.name: [tuple(row) for row in connection.execute(select(table))] for table in metadata.sorted_tables}
                self.sequences = {}
                for table in metadata.sorted_tables:
                    if "id" not in table.c:
                        continue
                    name = connection.execute(text("SELECT pg_get_serial_sequence(:t, 'id')"), {"t": table.name}).scalar()
                    if name:
                        self.sequences[name] = tuple(connection.execute(text(f"SELECT last_value, is_called FROM {name}")).one())
        finally:
            engine.dispose()

    def restore(self) -> None:
        if not self.postgresql:
            for suffix in ("-wal", "-shm", ""):
                Path(f"{self.path}{suffix}").unlink(missing_ok=True)
            with contextlib.closing(sqlite3.connect(self.copy)) as source, contextlib.closing(sqlite3.connect(self.path)) as target:
                source.backup(target)
            return
        engine = make_engine(self.url)
        try:
            with engine.begin() as connection:
                names = ", ".join(table.name for table in metadata.sorted_tables)
                connection.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
                for table in metadata.sorted_tables:
                    rows = self.rows[table.name]
                    if rows:
                        connection.execute(insert(table), [dict(zip(table.c.keys(), row)) for row in rows])
                for name, (value, called) in self.sequences.items():
                    connection.execute(text("SELECT setval(:s, :v, :c)"), {"s": name, "v": value, "c": called})
        finally:
            engine.dispose()


# --- what a settlement wrote, without what legitimately differs between runs ------------------


def canonical_dump(url: str) -> dict[str, list]:
    """Every row settlement reads or writes, with surrogate ids and run times left out.

    Accounts are named by (owner's handle, purpose, currency), things by their
    url, transactions by their idempotency key; ``created_at``,
    ``started_at``, ``closed_at`` and the content hash (``request_hash``,
    which covers account ids) are left out; each table's rows are sorted.
    The row count of every table of the schema comes along, so a write to a
    table not dumped here still shows.
    """
    p = participants
    funder, creator, owner = p.alias("funder"), p.alias("creator"), p.alias("owner")
    engine = make_engine(url)
    try:
        with reading(engine) as connection:

            def rows(query) -> list:
                return sorted((tuple(row) for row in connection.execute(query)), key=repr)

            key_of = dict(connection.execute(select(transactions.c.id, transactions.c.idempotency_key)).all())
            legs: dict[int, list] = {}
            for transaction_id, handle, purpose, code, amount in connection.execute(
                select(postings.c.transaction_id, owner.c.handle, accounts.c.purpose, accounts.c.currency, postings.c.amount)
                .join(accounts, accounts.c.id == postings.c.account_id)
                .join(owner, owner.c.id == accounts.c.owner_id)
            ):
                legs.setdefault(transaction_id, []).append((handle, purpose, code, amount))
            ledger = sorted(
                (
                    (row.idempotency_key or "", row.kind, row.period, json.dumps(row.meta, sort_keys=True),
                     tuple(sorted(legs.get(row.id, []))))
                    for row in connection.execute(select(transactions))
                ),
                key=repr,
            )
            dump = {
                "participants": rows(select(p.c.handle, p.c.kind, p.c.preferred_currency, p.c.language, p.c.frozen, p.c.role, p.c.listed)),
                "accounts": rows(
                    select(owner.c.handle, accounts.c.purpose, accounts.c.currency, accounts.c.floor, accounts.c.balance)
                    .join(owner, owner.c.id == accounts.c.owner_id)
                ),
                "transactions": ledger,
                "periods": rows(select(periods.c.id, periods.c.starts_on, periods.c.ends_on, periods.c.status, periods.c.give_to_receive)),
                "settlements": sorted(
                    (
                        (*row[:-1], key_of.get(row[-1]))
                        for row in connection.execute(
                            select(settlements.c.period, funder.c.handle, settlements.c.currency, settlements.c.amount,
                                   settlements.c.status, settlements.c.flattrs, settlements.c.fee, settlements.c.distributed,
                                   settlements.c.unspent, settlements.c.transaction_id)
                            .join(funder, funder.c.id == settlements.c.funder_id)
                        )
                    ),
                    key=repr,
                ),
                "receipts": sorted(
                    (
                        (*row[:-1], key_of[row[-1]])
                        for row in connection.execute(
                            select(receipts.c.period, funder.c.handle, receipts.c.currency, things.c.url, creator.c.handle,
                                   receipts.c.points, receipts.c.share, receipts.c.transaction_id)
                            .join(funder, funder.c.id == receipts.c.funder_id)
                            .join(creator, creator.c.id == receipts.c.creator_id)
                            .join(things, things.c.id == receipts.c.thing_id)
                        )
                    ),
                    key=repr,
                ),
                "period_totals": rows(select(period_totals)),
                "creator_totals": rows(
                    select(creator_totals.c.period, creator_totals.c.currency, creator.c.handle, creator_totals.c.earned,
                           creator_totals.c.funders)
                    .join(creator, creator.c.id == creator_totals.c.creator_id)
                ),
                "flattrs": rows(
                    select(flattrs.c.period, funder.c.handle, things.c.url, flattrs.c.points, flattrs.c.source)
                    .join(funder, funder.c.id == flattrs.c.funder_id)
                    .join(things, things.c.id == flattrs.c.thing_id)
                ),
                "subscriptions": rows(
                    select(funder.c.handle, things.c.url, subscriptions.c.points, subscriptions.c.periods_left,
                           subscriptions.c.status, subscriptions.c.last_period)
                    .join(funder, funder.c.id == subscriptions.c.funder_id)
                    .join(things, things.c.id == subscriptions.c.thing_id)
                ),
                "budgets": rows(
                    select(funder.c.handle, budgets.c.currency, budgets.c.amount).join(funder, funder.c.id == budgets.c.funder_id)
                ),
                "row_counts": [
                    (table.name, connection.execute(select(func.count()).select_from(table)).scalar())
                    for table in metadata.sorted_tables
                ],
            }
    finally:
        engine.dispose()
    return dump


def raw_dump(url: str) -> dict[str, list]:
    """Every row of every table, every column, ids and times included, in primary-key order (JSON as text)."""

    def plain(value: Any) -> Any:
        return json.dumps(value, sort_keys=True) if isinstance(value, (dict, list)) else value

    engine = make_engine(url)
    try:
        with reading(engine) as connection:
            return {
                table.name: [
                    tuple(plain(value) for value in row)
                    for row in connection.execute(select(table).order_by(*table.primary_key.columns))
                ]
                for table in metadata.sorted_tables
            }
    finally:
        engine.dispose()


def differences(expected: dict[str, list], actual: dict[str, list], limit: int = 8) -> list[str]:
    """Readable lines naming the rows that differ, table by table (empty: the dumps are equal).

    Transactions found under the same key on both sides are shown by the legs that differ.
    """

    def short(row) -> str:
        text = repr(row)
        return text if len(text) <= 240 else text[:237] + "..."

    lines = []
    for name in sorted(set(expected) | set(actual)):
        want, got = expected.get(name, []), actual.get(name, [])
        if want == got:
            continue
        missing = [row for row in want if row not in got]
        extra = [row for row in got if row not in want]
        lines.append(f"{name}: {len(want)} rows in the reference, {len(got)} here")
        if name == "transactions":
            theirs = {row[0]: row for row in extra if row[0]}
            for row in [row for row in missing if row[0] in theirs][:limit]:
                other = theirs[row[0]]
                lines.append(f"  {row[0]}: legs only in the reference {sorted(set(row[4]) - set(other[4]))}, "
                             f"only here {sorted(set(other[4]) - set(row[4]))}")
            ours = {row[0] for row in want}
            missing = [row for row in missing if row[0] not in theirs]
            extra = [row for row in extra if row[0] not in ours]
        lines += [f"  only in the reference: {short(row)}" for row in missing[:limit]]
        lines += [f"  only here:             {short(row)}" for row in extra[:limit]]
        if len(missing) > limit or len(extra) > limit:
            lines.append(f"  ({len(missing)} rows only in the reference, {len(extra)} only here in all)")
        if not missing and not extra and name != "transactions":
            lines.append("  the same rows, another number of times")
    return lines


# --- watching a settlement from outside ------------------------------------------------------


@dataclass(frozen=True)
class State:
    """How far the settlement of ``PERIOD`` got, as committed in the database."""

    period: str | None  # the period's status: None (not prepared), settling, closed
    pending: int  # settlements rows still to settle
    settleable: int  # rows prepare left to settle (amount above zero): pending + settled by batches
    charged: int  # demurrage transactions posted for the period
    due: int  # demurrage transactions the period's close posts (one per demurrage currency)
    backend: str | None = None  # PostgreSQL: what the settling sessions are doing, comma-separated (pg_stat_activity)

    @property
    def running(self) -> bool:
        """PostgreSQL: a statement of the process is running on the server (it may still commit)."""
        return self.backend is not None and "active" in self.backend.split(",")

    @property
    def in_transaction(self) -> bool:
        """PostgreSQL: a session of the process is inside a transaction, with work the kill rolls back."""
        return self.backend is not None and "idle in transaction" in self.backend.split(",")

    @property
    def point(self) -> str:
        if self.period is None:
            return "before prepare"
        if self.period == "closed":
            return "closed"
        if self.pending == self.settleable:
            return "after prepare"
        if self.pending:
            return "mid batches"
        if not self.charged:
            return "after batches"
        return "after demurrage" if self.charged == self.due else "mid demurrage"

    @property
    def settled(self) -> int:
        return self.settleable - self.pending


class Probe:
    """A read-only connection of its own, polling the settlement's progress.

    SQLite: opened ``mode=ro`` (WAL readers never wait for the writer).
    PostgreSQL: autocommit with ``default_transaction_read_only``; it also
    reads ``pg_stat_activity`` for the settling process's connection, which
    carries its own ``application_name``.
    """

    def __init__(self, url: str, application_name: str, demurrage_keys: list[str]) -> None:
        self.url = url
        self.application_name = application_name
        self.unreadable = 0  # pauses at which the state could not be judged
        self.postgresql = url.startswith("postgresql")
        keys = ", ".join(f"'{key}'" for key in demurrage_keys)
        self.due = len(demurrage_keys)
        mark = "%s" if self.postgresql else "?"
        self.query = (
            f"SELECT (SELECT status FROM periods WHERE id = {mark}), "
            f"(SELECT count(*) FROM settlements WHERE period = {mark} AND status = 'pending'), "
            f"(SELECT count(*) FROM settlements WHERE period = {mark} AND amount > 0), "
            f"(SELECT count(*) FROM transactions WHERE idempotency_key IN ({keys}))"
        )
        self.params: tuple = (PERIOD, PERIOD, PERIOD)
        if self.postgresql:
            self.query += ", (SELECT string_agg(state, ',' ORDER BY state) FROM pg_stat_activity WHERE application_name = %s)"
            self.params += (application_name,)
            conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            self.connection = psycopg.connect(conninfo, autocommit=True, options="-c default_transaction_read_only=on")
        else:
            self.path = Path(url.removeprefix("sqlite:///")).resolve()
            self.connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)

    def state(self) -> State | None:
        """The committed state; None when it cannot be read now.

        A SQLite reader needs the WAL index for a moment; if the settling
        process was paused in the middle of updating it, the read fails with
        "locking protocol" (or "locked"), and the process must run on first.
        """
        try:
            row = self.connection.execute(self.query, self.params).fetchone()
        except sqlite3.OperationalError as error:
            if "locking protocol" in str(error) or "locked" in str(error):
                return None
            raise
        return State(row[0], row[1], row[2], row[3], self.due, row[4] if self.postgresql else None)

    def settled_state(self, timeout: float = 5.0) -> State:
        """The state once no process writes any more (read again while SQLite's WAL index is mid-update)."""
        deadline = time.monotonic() + timeout
        while (state := self.state()) is None:
            if time.monotonic() > deadline:
                raise AssertionError("the settlement's state stayed unreadable")
            time.sleep(0.01)
        return state

    def connected(self, pid: int) -> bool:
        """Whether process ``pid`` has opened the database (a SQLite file descriptor, a PostgreSQL session)."""
        if self.postgresql:
            return self.connection.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (self.application_name,)
            ).fetchone()[0] > 0
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(self.path):
                    return True
            except OSError:
                pass
        return False

    def wait_disconnected(self, timeout: float = 10.0) -> None:
        """PostgreSQL: until the server has ended a killed process's session (and rolled back its transaction)."""
        if not self.postgresql:
            return
        deadline = time.monotonic() + timeout
        while self.connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s", (self.application_name,)
        ).fetchone()[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"the session {self.application_name} outlived its process")
            time.sleep(0.002)

    def close(self) -> None:
        self.connection.close()


def gateway_command() -> list[str]:
    """``gateway``, the console script installed beside this Python (else ``python -m gateway.cli.main``)."""
    script = Path(sys.executable).with_name("gateway")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli.main"]


def with_application_name(url: str, name: str) -> str:
    if not url.startswith("postgresql"):
        return url
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


class Process:
    """``gateway settle`` as a real process, which the test can pause (SIGSTOP), resume and kill (SIGKILL)."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.popen = subprocess.Popen([*gateway_command(), *args], stdout=out, stderr=err)
        self.pid = self.popen.pid
        self.started = time.monotonic()

    def status(self) -> str:
        """The kernel's one-letter state of the process: R, S, D, T (stopped), Z (exited, not reaped)..."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                data = stat.read()
        except FileNotFoundError:
            return "X"
        return chr(data[data.rindex(b")") + 2])

    def pause(self) -> None:
        """SIGSTOP, and wait until the kernel has stopped the process (all its threads)."""
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while self.status() not in "TtZX":
            if time.monotonic() > deadline:
                raise AssertionError(f"process {self.pid} did not stop")

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def cpu_ns(self) -> int:
        """CPU time the process has had, all its threads together, in nanoseconds (Linux's CPU clock of a process).

        ``/proc/<pid>/schedstat`` lags a running task by up to a scheduler
        tick; the clock is exact: reading it brings the running time up to date.
        """
        try:
            return time.clock_gettime_ns(((~self.pid) << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
        except OSError:  # ended
            return 1 << 62

    def run_for(self, quantum_ns: int, cap: float) -> None:
        """Let the paused process run for ``quantum_ns`` of CPU time (or ``cap`` seconds), and pause it again.

        The test sleeps in short naps meanwhile rather than spinning: a
        sleeper that wakes up takes the CPU back from the process at once,
        where a spinner sharing its CPU would wait for the next tick.
        """
        start, until = self.cpu_ns(), time.perf_counter() + cap
        self.resume()
        while self.cpu_ns() - start < quantum_ns and time.perf_counter() < until:
            time.sleep(0.00002)
        self.pause()

    def lower_priority(self) -> None:
        """Nice 19 for all the process's threads (and those it starts later): a waking test always preempts it."""
        for task in os.listdir(f"/proc/{self.pid}/task"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(task), 19)

    def exited(self) -> bool:
        return self.status() in "ZX"

    def kill(self) -> int:
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def wait(self, timeout: float = 120) -> int:
        return self.popen.wait(timeout=timeout)

    def output(self) -> tuple[str, str]:
        return self.out.read_text(), self.err.read_text()


FAR = (500_000, 0.005)  # a slice far from the wanted state: 0.5 ms of the process's CPU time, 5 ms at most
NEAR = (30_000, 0.001)  # near it: 30 us of CPU time, 1 ms at most (a process waiting for its database uses none)


def step_until(process: Process, probe: Probe, wanted, near=lambda state: True, timeout: float = 60) -> State | None:
    """Run ``process`` slice by slice; after each slice, pause it and read the committed state.

    A slice ends when the process has had its CPU time's worth: ``FAR``,
    then ``NEAR`` from the first state ``near`` accepts on (``near`` must
    stay true once true), where the process also drops to nice 19: on a
    busy machine the test, waking up, must get the CPU back from it at once.
    Returns the first state ``wanted`` accepts, with the process left paused
    there; None if the process ended first. On PostgreSQL a state is only
    judged while no statement of the process runs on the server (a COMMIT
    in flight could still land after the pause).
    """
    deadline = time.monotonic() + timeout
    quantum, cap = FAR
    while time.monotonic() < deadline:
        process.run_for(quantum, cap)
        if process.exited():
            return None
        state = read_paused(process, probe)
        if state is None or state.running:
            probe.unreadable += 1
            continue
        if wanted(state):
            return state
        if (quantum, cap) == FAR and near(state):
            quantum, cap = NEAR
            process.lower_priority()
    raise AssertionError(f"no wanted state within {timeout} s")


def read_paused(process: Process, probe: Probe, patience: float = 0.005) -> State | None:
    """The committed state while ``process`` is paused; None if it could not be read with the process paused.

    A SQLite reader waits (up to some ten seconds, then fails with "locking
    protocol") while a writer is in the middle of updating the WAL index;
    a writer paused there never finishes. So if a read takes longer than
    ``patience``, the process is resumed to finish that update, and paused
    again once the read is over; what was read then is not the paused state.
    """
    if probe.postgresql:
        return probe.state()
    resumed = threading.Event()

    def resume() -> None:
        resumed.set()
        process.resume()

    timer = threading.Timer(patience, resume)
    timer.start()
    try:
        state = probe.state()
    finally:
        timer.cancel()
        timer.join()  # a resume under way has happened before the pause below
    if resumed.is_set():
        process.pause()
        return None
    return state


def wait_connected(process: Process, probe: Probe, timeout: float = 60) -> None:
    """Let ``process`` run freely (it imports the gateway) until it opens the database."""
    deadline = time.monotonic() + timeout
    while not probe.connected(process.pid):
        if process.exited():
            raise AssertionError(f"gateway settle ended before it opened the database: {process.output()}")
        if time.monotonic() > deadline:
            raise AssertionError("gateway settle did not open the database")
        time.sleep(0.0002)


# --- the whole harness: one seeded database, settled again and again -------------------------


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class Harness:
    """A seeded database, its snapshot and deployment file, and ``gateway`` runs against it."""

    def __init__(self, url: str, workdir: Path, funders: int, batch: int) -> None:
        self.url = url
        self.workdir = workdir
        self.runs = 0
        started = time.monotonic()
        self.population = seed(url, funders, str(workdir / "outbox"))
        self.seed_seconds = time.monotonic() - started
        self.snapshot = Snapshot(url, workdir)
        self.config = write_config(workdir / "deployment.toml", url, batch, str(workdir / "outbox"))
        self.demurrage_keys = [f"demurrage:{PERIOD}:{code}" for code, spec in CURRENCIES.items() if spec["kind"] == "demurrage"]

    def _name(self) -> str:
        self.runs += 1
        return f"crash-settle-{os.getpid()}-{self.runs}"

    def gateway(self, *args: str, config: Path | None = None) -> Outcome:
        """A ``gateway`` command on the database, run to its end."""
        name = self._name()
        process = Process(["--config", str(config or self.config), "--database-url", with_application_name(self.url, name),
                           *args], self.workdir, name)
        returncode = process.wait()
        return Outcome(returncode, *process.output(), time.monotonic() - process.started)

    def settle(self, batch: int | None = None) -> Outcome:
        """``gateway settle`` to its end; with ``batch``, under a deployment file that differs in ``settle_batch`` only."""
        config = None
        if batch is not None:
            config = write_config(self.workdir / f"deployment-{batch}.toml", self.url, batch, str(self.workdir / "outbox"))
        return self.gateway("settle", "--period", PERIOD, config=config)

    def start_settle(self) -> tuple[Process, Probe]:
        """``gateway settle`` started, running freely until it has opened the database, with a probe on it."""
        name = self._name()
        probe = Probe(self.url, name, self.demurrage_keys)
        process = Process(["--config", str(self.config), "--database-url", with_application_name(self.url, name),
                           "settle", "--period", PERIOD], self.workdir, name)
        try:
            wait_connected(process, probe)
        except BaseException:
            process.kill()
            probe.close()
            raise
        return process, probe

    def kill_when(self, wanted, near=lambda state: True) -> tuple[State | None, State, int]:
        """Start ``gateway settle`` and kill it (SIGKILL) at the first pause where ``wanted`` holds.

        Returns the state seen at that pause (None: the process ended first),
        the state it left once dead, and its exit status.
        """
        process, probe = self.start_settle()
        seen = None
        try:
            seen = step_until(process, probe, wanted, near)
        finally:
            left, returncode = _kill_and_read(process, probe)
        return seen, left, returncode

    def kill_after(self, seconds: float) -> tuple[State, int]:
        """Start ``gateway settle`` and kill it ``seconds`` after it opened the database; the state it left."""
        process, probe = self.start_settle()
        try:
            time.sleep(seconds)
        finally:
            left, returncode = _kill_and_read(process, probe)
        return left, returncode

    def state(self) -> State:
        probe = Probe(self.url, "crash-probe", self.demurrage_keys)
        try:
            return probe.settled_state()
        finally:
            probe.close()


def _kill_and_read(process, probe) -> tuple[State, int]:
    """SIGKILL the settle process, then read what it left once its connections are gone."""
    returncode = process.kill()
    try:
        probe.wait_disconnected()
        return probe.settled_state(), returncode
    finally:
        probe.close()
