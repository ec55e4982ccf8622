"""Serving the API: one process, or several sharing one listening socket.

Python runs one request's code at a time per process, so a machine with
several cores serves more with several processes. The socket is bound once,
before the processes fork, and each accepts from it; each process opens its
own database connections after the fork, never sharing the parent's.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
from collections.abc import Callable
from types import FrameType

from aiohttp import web

from gateway.deployment import Deployment
from gateway.http.app import create_app


def serve(open_deployment: Callable[[], Deployment], host: str, port: int, processes: int = 1) -> None:
    """Serve until interrupted (SIGINT or SIGTERM)."""
    listening = _bind(host, port)
    print(f"serving the API on http://{host}:{listening.getsockname()[1]}/api/v1 with {processes} process(es)", flush=True)
    if processes == 1:
        _run(open_deployment, listening)
        return
    children = [_fork(open_deployment, listening) for _ in range(processes)]
    listening.close()
    _wait_for(children)


def _bind(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    listening = socket.socket(family, socket.SOCK_STREAM)
    listening.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listening.bind((host, port))
    listening.listen(1024)
    return listening


def _run(open_deployment: Callable[[], Deployment], listening: socket.socket) -> None:
    deployment = open_deployment()
    try:
        web.run_app(create_app(deployment), sock=listening, print=None, access_log=None)
    finally:
        deployment.close()


def _fork(open_deployment: Callable[[], Deployment], listening: socket.socket) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 0
    try:
        _run(open_deployment, listening)
    except BaseException as error:  # a child must never return into the parent's code
        print(f"gateway serve: a worker stopped: {error}", file=sys.stderr, flush=True)
        code = 1
    finally:
        os._exit(code)


def _wait_for(children: list[int]) -> None:
    """Pass SIGINT and SIGTERM on to the workers, and return when they have all stopped."""

    def forward(signum: int, _frame: FrameType | None) -> None:
        for pid in children:
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for pid in children:
        os.waitpid(pid, 0)
