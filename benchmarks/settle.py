"""Settlement benchmark: settle N funders x K flattrs, with ledger and receipts.

    python benchmarks/settle.py --database sqlite --funders 100000 --flattrs-per-funder 10
    python benchmarks/settle.py --database postgresql --funders 100000 --flattrs-per-funder 10

Each stage runs in a fresh child process (this same file with ``--stage``), so
the settle process's peak RSS is its own, not the data-set build's:

1. build: a fresh schema (``gateway.storage.migrate.upgrade``) and the data
   set, bulk-inserted straight into the tables: funders with wallets topped
   up by balanced ``top_up`` transactions, creators, things, budgets, and
   ``flattrs-per-funder`` distinct flattrs per funder for 2026-10 (random
   points 1..5, weighted points on), from a fixed seed;
2. settle: ``gateway.usecases.settlement.settle`` for 2026-10, timed, with its peak RSS
   (and, with ``--phases``, the time spent in each part of the work);
3. check: ``gateway.core.check.check_ledger``, timed, and a count of the rows the
   settlement wrote;
4. insert: the same number of rows, in tables of the same shapes (same
   columns, indexes and unique constraints, no foreign keys), inserted with
   ``gateway.storage.bulk.bulk_insert`` (COPY on PostgreSQL, executemany on
   SQLite) in one transaction, timed.

PostgreSQL: the default URL is the ``bench`` database on 127.0.0.1 (create it
with ``psql -h 127.0.0.1 -U postgres -c 'create database bench'``); its
``public`` schema is dropped and rebuilt.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import resource
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PERIOD = "2026-10"
TOPPED_UP = datetime(2026, 10, 1, 9, 0, tzinfo=UTC)
FLATTRED = datetime(2026, 10, 15, 12, 0, tzinfo=UTC)
AFTER = datetime(2026, 11, 1, 0, 5, tzinfo=UTC)  # the clock during settle: after the period's end
DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432/bench"
CHUNK = 100_000


def config(batch: int, outbox: str, workers: int | None = None) -> dict:
    return {
        "platform": {
            "name": "benchmark",
            "default_currency": "EUR",
            "fee": Decimal("0.10"),
            "period": "month",
            "weighted_points": True,
            "max_points": 5,
            "unspent": "return",
            "give_to_receive": False,
            "settle_batch": batch,
            **({"settle_workers": workers} if workers else {}),
        },
        "currencies": {"EUR": {"kind": "fiat", "minimum_budget": "2.00", "minimum_withdrawal": "1.00"}},
        "rails": {"sandbox": {"currencies": ["EUR"]}},
        "rates": {"providers": ["static"]},
        "mail": {"outbox": outbox},
    }


def deployment(args):
    from gateway.clock import FixedClock
    from gateway.config import settings_from_dict
    from gateway.deployment import open_deployment

    settings = settings_from_dict(config(args.batch, os.path.join(args.workdir, "outbox"), args.workers), database_url=args.url)
    return open_deployment(settings, clock=FixedClock(AFTER))


def chunks(rows, size=CHUNK):
    chunk = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def insert_all(connection, table, columns, rows) -> int:
    from gateway.storage.bulk import bulk_insert

    return sum(bulk_insert(connection, table, columns, chunk) for chunk in chunks(rows))


# --- stage 1: the data set ---------------------------------------------------------------------


def reset_schema(url: str) -> None:
    from sqlalchemy import text

    from gateway.storage.engine import make_engine
    from gateway.storage.migrate import upgrade

    engine = make_engine(url)
    if engine.dialect.name == "postgresql":
        with engine.begin() as connection:
            connection.execute(text("DROP SCHEMA public CASCADE"))
            connection.execute(text("CREATE SCHEMA public"))
    upgrade(engine)
    engine.dispose()


def stage_build(args) -> dict:
    from sqlalchemy import text

    from gateway.storage.engine import make_engine
    from gateway.storage.schema import (
        accounts,
        budgets,
        flattrs,
        participants,
        postings,
        things,
        transactions,
    )

    started = time.perf_counter()
    if args.url.startswith("sqlite:///"):
        path = Path(args.url.removeprefix("sqlite:///"))
        for suffix in ("", "-wal", "-shm"):
            Path(f"{path}{suffix}").unlink(missing_ok=True)
    reset_schema(args.url)
    rng = random.Random(args.seed)
    funders, creators, things_count = args.funders, args.creators, args.things
    first_creator = funders + 1
    rail_id = funders + creators + 1
    outside_id = funders + 1
    engine = make_engine(args.url)
    with engine.begin() as connection:
        created, clicked = TOPPED_UP, FLATTRED  # bulk_insert stores them as insert() would
        insert_all(
            connection,
            participants,
            ("id", "handle", "kind", "preferred_currency", "created_at"),
            (
                *((i, f"funder{i}", "person", "EUR", created) for i in range(1, funders + 1)),
                *((first_creator + j, f"creator{j}", "person", "EUR", created) for j in range(creators)),
                (rail_id, "rail:sandbox", "system", None, created),
            ),
        )
        # Things: each creator owns things_count / creators of them, on average.
        insert_all(
            connection,
            things,
            ("id", "owner_id", "url", "title", "created_at"),
            (
                (t, first_creator + rng.randrange(creators), f"https://example.org/t/{t}", f"Thing {t}", created)
                for t in range(1, things_count + 1)
            ),
        )
        # Wallets 1..funders (account id = funder id), and the rail's outside account.
        amounts = [rng.randrange(500, 5001) for _ in range(funders)]
        insert_all(
            connection,
            accounts,
            ("id", "owner_id", "purpose", "currency", "floor", "balance"),
            (
                *((i, i, "wallet", "EUR", 0, amounts[i - 1]) for i in range(1, funders + 1)),
                (outside_id, rail_id, "outside", "EUR", None, -sum(amounts)),
            ),
        )
        # One balanced top-up transaction per funder: outside -x, wallet +x.
        meta = json.dumps({"rail": "sandbox"})
        insert_all(
            connection,
            transactions,
            ("id", "kind", "idempotency_key", "created_at", "meta"),
            ((i, "top_up", f"top_up:bench-{i}", created, meta) for i in range(1, funders + 1)),
        )
        insert_all(
            connection,
            postings,
            ("transaction_id", "account_id", "amount"),
            (leg for i in range(1, funders + 1) for leg in ((i, outside_id, -amounts[i - 1]), (i, i, amounts[i - 1]))),
        )
        # Explicit budgets from 2.00 to 30.00; settle takes at most what the wallet holds.
        insert_all(
            connection,
            budgets,
            ("funder_id", "currency", "amount"),
            ((i, "EUR", rng.randrange(200, 3001)) for i in range(1, funders + 1)),
        )
        per_funder = args.flattrs_per_funder
        population = range(1, things_count + 1)

        def clicks():
            row_id = 0
            for funder in range(1, funders + 1):
                for thing in rng.sample(population, per_funder):
                    row_id += 1
                    yield (row_id, PERIOD, funder, thing, rng.randint(1, 5), "click", clicked)

        flattr_rows = insert_all(
            connection, flattrs, ("id", "period", "funder_id", "thing_id", "points", "source", "created_at"), clicks()
        )
        if connection.dialect.name == "postgresql":  # explicit ids: move the sequences past them
            for table in (participants, things, accounts, transactions, flattrs):
                connection.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{table.name}', 'id'), (SELECT max(id) FROM {table.name}))")
                )
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(text("VACUUM ANALYZE"))
            connection.execute(text("CHECKPOINT"))  # settle starts without the build's write-ahead log to flush
    engine.dispose()
    if args.url.startswith("sqlite:///"):  # settle starts with an empty write-ahead log
        with contextlib.closing(sqlite3.connect(args.url.removeprefix("sqlite:///"))) as connection:
            connection.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return {"build_seconds": time.perf_counter() - started, "flattrs": flattr_rows}


# --- stage 2: settle ---------------------------------------------------------------------------


class Phases:
    """Wall time spent in named functions of the settlement, by wrapping them in place."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.calls: dict[str, int] = {}

    def wrap(self, module, name: str, label: str) -> None:
        original = getattr(module, name)

        def timed(*args, **kwargs):
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[label] = self.seconds.get(label, 0.0) + time.perf_counter() - started
                self.calls[label] = self.calls.get(label, 0) + 1

        setattr(module, name, timed)


