"""A settlement in a thread of its own, one at a time per process: what the API's settle route starts.

Settling a million budgets takes longer than an HTTP client waits, so the
route starts it here and answers at once; the operator polls its progress.
The thread is none of those that serve requests, and it never pauses
garbage collection (``settle``'s ``pause_gc``): that would pause it for the
whole process. Two processes may each start one; the batches' claims keep
every budget settled once (``batch._pending``).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from functools import partial

from gateway.core.periods import Period
from gateway.core.states import PeriodStatus
from gateway.deployment import Deployment
from gateway.errors import Conflict, GatewayError
from gateway.usecases.settlement.run import settle

log = logging.getLogger("gateway.usecases.settlement")
SHUTDOWN_WAIT = 30.0  # seconds ``close`` waits for the batch in flight
Progress = Callable[[str, int, int], None]  # (period id, settled so far by this run, to settle in all by it)


class BackgroundSettlement:
    """This process's settlement thread, and why its last run of a period failed, if it did."""

    def __init__(self, deployment: Deployment, progress: Progress | None = None) -> None:
        """``progress`` hears each run's progress as its batches commit, from the thread that committed each (the metrics)."""
        self.deployment = deployment
        self._progress = progress
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._period: str | None = None  # the period the thread settles: set by start, cleared by the thread as it ends
        self._errors: dict[str, str] = {}  # period id -> why the last run stopped
        self._stop = threading.Event()

    def start(self, period: Period) -> None:
        """Settle ``period`` in the thread, unless it settles there already.

        A Conflict if the thread settles another period: periods settle one
        after the other anyway, and two at once would share the database's
        time for nothing.
        """
        with self._lock:
            running = self._running()
            if running == period.id:
                return
            if running is not None:
                raise Conflict(f"the period {running} is settling in this process: wait until it is closed")
            self._errors.pop(period.id, None)
            self._period = period.id
            self._stop = threading.Event()  # a run's own: one stopped by close never stops the next
            self._thread = threading.Thread(target=self._run, args=(period,), name=f"settle-{period.id}", daemon=True)
            self._thread.start()

    def state(self, period_id: str) -> tuple[bool, str | None]:
        """Whether the thread settles ``period_id`` now, and else why its last run of it failed (None: it did not).

        Read this before the period's progress in the database: whatever a
        run that has ended committed is then in what the database says.
        """
        with self._lock:
            running = self._running() == period_id
            return running, None if running else self._errors.get(period_id)

    def _running(self) -> str | None:
        return self._period

    def _run(self, period: Period) -> None:
        try:
            try:
                progress = partial(self._progress, period.id) if self._progress else None
                report = settle(self.deployment, period, progress, stop=self._stop)
            except Exception as error:  # the thread's end: nobody else would see it
                log.exception("settling %s failed; the next run resumes it", period.id)
                why = f"{error.code}: {error}" if isinstance(error, GatewayError) else "internal error: see the server's log"
                with self._lock:
                    self._errors[period.id] = why
                return
            # Logged while the run still counts as running: whoever sees it idle finds its last word in the log.
            if report.status == PeriodStatus.CLOSED:
                log.info("settled %s", period.id)
            else:
                log.warning("settling %s stopped at shutdown; the next run resumes it", period.id)
        finally:
            with self._lock:  # from here, a start begins a new run: this one has nothing left to do
                self._period = None

    def close(self, timeout: float = SHUTDOWN_WAIT) -> None:
        """Stop once the batch in flight commits, and wait for that up to ``timeout`` seconds.

        A thread still busy then (``prepare`` or the close, which do not stop
        halfway) is left to end with the process: it is a daemon thread, its
        open transaction rolls back, and the next run resumes the settlement.
        """
        self._stop.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        thread.join(timeout)
        if thread.is_alive():
            log.warning("settling %s did not stop within %.0f s; it is left to end with the process", self._period, timeout)
