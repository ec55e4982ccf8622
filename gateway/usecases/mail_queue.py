"""The mail queue: mail is written in the transaction that causes it, and sent after, by a worker.

A request never sends mail. It writes a row (``enqueue``) in its own
transaction, so that a mail exists exactly when what caused it committed,
and rings this process's bell after the commit (``wake``). A worker
(``mail_worker.MailWorker`` in ``gateway serve``, or ``gateway mail send``
from cron) then sends what is due, one mail at a time:

1. **claim** it in a short transaction: status ``sending``, its try counted,
   and its ``due_at`` moved to the end of a lease (``LEASE``). Two workers never
   claim one row at once: on PostgreSQL the claim skips rows another claim
   holds (``FOR UPDATE SKIP LOCKED``); SQLite has one writer at a time.
2. **send** it outside any transaction;
3. **mark** it ``sent`` (and erase its body, which may carry a link's secret).

A worker killed between 2 and 3 leaves the row ``sending``; once its lease
runs out it is due again and sent a second time. That second time is
harmless: the message is made from the row alone (``gateway.mail``), with the
same Message-ID, and the outbox writes it over the first's file.

A send that fails (an ``OSError``, smtplib's errors included; any other
error of the mailer too, logged with its traceback) is tried again
after 1, 2, 4, 8… minutes (``backoff``); after ``MAX_TRIES`` tries the mail is
marked ``failed`` with the last error, and the person can ask again.

A mail that carries a link (to verify an address, to reset a password) is
worth nothing once the link has expired, and retries last longer than a
reset link: such a mail says when it becomes useless (``useless_after``), and
is given up (``failed``, with ``LINK_EXPIRED`` as its error) rather than sent
once that time has come, or when its next try would come after it.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, func, select, update

from gateway.deployment import Deployment
from gateway.mail import Mailer, Outgoing, mailer_for
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import mail_queue

log = logging.getLogger("gateway.mail")
QUEUED, SENDING, SENT, FAILED = "queued", "sending", "sent", "failed"
STATUSES = (QUEUED, SENDING, SENT, FAILED)
LEASE = timedelta(minutes=5)  # how long a claimed mail is another worker's before it is due again
MAX_TRIES = 8  # tries before a mail is given up
SUBJECT_MAX = 200
ERROR_MAX = 500
STOPPED_WHILE_SENDING = "the worker stopped while sending it (its lease ran out)"
LINK_EXPIRED = "not sent: its link expires before it could be sent; the person can ask for a new one"


def backoff(tries: int) -> timedelta:
    """How long after its ``tries``-th failed try a mail is tried again: 1, 2, 4, 8… minutes."""
    return timedelta(minutes=2 ** (tries - 1))


def enqueue(
    connection: Connection,
    deployment: Deployment,
    kind: str,
    to: str,
    subject: str,
    body: str,
    useless_after: datetime | None = None,
) -> int:
    """Queue a mail in the caller's transaction: it exists if, and once, that transaction commits.

    The caller calls ``wake`` after its commit, so that this process's worker
    sends it at once rather than at its next look. A mail with a link gives
    the link's expiry as ``useless_after``: it is never sent after it.
    """
    now = deployment.clock.now()
    return insert_row(
        connection,
        mail_queue,
        kind=kind,
        to_address=to,
        subject=subject[:SUBJECT_MAX],
        body=body,
        status=QUEUED,
        due_at=now,
        created_at=now,
        useless_after=useless_after,
    )


def queued_since(connection: Connection, kind: str, to: str, since: datetime) -> bool:
    """Whether a mail of ``kind`` to ``to`` was queued after ``since`` (to send one such mail a while, not one a request)."""
    found = connection.execute(
        select(mail_queue.c.id)
        .where(mail_queue.c.to_address == to, mail_queue.c.kind == kind, mail_queue.c.created_at > since)
        .limit(1)
    ).first()
    return found is not None


# -- the bell: this process's workers wake when a commit here queued mail ------------------------

_bells: dict[str, set[threading.Event]] = {}
_bells_guard = threading.Lock()


def _database(deployment: Deployment) -> str:
    return deployment.engine.url.render_as_string(hide_password=False)


def listen(deployment: Deployment) -> threading.Event:
    """A bell that ``wake`` rings for mail queued in this process on this deployment's database; ``unlisten`` it after."""
    bell = threading.Event()
    with _bells_guard:
        _bells.setdefault(_database(deployment), set()).add(bell)
    return bell


def unlisten(deployment: Deployment, bell: threading.Event) -> None:
    with _bells_guard:
        _bells.get(_database(deployment), set()).discard(bell)


def wake(deployment: Deployment) -> None:
    """Tell this process's workers that mail may be due: call it after the commit that queued it."""
    with _bells_guard:
        bells = list(_bells.get(_database(deployment), ()))
    for bell in bells:
        bell.set()


# -- sending -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Claimed:
    """A mail this worker holds, which try of it this is, and when it becomes useless (its link's expiry)."""

    mail: Outgoing
    attempt: int
    useless_after: datetime | None = None


@dataclass(frozen=True)
class Delivery:
    """What one run of ``deliver_due`` did."""

    sent: int = 0
    retrying: int = 0  # failed this time, to be tried again later
    failed: int = 0  # given up


