"""Watching a settlement from outside: ``gateway settle`` as a process run in slices, and a probe of what it committed.

A batch settles in a millisecond or two, too fast to hit by polling a
running process; so the process is paused (SIGSTOP), let run a slice of its
own CPU time (SIGCONT), and between slices the committed state is read
through a read-only connection of the test's own. Nothing in the gateway is
patched: slicing only changes when the process runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from tests.crash.population import PERIOD


@dataclass(frozen=True)
class State:
    """How far the settlement of ``PERIOD`` got, as committed in the database."""

    period: str | None  # the period's status: None (not prepared), settling, closed
    pending: int  # settlements rows still to settle
    settleable: int  # rows prepare left to settle (amount above zero): pending + settled by batches
    charged: int  # demurrage transactions posted for the period
    due: int  # demurrage transactions the period's close posts (one per demurrage currency)
    backend: str | None = None  # PostgreSQL: what the settling sessions are doing, comma-separated (pg_stat_activity)

    @property
    def running(self) -> bool:
        """PostgreSQL: a statement of the process is running on the server (it may still commit)."""
        return self.backend is not None and "active" in self.backend.split(",")

    @property
    def in_transaction(self) -> bool:
        """PostgreSQL: a session of the process is inside a transaction, with work the kill rolls back."""
        return self.backend is not None and "idle in transaction" in self.backend.split(",")

    @property
    def point(self) -> str:
        if self.period is None:
            return "before prepare"
        if self.period == "closed":
            return "closed"
        if self.pending == self.settleable:
            return "after prepare"
        if self.pending:
            return "mid batches"
        if not self.charged:
            return "after batches"
        return "after demurrage" if self.charged == self.due else "mid demurrage"

    @property
    def settled(self) -> int:
        return self.settleable - self.pending


class Probe:
    """A read-only connection of its own, polling the settlement's progress.

    SQLite: opened ``mode=ro`` (WAL readers never wait for the writer).
    PostgreSQL: autocommit with ``default_transaction_read_only``; it also
    reads ``pg_stat_activity`` for the settling process's connection, which
    carries its own ``application_name``, on this run's database only (another
    run on the same server has its own database, and may have its own sessions).
    """

    def __init__(self, url: str, application_name: str, demurrage_keys: list[str]) -> None:
        self.url = url
        self.application_name = application_name
        self.unreadable = 0  # pauses at which the state could not be judged
        self.postgresql = url.startswith("postgresql")
        keys = ", ".join(f"'{key}'" for key in demurrage_keys)
        self.due = len(demurrage_keys)
        mark = "%s" if self.postgresql else "?"
        self.query = (
            f"SELECT (SELECT status FROM periods WHERE id = {mark}), "
            f"(SELECT count(*) FROM settlements WHERE period = {mark} AND status = 'pending'), "
            f"(SELECT count(*) FROM settlements WHERE period = {mark} AND amount > 0), "
            f"(SELECT count(*) FROM transactions WHERE idempotency_key IN ({keys}))"
        )
        self.params: tuple = (PERIOD, PERIOD, PERIOD)
        if self.postgresql:
            self.query += (
                ", (SELECT string_agg(state, ',' ORDER BY state) FROM pg_stat_activity"
                " WHERE datname = current_database() AND application_name = %s)"
            )
            self.params += (application_name,)
            conninfo = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            self.connection = psycopg.connect(conninfo, autocommit=True, options="-c default_transaction_read_only=on")
        else:
            self.path = Path(url.removeprefix("sqlite:///")).resolve()
            self.connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)

    def state(self) -> State | None:
        """The committed state; None when it cannot be read now.

        A SQLite reader needs the WAL index for a moment; if the settling
        process was paused in the middle of updating it, the read fails with
        "locking protocol" (or "locked"), and the process must run on first.
        """
        try:
            row = self.connection.execute(self.query, self.params).fetchone()
        except sqlite3.OperationalError as error:
            if "locking protocol" in str(error) or "locked" in str(error):
                return None
            raise
        return State(row[0], row[1], row[2], row[3], self.due, row[4] if self.postgresql else None)

    def settled_state(self, timeout: float = 5.0) -> State:
        """The state once no process writes any more (read again while SQLite's WAL index is mid-update)."""
        deadline = time.monotonic() + timeout
        while (state := self.state()) is None:
            if time.monotonic() > deadline:
                raise AssertionError("the settlement's state stayed unreadable")
            time.sleep(0.01)
        return state

    def connected(self, pid: int) -> bool:
        """Whether process ``pid`` has opened the database (a SQLite file descriptor, a PostgreSQL session)."""
        if self.postgresql:
            return (
                self.connection.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
                    (self.application_name,),
                ).fetchone()[0]
                > 0
            )
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except FileNotFoundError:
            return False
        for fd in fds:
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") == str(self.path):
                    return True
            except OSError:
                pass
        return False

    def wait_disconnected(self, timeout: float = 10.0) -> None:
        """PostgreSQL: until the server has ended a killed process's session (and rolled back its transaction)."""
        if not self.postgresql:
            return
        deadline = time.monotonic() + timeout
        while self.connection.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() AND application_name = %s",
            (self.application_name,),
        ).fetchone()[0]:
            if time.monotonic() > deadline:
                raise AssertionError(f"the session {self.application_name} outlived its process")
            time.sleep(0.002)

    def close(self) -> None:
        self.connection.close()


