"""Serving the API: one process, or several sharing one listening socket.

Python runs one request's code at a time per process, so a machine with
several cores serves more with several processes. The socket is bound once,
before the processes fork, and each accepts from it; each process opens its
own database connections after the fork, never sharing the parent's.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Callable
from functools import partial
from types import FrameType

from aiohttp import web

from gateway import logs
from gateway.config import Settings
from gateway.deployment import Deployment, open_deployment
from gateway.http.app import create_app
from gateway.http.keys import DEPLOYMENT
from gateway.http.metrics import exporter_app, process_ended, shared_between_processes
from gateway.http.runner import GatewayRunner

log = logging.getLogger("gateway.http")


def serve(settings: Settings, host: str, port: int, processes: int = 1, announce: Callable[[int], None] | None = None) -> None:
    """Serve until interrupted (SIGINT or SIGTERM).

    With ``http.metrics_port`` set, every process also answers ``/metrics``
    on that port of ``host``, without a token; with several processes, each
    scrape reads the values of all of them (``gateway.http.metrics``).
    ``announce`` is told the port once it is bound, before any request is
    answered (``gateway demo`` prints the address to open).
    """
    listening = _bind(host, port)
    metrics_port = settings.http.metrics_port
    exporter = _bind(host, metrics_port) if metrics_port is not None else None
    print(f"serving the API on http://{host}:{listening.getsockname()[1]}/api/v1 with {processes} process(es)", flush=True)
    if exporter is not None:
        print(f"serving the metrics on http://{host}:{exporter.getsockname()[1]}/metrics, without a token", flush=True)
    if announce is not None:
        announce(listening.getsockname()[1])
    open_one = partial(open_deployment, settings)  # each process opens its own connections, after the fork
    if processes == 1:
        _run(open_one, listening, exporter)
        return
    with shared_between_processes() as directory:
        children = [_fork(open_one, listening, exporter) for _ in range(processes)]
        listening.close()
        if exporter is not None:
            exporter.close()
        _wait_for(children, directory)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((host, port))
    listening.listen(1024)
    return listening


def with_metrics_port(app: web.Application, exporter: socket.socket) -> None:
    """While ``app`` runs, answer ``/metrics`` to anyone on ``exporter`` (``http.metrics_port``), in the same event loop."""

    async def exporting(app: web.Application) -> AsyncIterator[None]:
        runner = GatewayRunner(exporter_app(app[DEPLOYMENT]))
        await runner.setup()
        await web.SockSite(runner, exporter).start()
        yield
        await runner.cleanup()

    app.cleanup_ctx.append(exporting)


def _run(open_deployment: Callable[[], Deployment], listening: socket.socket, exporter: socket.socket | None) -> None:
    deployment = open_deployment()
    try:
        app = create_app(deployment)
        if exporter is not None:
            with_metrics_port(app, exporter)
        asyncio.run(_serve(app, listening))
    finally:
        deployment.close()


async def _serve(app: web.Application, listening: socket.socket) -> None:
    """Serve ``app`` on ``listening`` until SIGINT or SIGTERM, then stop gracefully (as ``web.run_app`` did, on our runner)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    runner = GatewayRunner(app)
    await runner.setup()
    try:
        await web.SockSite(runner, listening).start()
        await stop.wait()
    finally:
        await runner.cleanup()


def _fork(open_deployment: Callable[[], Deployment], listening: socket.socket, exporter: socket.socket | None) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        logs.configure(logging.getLogger().level)  # as the parent is, with handlers of its own rather than copies
        _run(open_deployment, listening, exporter)
    except BaseException:  # a child must never return into the parent's code
        log.exception("a worker stopped")
        code = 1
    finally:
        os._exit(code)


def _wait_for(children: list[int], metrics_directory: str) -> None:
    """Pass SIGINT and SIGTERM on to the workers, and return when they have all stopped.

    A worker that stops, whenever it does, is reaped at once and its live
    gauges dropped, so that a scrape no longer shows it as serving.
    """
    remaining = set(children)

    def forward(signum: int, _frame: FrameType | None) -> None:
        for pid in list(remaining):  # only those not reaped: a reaped one's pid may be another process's by now
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    while remaining:
        try:
            pid, _ = os.wait()
        except ChildProcessError:  # none left to wait for
            return
        if pid in remaining:
            remaining.discard(pid)
            process_ended(pid, metrics_directory)
