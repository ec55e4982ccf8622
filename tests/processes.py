"""Real processes for the tests: ``gateway`` commands and ``gateway serve``, on 127.0.0.1, running this checkout's code.

Each child gets this checkout first on ``PYTHONPATH``, so it runs the code under
test whatever an installed package holds; every wait is for a condition, with
a deadline.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEADLINE = 60.0  # seconds any wait here lasts at most


def child_env(*paths: Path) -> dict[str, str]:
    """The environment of a child process: this checkout, then ``paths``, first on its path."""
    extra = [str(ROOT), *map(str, paths)]
    inherited = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": os.pathsep.join(extra + ([inherited] if inherited else []))}


def gateway(*args: str, cwd: Path, paths: tuple[Path, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway.cli.main", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
        env=child_env(*paths),
    )


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(condition, what: str, seconds: float = DEADLINE) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {seconds} s"
        time.sleep(0.02)


class Server:
    """``gateway serve`` as a real process on a port of 127.0.0.1, its output kept in files."""

    def __init__(self, tmp_path: Path, config_path: Path, name: str, paths: tuple[Path, ...] = ()) -> None:
        self.port = free_port()
        self.log = (tmp_path / f"{name}.out").open("w"), (tmp_path / f"{name}.err").open("w")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gateway.cli.main", "--config", str(config_path), "serve", "--port", str(self.port)],
            cwd=tmp_path,
            stdout=self.log[0],
            stderr=self.log[1],
            env=child_env(*paths),
        )
        self.name, self.tmp_path = name, tmp_path
        wait_until(self.ready, f"{name} answers /readyz")

    def ready(self) -> bool:
        assert self.process.poll() is None, f"{self.name} stopped: {self.errors()}"
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/readyz", timeout=2) as answer:
                return answer.status == 200
        except OSError:
            return False

    def errors(self) -> str:
        return (self.tmp_path / f"{self.name}.err").read_text()

    def post(self, path: str, body: dict) -> tuple[int, dict]:
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/api/v1{path}",
            data=json.dumps(body).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=30) as answer:
            return answer.status, json.load(answer)

    def close(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=30)
        for file in self.log:
            file.close()
