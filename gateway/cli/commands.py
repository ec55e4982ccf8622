"""What each ``gateway`` sub-command does."""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import sys
from collections.abc import Callable
from dataclasses import replace
from functools import partial
from typing import Any

from gateway.cli.output import money_text, table
from gateway.config import Settings
from gateway.deployment import Deployment, open_deployment
from gateway.errors import LedgerBreach
from gateway.usecases.calendar import period as parse_period
from gateway.usecases.database import database_address, require_current_schema, upgrade_schema
from gateway.usecases.identity.principal import MEMBER, OPERATOR
from gateway.usecases.identity.roles import cli_actor, set_role_by_handle
from gateway.usecases.mail_queue import deliver_due, queue_counts
from gateway.usecases.operator import CHECKS, verify_ledger
from gateway.usecases.rails_sync import SyncReport, sync
from gateway.usecases.reports import PeriodReport, period_report
from gateway.usecases.settlement import settle as run_settle

log = logging.getLogger("gateway.cli")


def _deployment(settings: Settings, migrate: bool = False) -> Deployment:
    deployment = open_deployment(settings)
    if not migrate:
        try:
            require_current_schema(deployment)
        except BaseException:
            deployment.close()
            raise
    return deployment


def db_upgrade(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings, migrate=True)
    try:
        print(f"database at schema {upgrade_schema(deployment)} ({database_address(deployment)})")
    finally:
        deployment.close()
    return 0


def settle(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings)
    try:
        period = parse_period(deployment, args.period) if args.period else None
        with _progress_bar() as progress:
            report = run_settle(deployment, period, progress=progress, pause_gc=True)  # this process does nothing else
        print(format_report(deployment, report))
    finally:
        deployment.close()
    return 0


def report(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings)
    try:
        print(format_report(deployment, period_report(deployment, parse_period(deployment, args.period).id)))
    finally:
        deployment.close()
    return 0


def ledger_check(settings: Settings, args: argparse.Namespace) -> int:
    deployment = _deployment(settings)
    try:
        return print_ledger_check(deployment)
    finally:
        deployment.close()


def print_ledger_check(deployment: Deployment) -> int:
    """Print the ledger check's verdict; 1 if anything is broken."""
    breaches = verify_ledger(deployment)
    for breach in breaches:
        print(f"gateway: {LedgerBreach.code}: {breach}", file=sys.stderr)
    if breaches:
        return 1
    print(f"ledger check: every invariant holds ({', '.join(CHECKS)})")
    return 0


def operator_grant(settings: Settings, args: argparse.Namespace) -> int:
    return _set_role(settings, args.handle, OPERATOR)


def operator_revoke(settings: Settings, args: argparse.Namespace) -> int:
    return _set_role(settings, args.handle, MEMBER)


def _set_role(settings: Settings, handle: str, role: str) -> int:
    """Grant or revoke, recorded as done at the CLI by the local user; having the role already is no error."""
    deployment = _deployment(settings)
    try:
        outcome = set_role_by_handle(deployment, handle, role, cli_actor(_os_user()))
    finally:
        deployment.close()
    who = f"{outcome.handle} (#{outcome.participant_id})"
    if outcome.change is None:
        print(f"{who} is {'an operator already' if role == OPERATOR else 'not an operator'}; nothing changed")
    elif role == OPERATOR:
        print(f"{who} is now an operator (role change #{outcome.change.id})")
    else:
        print(f"{who} is no longer an operator (role change #{outcome.change.id})")
    return 0