def gateway_command() -> list[str]:
    """``gateway``, the console script installed beside this Python (else ``python -m gateway.cli.main``)."""
    script = Path(sys.executable).with_name("gateway")
    return [str(script)] if script.exists() else [sys.executable, "-m", "gateway.cli.main"]


def with_application_name(url: str, name: str) -> str:
    if not url.startswith("postgresql"):
        return url
    return make_url(url).update_query_dict({"application_name": name}).render_as_string(hide_password=False)


class Process:
    """``gateway settle`` as a real process, which the test can pause (SIGSTOP), resume and kill (SIGKILL)."""

    def __init__(self, args: list[str], workdir: Path, name: str) -> None:
        self.out = workdir / f"{name}.out"
        self.err = workdir / f"{name}.err"
        with open(self.out, "wb") as out, open(self.err, "wb") as err:
            self.popen = subprocess.Popen([*gateway_command(), *args], stdout=out, stderr=err)
        self.pid = self.popen.pid
        self.started = time.monotonic()

    def status(self) -> str:
        """The kernel's one-letter state of the process: R, S, D, T (stopped), Z (exited, not reaped)..."""
        try:
            with open(f"/proc/{self.pid}/stat", "rb") as stat:
                data = stat.read()
        except FileNotFoundError:
            return "X"
        return chr(data[data.rindex(b")") + 2])

    def pause(self) -> None:
        """SIGSTOP, and wait until the kernel has stopped the process (all its threads)."""
        os.kill(self.pid, signal.SIGSTOP)
        deadline = time.monotonic() + 10
        while self.status() not in "TtZX":
            if time.monotonic() > deadline:
                raise AssertionError(f"process {self.pid} did not stop")

    def resume(self) -> None:
        os.kill(self.pid, signal.SIGCONT)

    def cpu_ns(self) -> int:
        """CPU time the process has had, all its threads together, in nanoseconds (Linux's CPU clock of a process).

        ``/proc/<pid>/schedstat`` lags a running task by up to a scheduler
        tick; the clock is exact: reading it brings the running time up to date.
        """
        try:
            return time.clock_gettime_ns(((~self.pid) << 3) | 2)  # MAKE_PROCESS_CPUCLOCK(pid, CPUCLOCK_SCHED)
        except OSError:  # ended
            return 1 << 62

    def run_for(self, quantum_ns: int, cap: float) -> None:
        """Let the paused process run for ``quantum_ns`` of CPU time (or ``cap`` seconds), and pause it again.

        The test sleeps in short naps meanwhile rather than spinning: a
        sleeper that wakes up takes the CPU back from the process at once,
        where a spinner sharing its CPU would wait for the next tick.
        """
        start, until = self.cpu_ns(), time.perf_counter() + cap
        self.resume()
        while self.cpu_ns() - start < quantum_ns and time.perf_counter() < until:
            time.sleep(0.00002)
        self.pause()

    def lower_priority(self) -> None:
        """Nice 19 for all the process's threads (and those it starts later): a waking test always preempts it."""
        for task in os.listdir(f"/proc/{self.pid}/task"):
            with contextlib.suppress(OSError):
                os.setpriority(os.PRIO_PROCESS, int(task), 19)

    def exited(self) -> bool:
        return self.status() in "ZX"

    def kill(self) -> int:
        self.popen.send_signal(signal.SIGKILL)
        return self.popen.wait(timeout=30)

    def wait(self, timeout: float = 120) -> int:
        return self.popen.wait(timeout=timeout)

    def output(self) -> tuple[str, str]:
        return self.out.read_text(), self.err.read_text()


