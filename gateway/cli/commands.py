"""What each ``gateway`` sub-command does."""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

from ..audit import CHECKS, check_ledger
from ..config import Settings
from ..deployment import Deployment, open_deployment
from ..errors import ConfigError, LedgerBreach
from ..periods import parse_period
from ..reports import PeriodReport, period_report
from ..settlement import settle as run_settle
from ..storage.engine import reading
from ..storage.migrate import current_revision, head_revision, upgrade
from .output import money_text, table


def _deployment(settings: Settings, migrate: bool = False) -> Deployment:
    deployment = open_deployment(settings)
    if migrate:
        return deployment
    revision = current_revision(deployment.engine)
    if revision != head_revision():
        deployment.close()
        raise ConfigError(f"the database is at schema {revision or 'none'}, not {head_revision()}: run `gateway db upgrade`")
    return deployment


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings, migrate=True)
    try:
        upgrade(deployment.engine)
        print(f"database at schema {current_revision(deployment.engine)} ({deployment.engine.url.render_as_string()})")
    finally:
        deployment.close()
    return 0


def settle(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings)
    try:
        period = parse_period(args.period, settings.period) if args.period else None
        with _progress_bar() as progress:
            report = run_settle(deployment, period, progress=progress, pause_gc=True)  # this process does nothing else
        print(format_report(deployment, report))
    finally:
        deployment.close()
    return 0


def report(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings)
    try:
        period = parse_period(args.period, settings.period)
        with reading(deployment.engine) as connection:
            print(format_report(deployment, period_report(connection, settings, period.id)))
    finally:
        deployment.close()
    return 0


def ledger_check(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings)
    try:
        return verify_ledger(deployment)
    finally:
        deployment.close()


def verify_ledger(deployment: Deployment) -> int:
    """Print the ledger check's verdict; 1 if anything is broken."""
    with reading(deployment.engine) as connection:
        breaches = check_ledger(connection)
    for breach in breaches:
        print(f"gateway: {LedgerBreach.code}: {breach}", file=sys.stderr)
    if breaches:
        return 1
    print(f"ledger check: every invariant holds ({', '.join(CHECKS)})")
    return 0


def currencies(settings: Settings, args: argparse.Namespace) -> int:
    rows = []
    for unit in settings.currencies:
        policy = settings.policies[unit.code]
        notes = []
        if unit.wallet_floor:
            notes.append(f"credit limit {unit.format(-unit.wallet_floor)}")
        if unit.demurrage:
            notes.append(f"demurrage {unit.demurrage.rate * 100}% every {unit.demurrage.every_months} month(s) to {unit.demurrage.fund}")
        rows.append([
            unit.code + (" (default)" if unit.code == settings.default_currency else ""), unit.kind,
            f"1/{unit.minor_per_major}", unit.format(policy.minimum_budget), unit.format(policy.minimum_withdrawal),
            f"{policy.fee * 100}%", "; ".join(notes),
        ])
    print(f"{settings.name} ({settings.source})")
    print(table(["currency", "kind", "minor unit", "min budget", "min withdrawal", "fee", "notes"], rows))
    print(f"  period: {settings.period}; weighted points: {'on, up to ' + str(settings.max_points) if settings.weighted_points else 'off'}; "
          f"unspent budgets: {settings.unspent}; give-to-receive: {'on' if settings.give_to_receive else 'off'}")
    print(f"  rails: {', '.join(settings.rails) or 'none'}; exchange rates: {', '.join(settings.rate_providers)}")
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from ..http.serve import serve as serve_api

    _deployment(settings).close()  # the schema is current: check it once, before any process starts
    processes = args.processes or 1
    if processes > 1 and not settings.http.redis_url:
        print("gateway serve: without [http] redis_url each process counts rate limits on its own", file=sys.stderr)
    host = args.host or settings.http.host
    port = settings.http.port if args.port is None else args.port
    serve_api(lambda: open_deployment(settings), host, port, processes)
    return 0


def demo(settings: Settings, args: argparse.Namespace) -> int:
    from .demo import run_demo

    return run_demo(replace(settings, database_url=f"sqlite:///{args.database}"), args.database)


def format_report(deployment: Deployment, report: PeriodReport) -> str:
    text = lambda money: money_text(deployment.currencies, money)  # noqa: E731
    lines = [f"period {report.period}: {report.status}"]
    lines.append(table(
        ["currency", "funders", "budgets", "fees", "to creators", "unspent", "demurrage"],
        [[t.currency, t.funders, text(t.budgets), text(t.fees), text(t.distributed), text(t.unspent), text(t.demurrage)]
         for t in report.currencies],
    ))
    if report.creators:
        lines.append(table(["creator", "earned", "funders"], [[c.handle, text(c.earned), c.funders] for c in report.creators]))
    return "\n".join(lines)


class _progress_bar:
    """A tqdm bar on a terminal; nothing when the output goes elsewhere."""

    def __enter__(self):
        self.bar = None
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        def update(done: int, total: int) -> None:
            if self.bar is None:
                self.bar = tqdm(total=total, unit="budget", desc="settling", file=sys.stderr)
            self.bar.update(done - self.bar.n)

        return update

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()
