"""The mail worker of ``gateway serve``: started with the application, stopped after the mail in hand at shutdown.

Requests only queue mail (``usecases/mail_queue.py``); this thread sends it.
Each process of ``serve --processes N`` runs its own, and their claims keep
every mail sent once at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

from aiohttp import web

from gateway.http.keys import DEPLOYMENT
from gateway.usecases.mail_worker import MailWorker

MAIL_WORKER = web.AppKey("mail_worker", MailWorker)


async def mail_worker(app: web.Application) -> AsyncIterator[None]:
    """A cleanup context: the worker runs from the application's start to its cleanup.

    Stopped on a thread of its own: the loop's default executor may be
    another's, already shut down (tests run two applications on one loop).
    """
    worker = MailWorker(app[DEPLOYMENT])
    app[MAIL_WORKER] = worker
    worker.start()
    try:
        yield
    finally:
        with ThreadPoolExecutor(1, thread_name_prefix="mail-close") as waiter:
            await asyncio.get_running_loop().run_in_executor(waiter, worker.stop)
