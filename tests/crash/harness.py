"""The whole harness: one seeded database, settled again and again by ``gateway`` processes, and killed where asked.

It ties the other modules together (the population seeded and snapshotted,
its deployment file written, a probe on each run), so that the crash test
reads as its kill points and its checks: start ``gateway settle``, kill it at
a committed state or a moment, read what it left, run ``gateway`` again.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

from gateway.core import keys
from tests.crash.population import CURRENCIES, PERIOD, seed, write_config
from tests.crash.snapshot import Snapshot
from tests.crash.watch import Probe, Process, State, step_until, wait_connected, with_application_name


@dataclass
class Outcome:
    returncode: int
    stdout: str
    stderr: str
    seconds: float


class Harness:
    """A seeded database, its snapshot and deployment file, and ``gateway`` runs against it."""

    def __init__(self, url: str, workdir: Path, funders: int, batch: int) -> None:
        self.url = url
        self.workdir = workdir
        self.runs = 0
        started = time.monotonic()
        self.population = seed(url, funders, str(workdir / "outbox"))
        self.seed_seconds = time.monotonic() - started
        self.snapshot = Snapshot(url, workdir)
        self.config = write_config(workdir / "deployment.toml", url, batch, str(workdir / "outbox"))
        self.demurrage_keys = [keys.demurrage(PERIOD, code) for code, spec in CURRENCIES.items() if spec["kind"] == "demurrage"]

    def _name(self) -> str:
        self.runs += 1
        return f"crash-settle-{os.getpid()}-{self.runs}"

    def gateway(self, *args: str, config: Path | None = None) -> Outcome:
        """A ``gateway`` command on the database, run to its end."""
        name = self._name()
        process = Process(
            ["--config", str(config or self.config), "--database-url", with_application_name(self.url, name), *args],
            self.workdir,
            name,
        )
        returncode = process.wait()
        return Outcome(returncode, *process.output(), time.monotonic() - process.started)

    def settle(self, batch: int | None = None) -> Outcome:
        """``gateway settle`` to its end; with ``batch``, under a deployment file that differs in ``settle_batch`` only."""
        config = None
        if batch is not None:
            config = write_config(self.workdir / f"deployment-{batch}.toml", self.url, batch, str(self.workdir / "outbox"))
        return self.gateway("settle", "--period", PERIOD, config=config)

    def start_settle(self) -> tuple[Process, Probe]:
        """``gateway settle`` started, running freely until it has opened the database, with a probe on it."""
        name = self._name()
        probe = Probe(self.url, name, self.demurrage_keys)
        process = Process(
            ["--config", str(self.config), "--database-url", with_application_name(self.url, name), "settle", "--period", PERIOD],
            self.workdir,
            name,
        )
        try:
            wait_connected(process, probe)
        except BaseException:
            process.kill()
            probe.close()
            raise
        return process, probe

    def kill_when(self, wanted, near=lambda state: True) -> tuple[State | None, State, int]:
        """Start ``gateway settle`` and kill it (SIGKILL) at the first pause where ``wanted`` holds.

        Returns the state seen at that pause (None: the process ended first),
        the state it left once dead, and its exit status.
        """
        process, probe = self.start_settle()
        seen = None
        try:
            seen = step_until(process, probe, wanted, near)
        finally:
            left, returncode = _kill_and_read(process, probe)
        return seen, left, returncode

    def kill_after(self, seconds: float) -> tuple[State, int]:
        """Start ``gateway settle`` and kill it ``seconds`` after it opened the database; the state it left."""
        process, probe = self.start_settle()
        try:
            time.sleep(seconds)
        finally:
            left, returncode = _kill_and_read(process, probe)
        return left, returncode

    def state(self) -> State:
        probe = Probe(self.url, "crash-probe", self.demurrage_keys)
        try:
            return probe.settled_state()
        finally:
            probe.close()


def _kill_and_read(process, probe) -> tuple[State, int]:
    """SIGKILL the settle process, then read what it left once its connections are gone."""
    returncode = process.kill()
    try:
        probe.wait_disconnected()
        return probe.settled_state(), returncode
    finally:
        probe.close()
