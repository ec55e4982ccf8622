"""The demo banner: every page of a demo deployment says so, and whom to sign in as.

Whether a deployment is a demo is read once, at start-up, from its
database's mark (``usecases.demo``): ``gateway demo`` loads the data before
it serves, and no other database ever gets the mark.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from aiohttp import web

from gateway.http.keys import DEPLOYMENT
from gateway.usecases.demo import ACCOUNTS, PASSWORD, is_demo_database


@dataclass(frozen=True)
class DemoBanner:
    """What the banner names: the demo accounts' handles, and their password."""

    handles: str
    password: str


BANNER = DemoBanner(", ".join(handle for handle, _ in ACCOUNTS), PASSWORD)
DEMO: web.AppKey[DemoBanner | None] = web.AppKey("demo_banner")  # None: not a demo


async def note_demo(app: web.Application) -> None:
    """On start-up: whether this deployment's pages show the banner."""
    app[DEMO] = BANNER if await asyncio.to_thread(is_demo_database, app[DEPLOYMENT]) else None


def banner(app: web.Application) -> DemoBanner | None:
    """The banner a page of ``app`` shows, if any (none before start-up, as in a test that never starts the app)."""
    return app.get(DEMO)
