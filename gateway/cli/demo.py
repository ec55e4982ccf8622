"""``gateway demo``: the product, served on the embedded default with the demo data, from a SQLite file of its own.

The file is made once (``usecases.demo`` fills it, in a file of its own
that takes the file's name only when full, so a run stopped halfway leaves
nothing to refuse later) and served again by each later run. The demo never
touches a configured deployment: it refuses a deployment file, a database
URL, and any database file that is not a demo's.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
from dataclasses import replace
from pathlib import Path

from gateway.config import ENV_CONFIG, ENV_DATABASE_URL, Settings
from gateway.deployment import open_deployment
from gateway.errors import ConfigError, DatabaseUnreachable, NotDemoData
from gateway.usecases.database import upgrade_schema
from gateway.usecases.demo import ACCOUNTS, PASSWORD, is_demo_database, load_demo


def run_demo(settings: Settings, args: argparse.Namespace) -> int:
    """Make or reuse the demo's file, then serve it as ``gateway serve`` would, until interrupted."""
    from gateway.http.serve import serve

    given = configuration_given(args)
    if given:
        raise ConfigError(f"the demo runs on the embedded default only, never on a configured deployment: drop {given}")
    path = Path(args.database)
    demo = _demo_settings(settings, path, args.host, args.port)
    if path.exists():
        _reuse(demo, path)
    else:
        print(f"loading the demo data into {path} (once; later runs serve the same file)", flush=True)
        _create(demo, path)
    listening: list[int] = []

    def announce(port: int) -> None:
        listening.append(port)
        print(invitation(args.host, port), flush=True)

    try:
        serve(demo, args.host, args.port, announce=announce)
    except OSError as error:
        if listening:
            raise
        # the port is taken, or the host is not this machine's: one line, as every error of the CLI
        print(
            f"gateway: cannot_listen: cannot serve on {args.host}:{args.port} ({error.strerror}); give another --port",
            file=sys.stderr,
        )
        return 1
    return 0


def configuration_given(args: argparse.Namespace) -> str | None:
    """The option or variable that names a deployment's file or database, if any was given."""
    for given, name in (
        (args.config, "--config"),
        (os.environ.get(ENV_CONFIG), f"${ENV_CONFIG}"),
        (args.database_url, "--database-url"),
        (os.environ.get(ENV_DATABASE_URL), f"${ENV_DATABASE_URL}"),
    ):
        if given:
            return name
    return None


def invitation(host: str, port: int) -> str:
    """The line that says where to go and as whom to sign in."""
    people = ", ".join(f'"{handle}" ({what})' for handle, what in ACCOUNTS)
    return f'Open {_origin(host, port)}/ — demo data: sign in as {people}, password "{PASSWORD}" (Ctrl-C stops it)'


def _origin(host: str, port: int) -> str:
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"


def _demo_settings(settings: Settings, path: Path, host: str, port: int) -> Settings:
    """The embedded default on the demo's file; mailed links point at the address served."""
    http = replace(settings.http, host=host, port=port, base_url=_origin(host, port))
    return replace(settings, database_url=f"sqlite:///{path}", http=http)


def _reuse(settings: Settings, path: Path) -> None:
    refusal = NotDemoData(f"{path} is not a demo's database: give another --database, or move that file away")
    try:
        deployment = open_deployment(settings)
    except DatabaseUnreachable:  # no database at all (SQLite says "file is not a database"), or one it cannot open
        raise refusal from None
    try:
        if not is_demo_database(deployment):
            raise refusal
        upgrade_schema(deployment)  # a demo made by an earlier release
    finally:
        deployment.close()


def _create(settings: Settings, path: Path) -> None:
    """Fill a file of our own beside ``path``, then give it ``path``'s name."""
    descriptor, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(descriptor)
    try:
        deployment = open_deployment(replace(settings, database_url=f"sqlite:///{partial}"))
        try:
            upgrade_schema(deployment)
            asyncio.run(load_demo(deployment))
        finally:
            deployment.close()
        os.replace(partial, path)
    finally:
        for leftover in (partial, partial + "-wal", partial + "-shm"):
            if os.path.exists(leftover):
                os.remove(leftover)