def instrument() -> Phases:
    """Wrap the settlement's parts; the names are the ones in gateway/usecases/settlement and gateway/core/ledger."""
    from gateway.core import ledger
    from gateway.usecases.settlement import batch, run

    phases = Phases()
    for label, module, name in PHASES:
        target = {"run": run, "batch": batch, "ledger": ledger}[module]
        if hasattr(target, name):
            phases.wrap(target, name, label)
    return phases


# (label, module, function): run.* are the phases; batch.* and ledger.* the parts of the batches.
PHASES = [
    ("prepare", "run", "prepare"),
    ("batches", "run", "settle_batch"),
    ("demurrage", "run", "charge_demurrage"),
    ("close", "run", "close"),
    ("report", "run", "period_report"),
    ("  read pending rows", "batch", "_pending"),
    ("  read flattrs (claims)", "batch", "_claims"),
    ("  lock wallets", "batch", "_lock_wallets"),
    ("  split budgets (Python)", "batch", "_split_all"),
    ("  build ledger entries (Python)", "batch", "_attach_entries"),
    ("  post_many: all of the writes", "batch", "post_many"),
    ("    reserve transaction ids", "ledger", "reserve_ids"),
    ("    insert transactions + postings", "ledger", "bulk_insert"),
    ("    insert receipts", "batch", "bulk_insert"),
    ("    mark settlements done", "batch", "bulk_update"),
    ("    update balances (last)", "ledger", "_apply"),
]