FAR = (500_000, 0.005)  # a slice far from the wanted state: 0.5 ms of the process's CPU time, 5 ms at most
NEAR = (30_000, 0.001)  # near it: 30 us of CPU time, 1 ms at most (a process waiting for its database uses none)


def step_until(process: Process, probe: Probe, wanted, near=lambda state: True, timeout: float = 60) -> State | None:
    """Run ``process`` slice by slice; after each slice, pause it and read the committed state.

    A slice ends when the process has had its CPU time's worth: ``FAR``,
    then ``NEAR`` from the first state ``near`` accepts on (``near`` must
    stay true once true), where the process also drops to nice 19: on a
    busy machine the test, waking up, must get the CPU back from it at once.
    Returns the first state ``wanted`` accepts, with the process left paused
    there; None if the process ended first. On PostgreSQL a state is only
    judged while no statement of the process runs on the server (a COMMIT
    in flight could still land after the pause).
    """
    deadline = time.monotonic() + timeout
    quantum, cap = FAR
    while time.monotonic() < deadline:
        process.run_for(quantum, cap)
        if process.exited():
            return None
        state = read_paused(process, probe)
        if state is None or state.running:
            probe.unreadable += 1
            continue
        if wanted(state):
            return state
        if (quantum, cap) == FAR and near(state):
            quantum, cap = NEAR
            process.lower_priority()
    raise AssertionError(f"no wanted state within {timeout} s")


def read_paused(process: Process, probe: Probe, patience: float = 0.005) -> State | None:
    """The committed state while ``process`` is paused; None if it could not be read with the process paused.

    A SQLite reader waits (up to some ten seconds, then fails with "locking
    protocol") while a writer is in the middle of updating the WAL index;
    a writer paused there never finishes. So if a read takes longer than
    ``patience``, the process is resumed to finish that update, and paused
    again once the read is over; what was read then is not the paused state.
    """
    if probe.postgresql:
        return probe.state()
    resumed = threading.Event()

    def resume() -> None:
        resumed.set()
        process.resume()

    timer = threading.Timer(patience, resume)
    timer.start()
    try:
        state = probe.state()
    finally:
        timer.cancel()
        timer.join()  # a resume under way has happened before the pause below
    if resumed.is_set():
        process.pause()
        return None
    return state


def wait_connected(process: Process, probe: Probe, timeout: float = 60) -> None:
    """Let ``process`` run freely (it imports the gateway) until it opens the database."""
    deadline = time.monotonic() + timeout
    while not probe.connected(process.pid):
        if process.exited():
            raise AssertionError(f"gateway settle ended before it opened the database: {process.output()}")
        if time.monotonic() > deadline:
            raise AssertionError("gateway settle did not open the database")
        time.sleep(0.0002)
