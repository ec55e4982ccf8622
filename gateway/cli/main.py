"""``gateway``: the operator's command line.

Errors are one line on stderr and a non-zero exit: 2 for a command line
that is wrong, 1 for anything the gateway refuses (the line names its code).
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from typing import NoReturn

from gateway import logs
from gateway.cli import commands
from gateway.config import load_settings
from gateway.errors import GatewayError


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not argparse's usage block
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="gateway", description="An open, self-hostable Flattr: a multi-currency micropayment gateway.")
    parser.add_argument("--config", metavar="PATH", help="deployment file (default: $GATEWAY_CONFIG, else the embedded default)")
    parser.add_argument("--database-url", metavar="URL", help="override the deployment's database URL")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser, required=True)

    demo = sub.add_parser(
        "demo", help="serve the product with demo data on a SQLite file of its own, and say where to open it and as whom"
    )
    demo.add_argument(
        "--database",
        metavar="FILE",
        default="gateway-demo.sqlite3",
        help="the demo's SQLite file: made and filled if absent, served again if a demo's, refused otherwise",
    )
    demo.add_argument("--host", default="127.0.0.1", help="address to bind (default: 127.0.0.1, this machine only)")
    demo.add_argument("--port", type=int, default=8080, help="port (default: 8080)")
    demo.set_defaults(run=commands.demo)

    walkthrough = sub.add_parser("walkthrough", help="run a whole period on a fresh SQLite file and show who paid whom")
    walkthrough.add_argument(
        "--database", metavar="FILE", default="gateway-walkthrough.sqlite3", help="the SQLite file to (re)create"
    )
    walkthrough.set_defaults(run=commands.walkthrough)

    settle = sub.add_parser("settle", help="settle a period (by default the next in order that has ended), or finish settling it")
    settle.add_argument("--period", metavar="ID", help="the period, like 2026-11 (or 2026-W48 on a weekly deployment)")
    settle.set_defaults(run=commands.settle)

    report = sub.add_parser("report", help="show a settled period's totals per currency and per creator")
    report.add_argument("--period", metavar="ID", required=True)
    report.set_defaults(run=commands.report)

    ledger = sub.add_parser("ledger", help="the ledger")
    ledger_sub = ledger.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    ledger_sub.add_parser("check", help="verify every invariant of the ledger; exit 1 naming any breach").set_defaults(
        run=commands.ledger_check
    )

    db = sub.add_parser("db", help="the database schema")
    db_sub = db.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    db_sub.add_parser("upgrade", help="apply the schema migrations (Alembic) up to the latest").set_defaults(
        run=commands.db_upgrade
    )

    operator = sub.add_parser("operator", help="grant or revoke the operator role (the /operator routes of the API)")
    operator_sub = operator.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    grant = operator_sub.add_parser("grant", help="make a person an operator (recorded; nothing to do if they are one)")
    grant.add_argument("handle", metavar="HANDLE", help="the person's handle")
    grant.set_defaults(run=commands.operator_grant)
    revoke = operator_sub.add_parser("revoke", help="make an operator a member again (recorded; even the last operator)")
    revoke.add_argument("handle", metavar="HANDLE", help="the person's handle")
    revoke.set_defaults(run=commands.operator_revoke)

    mail = sub.add_parser("mail", help="the mail queue")
    mail_sub = mail.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    mail_sub.add_parser(
        "send", help="send the mail that is due, print how many, and exit (for cron; `gateway serve` sends it too)"
    ).set_defaults(run=commands.mail_send)

    rails = sub.add_parser("rails", help="the rails (card, PayPal, …)")
    rails_sub = rails.add_subparsers(dest="action", metavar="ACTION", parser_class=_Parser, required=True)
    rails_sub.add_parser(
        "sync", help="ask the providers about every top-up and payout in flight, and record what they say (safe from cron)"
    ).set_defaults(run=commands.rails_sync)

    serve = sub.add_parser("serve", help="serve the JSON API (/api/v1) over HTTP")
    serve.add_argument("--host", help="address to bind (default: [http] host, 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port (default: [http] port, 8080)")
    serve.add_argument(
        "--processes",
        type=int,
        choices=range(1, 65),
        metavar="N",
        help="worker processes sharing the port (default 1; more where cores are to spare)",
    )
    serve.set_defaults(run=commands.serve)

    sub.add_parser("currencies", help="show the configured currencies, rails and rates").set_defaults(run=commands.currencies)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # What a command logs goes to stderr as JSON lines: for ``serve`` each request too, for the others only what
    # goes wrong, so that their one-line errors and quiet successes stay as they are.
    logs.configure(logging.INFO if args.command == "serve" else logging.WARNING)
    try:
        settings = load_settings(args.config, **({"database_url": args.database_url} if args.database_url else {}))
        return args.run(settings, args) or 0
    except GatewayError as error:
        print(f"gateway: {error.code}: {error.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("gateway: interrupted; run the same command again to finish", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