def stage_settle(args) -> dict:
    from gateway.core.periods import parse_period
    from gateway.usecases.settlement import settle

    phases = instrument() if args.phases else None
    deployment_ = deployment(args)
    if phases:
        phases.wrap(deployment_.engine.dialect, "do_commit", "commits")
    period = parse_period(PERIOD, "month")
    profiler = None
    if args.profile:
        import cProfile

        profiler = cProfile.Profile()
        profiler.enable()
    started, cpu = time.perf_counter(), time.process_time()
    report = settle(deployment_, period, pause_gc=True)  # as `gateway settle` runs it
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
    deployment_.close()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    result = {
        "settle_seconds": seconds,
        "settle_cpu_seconds": cpu,
        "peak_rss_mib": peak,
        "funders_settled": report.currencies[0].funders,
    }
    if phases:
        result["phases"] = {
            label: [round(phases.seconds[label], 3), phases.calls[label]]
            for label in [label for label, *_ in PHASES] + ["commits"]
            if label in phases.seconds
        }
    return result


# --- stage 3: check, and count what settle wrote -----------------------------------------------


def stage_check(args) -> dict:
    from sqlalchemy import text

    from gateway.core.check import check_ledger

    deployment_ = deployment(args)
    analyze = 0.0
    if deployment_.engine.dialect.name == "postgresql":
        # Fresh planner statistics, as autovacuum would gather after a settlement (it is off on some
        # servers, and with the statistics of the empty tables the ledger check's plans take minutes).
        with deployment_.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            started = time.perf_counter()
            connection.execute(text("ANALYZE"))
            analyze = time.perf_counter() - started
    with deployment_.engine.connect() as connection:
        started = time.perf_counter()
        breaches = check_ledger(connection)
        seconds = time.perf_counter() - started

        def count(sql: str) -> int:
            return connection.execute(text(sql), {"p": PERIOD, "b": args.batch}).scalar()

        rows = {
            "transactions": count("SELECT count(*) FROM transactions WHERE kind = 'settlement' AND period = :p"),
            "postings": count(
                "SELECT count(*) FROM postings JOIN transactions ON transactions.id = postings.transaction_id "
                "WHERE transactions.kind = 'settlement' AND transactions.period = :p"
            ),
            "receipts": count("SELECT count(*) FROM receipts WHERE period = :p"),
            "settlements": count("SELECT count(*) FROM settlements WHERE period = :p"),
            "settlement_updates": count("SELECT count(*) FROM settlements WHERE period = :p AND status IN ('done', 'returned')"),
            # One UPDATE per account and batch: batches are the pending rows in (funder, currency) order.
            "balance_updates": count(
                "SELECT count(*) FROM (SELECT DISTINCT postings.account_id, numbered.batch FROM postings "
                "JOIN (SELECT transaction_id, (row_number() OVER (ORDER BY funder_id, currency) - 1) / :b AS batch "
                "      FROM settlements WHERE period = :p AND transaction_id IS NOT NULL) AS numbered "
                "ON numbered.transaction_id = postings.transaction_id) AS touched"
            ),
            "accounts_opened": count("SELECT count(*) FROM accounts WHERE purpose IN ('earnings', 'fee')"),
            "totals": count(
                "SELECT (SELECT count(*) FROM creator_totals WHERE period = :p) + "
                "(SELECT count(*) FROM period_totals WHERE period = :p) + 1"
            ),
        }
    deployment_.close()
    return {"check_seconds": seconds, "analyze_seconds": analyze, "breaches": [str(b) for b in breaches], "rows": rows}