def _os_user() -> str:
    """Who runs the command on this machine, for the record; the uid where the system has no name for it."""
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no $USER and no passwd entry (a container's arbitrary uid)
        return f"uid:{os.getuid()}"


def mail_send(settings: Settings, args: argparse.Namespace) -> int:
    """Send what is due once, for cron; a try that fails waits for its next (the counts say so), and the exit is 0.

    A database out of reach stops it before anything is claimed, in one line (``_deployment``).
    """
    deployment = _deployment(settings)
    try:
        delivery = deliver_due(deployment)
        waiting = queue_counts(deployment)
    finally:
        deployment.close()
    print(
        f"mail: {delivery.sent} sent, {delivery.retrying} to try again later, {delivery.failed} given up; "
        f"{waiting['queued'] + waiting['sending']} waiting in the queue, {waiting['failed']} failed in all"
    )
    return 0


def rails_sync(settings: Settings, args: argparse.Namespace) -> int:
    """The janitor, once: exit 1 where a payment could not be asked about (its rail no longer enabled, say)."""
    deployment = _deployment(settings)
    try:
        report = asyncio.run(_sync_and_close(deployment))
    finally:
        deployment.close()
    for what, counts in (("top-ups", report.top_ups), ("withdrawals", report.withdrawals), ("refunds", report.refunds)):
        states = ", ".join(f"{n} {state}" for state, n in sorted(counts.items())) or "none in flight"
        print(f"{what}: {states}")
    for line in report.errors:
        print(f"gateway: {line}", file=sys.stderr)
    return 1 if report.errors else 0


async def _sync_and_close(deployment: Deployment) -> SyncReport:
    try:
        return await sync(deployment)
    finally:
        for rail in deployment.rails.values():
            await rail.close()


def currencies(settings: Settings, args: argparse.Namespace) -> int:
    rows = []
    for unit in settings.currencies:
        policy = settings.policies[unit.code]
        notes = []
        if unit.wallet_floor:
            notes.append(f"credit limit {unit.format(-unit.wallet_floor)}")
        if unit.demurrage:
            notes.append(
                f"demurrage {unit.demurrage.rate * 100}% every {unit.demurrage.every_months} month(s) to {unit.demurrage.fund}"
            )
        rows.append(
            [
                unit.code + (" (default)" if unit.code == settings.default_currency else ""),
                unit.kind,
                f"1/{unit.minor_per_major}",
                unit.format(policy.minimum_budget),
                unit.format(policy.minimum_withdrawal),
                f"{policy.fee * 100}%",
                "; ".join(notes),
            ]
        )
    print(f"{settings.name} ({settings.source})")
    print(table(["currency", "kind", "minor unit", "min budget", "min withdrawal", "fee", "notes"], rows))
    print(
        f"  period: {settings.period}; weighted points: {'on, up to ' + str(settings.max_points) if settings.weighted_points else 'off'}; "
        f"unspent budgets: {settings.unspent}; give-to-receive: {'on' if settings.give_to_receive else 'off'}"
    )
    print(f"  rails: {', '.join(settings.rails) or 'none'}; exchange rates: {', '.join(settings.rate_providers)}")
    return 0


def serve(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.http.serve import serve as serve_api

    _deployment(settings).close()  # the schema is current: check it once, before any process starts
    processes = args.processes or 1
    if processes > 1 and not settings.http.redis_url:
        log.warning("without [http] redis_url each process counts rate limits on its own")
    host = args.host or settings.http.host
    port = settings.http.port if args.port is None else args.port
    serve_api(settings, host, port, processes)
    return 0


def walkthrough(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.cli.walkthrough import run_walkthrough

    return run_walkthrough(replace(settings, database_url=f"sqlite:///{args.database}"), args.database)


def demo(settings: Settings, args: argparse.Namespace) -> int:
    from gateway.cli.demo import run_demo

    return run_demo(settings, args)


def format_report(deployment: Deployment, report: PeriodReport) -> str:
    text = partial(money_text, deployment.currencies)
    lines = [f"period {report.period}: {report.status}"]
    lines.append(
        table(
            ["currency", "funders", "budgets", "fees", "to creators", "unspent", "demurrage"],
            [
                [t.currency, t.funders, text(t.budgets), text(t.fees), text(t.distributed), text(t.unspent), text(t.demurrage)]
                for t in report.currencies
            ],
        )
    )
    if report.creators:
        lines.append(table(["creator", "earned", "funders"], [[c.handle, text(c.earned), c.funders] for c in report.creators]))
    return "\n".join(lines)


class _progress_bar:
    """A tqdm bar on a terminal; nothing when the output goes elsewhere."""

    bar: Any = None

    def __enter__(self) -> Callable[[int, int], None] | None:
        self.bar = None
        if not sys.stderr.isatty():
            return None
        from tqdm import tqdm

        def update(done: int, total: int) -> None:
            if self.bar is None:
                self.bar = tqdm(total=total, unit="budget", desc="settling", file=sys.stderr)
            self.bar.update(done - self.bar.n)

        return update

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.close()