def claim(deployment: Deployment) -> Claimed | None:
    """The next due mail, claimed for one try (see the module's doc); None when nothing is due.

    A row whose lease ran out on its last try is given up here rather than
    claimed: it may have been sent, and nobody knows. So is a row whose link
    has expired: sent now, it would only bring a dead link.
    """

    def work(connection: Connection) -> Claimed | None:
        now = deployment.clock.now()
        while True:
            row = connection.execute(
                select(mail_queue)
                .where(mail_queue.c.status.in_((QUEUED, SENDING)), mail_queue.c.due_at <= now)
                .order_by(mail_queue.c.due_at, mail_queue.c.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            ).first()
            if row is None:
                return None
            if row.useless_after is not None and row.useless_after <= now:
                _give_up(connection, row.id, LINK_EXPIRED)
                continue
            if row.attempts >= MAX_TRIES:
                _give_up(connection, row.id, row.last_error if row.status == QUEUED else STOPPED_WHILE_SENDING)
                continue
            attempt = row.attempts + 1
            connection.execute(
                update(mail_queue)
                .where(mail_queue.c.id == row.id)
                .values(status=SENDING, attempts=attempt, claimed_at=now, due_at=now + LEASE)
            )
            return Claimed(_outgoing(row), attempt, row.useless_after)

    return run_in_transaction(deployment.engine, work)


def _outgoing(row: Row[Any]) -> Outgoing:
    return Outgoing(id=row.id, to=row.to_address, subject=row.subject, body=row.body or "", created_at=row.created_at)


def mark_sent(deployment: Deployment, mail_id: int) -> None:
    """The mail went out: whichever try did it, it is sent, and its body (a link's secret, maybe) is erased."""
    now = deployment.clock.now()
    run_in_transaction(
        deployment.engine,
        lambda c: c.execute(
            update(mail_queue)
            .where(mail_queue.c.id == mail_id, mail_queue.c.status != SENT)
            .values(status=SENT, sent_at=now, body=None, last_error=None)
        ),
    )


def mark_failed(deployment: Deployment, claimed: Claimed, error: BaseException) -> bool:
    """Record a failed try: due again after ``backoff``, or given up; True if given up.

    Given up after ``MAX_TRIES``, or when the next try would come once the
    mail's link has expired (``LINK_EXPIRED``, the try's own error after it).
    Only the try's own claim is changed: a row another worker took since
    (this try outlived its lease) or marked sent is left alone.
    """
    why = describe(deployment, error)
    now = deployment.clock.now()
    retry_at = now + backoff(claimed.attempt)
    dead = claimed.useless_after is not None and retry_at >= claimed.useless_after
    given_up = dead or claimed.attempt >= MAX_TRIES
    mine = and_(mail_queue.c.id == claimed.mail.id, mail_queue.c.status == SENDING, mail_queue.c.attempts == claimed.attempt)

    def work(connection: Connection) -> None:
        if given_up:
            _give_up(connection, claimed.mail.id, f"{LINK_EXPIRED}; the last try: {why}" if dead else why, mine)
        else:
            connection.execute(update(mail_queue).where(mine).values(status=QUEUED, due_at=retry_at, last_error=why))

    run_in_transaction(deployment.engine, work)
    return given_up


def _give_up(connection: Connection, mail_id: int, why: str | None, *where: Any) -> None:
    connection.execute(
        update(mail_queue)
        .where(mail_queue.c.id == mail_id, *where)
        .values(status=FAILED, body=None, last_error=(why or "gave up")[:ERROR_MAX])
    )


def describe(deployment: Deployment, error: BaseException) -> str:
    """The error as the operator reads it: its kind and words, never the SMTP password."""
    text = f"{type(error).__name__}: {error}"
    secret = deployment.settings.mail.smtp_password
    if secret:
        text = text.replace(secret, "***")
    return text[:ERROR_MAX]


def send_one(deployment: Deployment, mailer: Mailer) -> str | None:
    """Claim, send and mark one due mail; what became of it (``SENT``, ``QUEUED`` to retry, ``FAILED``), None if none was due.

    An error of the mailer is a failed try; the process stopping (a
    ``BaseException``) leaves the claim to run out, and the mail is sent again
    after the lease.
    """
    claimed = claim(deployment)
    if claimed is None:
        return None
    try:
        mailer.send(claimed.mail)
    except Exception as error:
        if isinstance(error, OSError):  # the network or the disk; smtplib's errors are OSErrors too
            log.warning("could not send mail #%d (try %d): %s", claimed.mail.id, claimed.attempt, describe(deployment, error))
        else:
            log.exception("could not send mail #%d (try %d)", claimed.mail.id, claimed.attempt)
        return FAILED if mark_failed(deployment, claimed, error) else QUEUED
    mark_sent(deployment, claimed.mail.id)
    return SENT


def deliver_due(deployment: Deployment, mailer: Mailer | None = None, stop: threading.Event | None = None) -> Delivery:
    """Send every mail that is due, one after the other, until none is or ``stop`` is set (after the mail in hand)."""
    mailer = mailer or mailer_for(deployment.settings)
    counts = {SENT: 0, QUEUED: 0, FAILED: 0}
    while stop is None or not stop.is_set():
        outcome = send_one(deployment, mailer)
        if outcome is None:
            break
        counts[outcome] += 1
    return Delivery(sent=counts[SENT], retrying=counts[QUEUED], failed=counts[FAILED])


def queue_counts(deployment: Deployment) -> dict[str, int]:
    """How many mails are in each status (every status named, zero or not)."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(select(mail_queue.c.status, func.count()).group_by(mail_queue.c.status)).all()
    return {status: 0 for status in STATUSES} | {status: count for status, count in rows}