# --- stage 4: the raw bulk insert --------------------------------------------------------------


def scratch_tables(with_foreign_keys: bool):
    """Tables shaped like the ones settle writes: same columns, types, primary keys, unique and check
    constraints and indexes; with the same foreign keys to the real parent tables, or with none."""
    from sqlalchemy import (
        CheckConstraint,
        Column,
        ForeignKeyConstraint,
        Index,
        MetaData,
        Table,
        UniqueConstraint,
    )

    from gateway.storage import schema

    metadata = MetaData()
    for parent in (schema.participants, schema.accounts, schema.transactions, schema.periods):
        parent.to_metadata(metadata)  # only for the foreign keys to resolve: never created nor dropped here
    made = {}
    suffix = "fk" if with_foreign_keys else "plain"
    for source in (schema.transactions, schema.postings, schema.receipts, schema.settlements, schema.accounts):
        name = f"scratch_{suffix}_{source.name}"
        columns = [
            Column(
                c.name,
                c.type,
                primary_key=c.primary_key,
                nullable=c.nullable,
                server_default=c.server_default.arg if c.server_default is not None else None,
            )
            for c in source.columns
        ]
        extra = []
        for constraint in source.constraints:
            if isinstance(constraint, UniqueConstraint):
                extra.append(UniqueConstraint(*[c.name for c in constraint.columns], name=f"uq_{name}_{len(extra)}"))
            elif isinstance(constraint, CheckConstraint):
                extra.append(CheckConstraint(str(constraint.sqltext), name=f"ck_{name}_{len(extra)}"))
            elif isinstance(constraint, ForeignKeyConstraint) and with_foreign_keys:
                extra.append(
                    ForeignKeyConstraint(
                        [c.name for c in constraint.columns],
                        [e.target_fullname for e in constraint.elements],
                        name=f"fk_{name}_{len(extra)}",
                    )
                )
        for index in source.indexes:
            extra.append(Index(f"ix_{name}_{len(extra)}", *[c.name for c in index.columns]))
        for column in source.columns:
            if column.unique:
                extra.append(UniqueConstraint(column.name, name=f"uq_{name}_{len(extra)}"))
        made[source.name] = Table(name, metadata, *columns, *extra)
    return metadata, made


