"""The mail worker: a thread that sends the queue's mail (``mail_queue``), one per ``gateway serve`` process.

It sends what is due when it starts, when a commit in this process queued
mail (``mail_queue.wake``), and every ``POLL`` seconds for the rest: mail
queued by another process, tries due again after a failure or a lease. Several
processes each run one; their claims keep every mail sent once at a time.
"""

from __future__ import annotations

import logging
import threading

from gateway.deployment import Deployment
from gateway.mail import Mailer
from gateway.usecases import mail_queue

log = logging.getLogger("gateway.mail")
POLL = 5.0  # seconds between looks when nobody rings
SHUTDOWN_WAIT = 60.0  # seconds ``stop`` waits for the mail in hand (an SMTP try may take 30 s to time out)


class MailWorker:
    """This process's mail thread: ``start`` it, and ``stop`` it at shutdown."""

    def __init__(self, deployment: Deployment, mailer: Mailer | None = None, poll: float = POLL) -> None:
        """``mailer`` is the deployment's (``gateway.mail.mailer_for``) unless given."""
        self.deployment = deployment
        self.mailer = mailer
        self.poll = poll
        self._stop = threading.Event()
        self._bell: threading.Event | None = None
        self._thread: threading.Thread | None = None
        self.looks = 0  # looks at the queue finished: a sign of life for whoever watches the worker

    def start(self) -> None:
        """Start the thread (once); it listens for the bell before its first look, so no ring is missed."""
        if self._thread is not None:
            return
        self._bell = mail_queue.listen(self.deployment)
        self._thread = threading.Thread(target=self._run, args=(self._bell,), name="mail-worker", daemon=True)
        self._thread.start()

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def _run(self, bell: threading.Event) -> None:
        failing = False
        try:
            while not self._stop.is_set():
                bell.clear()  # before the look: a ring during it makes the next wait return at once
                try:
                    mail_queue.deliver_due(self.deployment, self.mailer, stop=self._stop)
                    failing = False
                except Exception:  # the database, most likely: log it once, and look again later
                    if not failing:
                        log.exception("the mail worker could not send; it tries again every %.0f s", self.poll)
                    failing = True
                self.looks += 1
                bell.wait(self.poll)
        finally:
            mail_queue.unlisten(self.deployment, bell)

    def stop(self, timeout: float = SHUTDOWN_WAIT) -> None:
        """Stop after the mail in hand, waiting up to ``timeout`` seconds (idempotent).

        A thread still sending then is left to end with the process (a daemon
        thread): its mail stays claimed until the lease runs out, and is sent
        again after.
        """
        self._stop.set()
        if self._bell is not None:
            self._bell.set()
        thread = self._thread
        if thread is None or not thread.is_alive():
            return
        thread.join(timeout)
        if thread.is_alive():
            log.warning("the mail worker did not stop within %.0f s; it is left to end with the process", timeout)