def insert_rows(engine, counts: dict, with_foreign_keys: bool) -> dict:
    """Insert as many rows as settle wrote, into scratch tables of the same shapes, in one transaction.

    Settle's inserted and updated rows both count as rows: its settlements rows (inserted, then updated)
    go in as settlements-shaped rows, its balance updates, opened accounts and totals as accounts-shaped
    rows. Values point at existing parent rows, so the same rows go in with or without foreign keys.
    """
    from gateway.storage.bulk import bulk_insert

    metadata, tables = scratch_tables(with_foreign_keys)
    scratch = list(tables.values())
    metadata.drop_all(engine, tables=scratch)
    metadata.create_all(engine, tables=scratch)
    with engine.connect() as connection:  # ids that exist: a sequence leaves gaps where a transaction rolled back
        existing = {
            name: [row[0] for row in connection.exec_driver_sql(f"SELECT id FROM {name} ORDER BY id")]
            for name in ("participants", "accounts", "transactions")
        }
        connection.rollback()
    people, accounts_, transactions_ = (len(existing[name]) for name in ("participants", "accounts", "transactions"))
    person, account_, transaction_ = (existing[name].__getitem__ for name in ("participants", "accounts", "transactions"))
    plan = [
        (
            "transactions",
            ("kind", "idempotency_key", "request_hash", "period", "created_at"),
            counts["transactions"],
            lambda i, now: ("settlement", f"settle:{PERIOD}:{i}:EUR", "%064x" % (i * 2654435761), PERIOD, now),
        ),
        (
            "postings",
            ("transaction_id", "account_id", "amount"),
            counts["postings"],
            lambda i, now: (transaction_(i // 12 % transactions_), account_(i * 7919 % accounts_), i % 997 + 1),
        ),
        (
            "receipts",
            ("period", "funder_id", "currency", "thing_id", "creator_id", "points", "share", "transaction_id"),
            counts["receipts"],
            lambda i, now: (
                PERIOD,
                i // 10 + 1,
                "EUR",
                i % 50_021 + 1,
                i % 10_007 + 1,
                i % 5 + 1,
                i % 331 + 1,
                transaction_(i // 10 % transactions_),
            ),
        ),
        (
            "settlements",
            ("period", "funder_id", "currency", "amount", "status", "flattrs", "fee", "distributed", "unspent", "transaction_id"),
            counts["settlements"] + counts["settlement_updates"],
            lambda i, now: (
                PERIOD,
                person(i % people),
                f"C{i // people}",
                1000,
                "done",
                10,
                100,
                900,
                0,
                transaction_(i % transactions_),
            ),
        ),
        (
            "accounts",
            ("owner_id", "purpose", "currency", "floor", "balance"),
            counts["balance_updates"] + counts["accounts_opened"] + counts["totals"],
            lambda i, now: (person(i % people), f"p{i // people}", "EUR", 0, 1000),
        ),
    ]
    seconds = 0.0
    written = 0
    with engine.connect() as connection:
        now = AFTER
        transaction = connection.begin()
        for name, columns, total, make_row in plan:
            for start in range(0, total, CHUNK):  # rows made in chunks, outside the timed part
                chunk = [make_row(i, now) for i in range(start, min(total, start + CHUNK))]
                started = time.perf_counter()
                written += bulk_insert(connection, tables[name], columns, chunk)
                seconds += time.perf_counter() - started
        started = time.perf_counter()
        transaction.commit()
        seconds += time.perf_counter() - started
    metadata.drop_all(engine, tables=scratch)
    return {"seconds": seconds, "rows": written}


def stage_insert(args) -> dict:
    from gateway.storage.engine import make_engine

    counts = json.loads(args.rows)
    engine = make_engine(args.url)
    plain = insert_rows(engine, counts, with_foreign_keys=False)
    keyed = insert_rows(engine, counts, with_foreign_keys=True)
    engine.dispose()
    return {
        "insert_seconds": plain["seconds"],
        "inserted": plain["rows"],
        "insert_fk_seconds": keyed["seconds"],
        "inserted_fk": keyed["rows"],
    }


# --- the driver --------------------------------------------------------------------------------

STAGES = {"build": stage_build, "settle": stage_settle, "check": stage_check, "insert": stage_insert}


def child(args, stage: str, *extra: str) -> dict:
    command = [
        sys.executable,
        __file__,
        "--stage",
        stage,
        "--url",
        args.url,
        "--workdir",
        args.workdir,
        "--funders",
        str(args.funders),
        "--flattrs-per-funder",
        str(args.flattrs_per_funder),
        "--creators",
        str(args.creators),
        "--things",
        str(args.things),
        "--seed",
        str(args.seed),
        "--batch",
        str(args.batch),
        *(["--workers", str(args.workers)] if args.workers else []),
        *extra,
    ]
    if args.phases:
        command.append("--phases")
    if args.profile and stage == "settle":
        command += ["--profile", args.profile]
    done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--database", choices=["sqlite", "postgresql"], default="sqlite")
    parser.add_argument("--funders", type=int, default=100_000)
    parser.add_argument("--flattrs-per-funder", type=int, default=10)
    parser.add_argument("--creators", type=int, help="default: funders / 10")
    parser.add_argument("--things", type=int, help="default: funders / 2")
    parser.add_argument("--batch", type=int, default=10_000, help="settle_batch (default 10,000)")
    parser.add_argument("--workers", type=int, help="settle_workers (default: the deployment's default)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--postgres-url", default=os.environ.get("BENCH_POSTGRES_URL", DEFAULT_POSTGRES))
    parser.add_argument("--phases", action="store_true", help="time the parts of settle (adds a little overhead)")
    parser.add_argument("--profile", help="write a cProfile of the settle stage to this file")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--stage", choices=sorted(STAGES), help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    parser.add_argument("--rows", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    args.creators = args.creators or max(1, args.funders // 10)
    args.things = args.things or max(args.flattrs_per_funder, args.funders // 2)
    if args.stage:
        print(json.dumps(STAGES[args.stage](args)))
        return 0

    args.workdir = tempfile.mkdtemp(prefix="settle-bench-")
    try:
        if args.database == "sqlite":
            args.url = f"sqlite:///{args.workdir}/bench.sqlite3"
        else:
            args.url = args.postgres_url
        results = {
            "database": args.database,
            "funders": args.funders,
            "flattrs_per_funder": args.flattrs_per_funder,
            "creators": args.creators,
            "things": args.things,
            "batch": args.batch,
        }
        print(f"building {args.funders:,} funders x {args.flattrs_per_funder} flattrs on {args.database} ...", file=sys.stderr)
        results.update(child(args, "build"))
        print(f"  built in {results['build_seconds']:.1f} s; settling ...", file=sys.stderr)
        results.update(child(args, "settle"))
        print(f"  settled in {results['settle_seconds']:.1f} s; checking ...", file=sys.stderr)
        results.update(child(args, "check"))
        results["rows_written"] = sum(results["rows"].values())
        print(
            f"  checked in {results['check_seconds']:.1f} s; raw insert of {results['rows_written']:,} rows ...", file=sys.stderr
        )
        results.update(child(args, "insert", "--rows", json.dumps(results["rows"])))
        results["ratio"] = results["settle_seconds"] / results["insert_seconds"]
        results["ratio_fk"] = results["settle_seconds"] / results["insert_fk_seconds"]
    finally:
        shutil.rmtree(args.workdir, ignore_errors=True)
    print_table(results)
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n")
    return 0 if not results["breaches"] else 1


def print_table(r: dict) -> None:
    print()
    print(
        "| database | funders | flattrs | rows written | settle s | insert s | settle/insert "
        "| insert with FKs s | settle/insert with FKs | peak RSS MiB | check s | ledger check |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|")
    print(
        f"| {r['database']} | {r['funders']:,} | {r['flattrs']:,} | {r['rows_written']:,} | {r['settle_seconds']:.1f} "
        f"| {r['insert_seconds']:.1f} | {r['ratio']:.2f} | {r['insert_fk_seconds']:.1f} | {r['ratio_fk']:.2f} "
        f"| {r['peak_rss_mib']:.0f} | {r['check_seconds']:.1f} "
        f"| {'passed' if not r['breaches'] else 'FAILED: ' + '; '.join(r['breaches'][:3])} |"
    )
    print()
    print(
        f"build {r['build_seconds']:.1f} s; settle CPU (client process) {r['settle_cpu_seconds']:.1f} s"
        + (f"; ANALYZE before the check {r['analyze_seconds']:.1f} s" if r["analyze_seconds"] else "")
    )
    print("rows written: " + ", ".join(f"{name} {count:,}" for name, count in r["rows"].items()))
    if "phases" in r:
        print()
        print("| part of settle | seconds | calls |")
        print("|---|---:|---:|")
        for label, (seconds, calls) in r["phases"].items():
            print(f"| {label} | {seconds:.2f} | {calls} |")


if __name__ == "__main__":
    sys.exit(main())
