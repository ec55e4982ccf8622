"""The mail queue: sent after the commit, once per mail id, again after a crash, retried with backoff; the worker thread."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
import time
from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import insert, select, text

from gateway.mail import OutboxMailer, Outgoing, outbox_name
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import credentials, email_tokens, mail_queue
from gateway.usecases.identity.passwords import request_password_reset
from gateway.usecases.identity.profile import update_profile
from gateway.usecases.identity.signup import sign_up
from gateway.usecases.mail_queue import (
    FAILED,
    LEASE,
    MAX_TRIES,
    SENDING,
    SENT,
    STOPPED_WHILE_SENDING,
    Delivery,
    claim,
    deliver_due,
    describe,
    enqueue,
    mark_failed,
    mark_sent,
    queue_counts,
    wake,
)
from gateway.usecases.mail_worker import MailWorker
from gateway.usecases.participants import register_participant
from tests.support import config, impatient_engine, make

PASSWORD = "correct horse battery"
DEADLINE = 30.0  # seconds a test waits for the worker thread, at most


def queue(deployment, *addresses: str) -> list[int]:
    """Mail to each address, queued in one transaction as a use case does (no bell rung)."""
    return run_in_transaction(
        deployment.engine,
        lambda c: [enqueue(c, deployment, "test", to, f"hello {to}", f"a letter for {to}\n") for to in addresses],
    )


def rows(deployment) -> dict[int, object]:
    with reading(deployment.engine) as connection:
        return {row.id: row for row in connection.execute(select(mail_queue).order_by(mail_queue.c.id))}


def later(deployment, **delta) -> None:
    deployment.clock.set(deployment.clock.now() + timedelta(**delta))


def files(outbox) -> list[str]:
    return sorted(path.name for path in outbox.iterdir()) if outbox.exists() else []


def read(path) -> email.message.EmailMessage:
    return email.message_from_bytes(path.read_bytes(), policy=email.policy.default)


def wait_until(condition, what: str) -> None:
    """Return once ``condition()`` holds; fail after ``DEADLINE`` seconds (an event awaited, not a length of time)."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        assert time.monotonic() < deadline, f"{what}: not after {DEADLINE} s"
        time.sleep(0.01)


class CrashAfterSend:
    """A mailer whose process dies right after the mail went out, before the queue hears of it."""

    def __init__(self, mailer: OutboxMailer) -> None:
        self.mailer = mailer

    def send(self, mail: Outgoing) -> None:
        self.mailer.send(mail)
        raise SystemExit("killed between the send and the mark")


class Recording:
    """The outbox, and a record of every send it was asked for (from any thread)."""

    def __init__(self, mailer: OutboxMailer) -> None:
        self.mailer = mailer
        self.sent: list[int] = []
        self._lock = threading.Lock()

    def send(self, mail: Outgoing) -> None:
        self.mailer.send(mail)
        with self._lock:
            self.sent.append(mail.id)


class Held:
    """The outbox, holding each send until the test lets it go."""

    def __init__(self, mailer: OutboxMailer) -> None:
        self.mailer = mailer
        self.entered = threading.Event()
        self.release = threading.Event()

    def send(self, mail: Outgoing) -> None:
        self.entered.set()
        assert self.release.wait(DEADLINE), "the test never let the send go"
        self.mailer.send(mail)


# -- the queue ---------------------------------------------------------------------------------


def account(deployment, handle: str = "fan") -> int:
    """A person with an address, made without mail (as before sign-ups waited for their link)."""
    participant = register_participant(deployment, handle)
    run_in_transaction(
        deployment.engine,
        lambda c: c.execute(
            insert(credentials).values(
                participant_id=participant,
                email=f"{handle}@example.org",
                password_hash="not used here",
                updated_at=deployment.clock.now(),
            )
        ),
    )
    return participant


def test_mail_is_queued_with_its_cause_and_sent_after_once_named_by_its_id(deployment, outbox):
    account(deployment, "old")
    sign_up(deployment, "fan", "fan@example.org", PASSWORD)
    request_password_reset(deployment, "old@example.org")
    assert files(outbox) == []  # nothing was sent during the calls
    verify_id, reset_id = rows(deployment)
    assert deliver_due(deployment) == Delivery(sent=2)
    assert files(outbox) == [outbox_name(verify_id), outbox_name(reset_id)]
    verify = read(outbox / outbox_name(verify_id))
    assert verify["To"] == "fan@example.org" and verify["Message-ID"].startswith(f"<mail-{verify_id}.")
    assert verify["Message-ID"] != read(outbox / outbox_name(reset_id))["Message-ID"]
    sent = rows(deployment)[verify_id]
    assert (sent.status, sent.attempts, sent.body, sent.sent_at, sent.kind) == (SENT, 1, None, deployment.clock.now(), "verify")
    assert deliver_due(deployment) == Delivery()  # sent once


def test_a_rolled_back_cause_queues_nothing(deployment, outbox):
    def work(connection):
        enqueue(connection, deployment, "test", "a@example.org", "s", "b")
        raise RuntimeError("the cause fails")

    with pytest.raises(RuntimeError):
        run_in_transaction(deployment.engine, work)
    assert rows(deployment) == {} and deliver_due(deployment) == Delivery()


def test_a_worker_killed_after_the_send_sends_it_again_after_the_lease_over_the_same_file(deployment, outbox):
    [mail_id] = queue(deployment, "a@example.org")
    with pytest.raises(SystemExit):
        deliver_due(deployment, CrashAfterSend(OutboxMailer(outbox, "gateway@example.org")))
    first = (outbox / outbox_name(mail_id)).read_bytes()
    assert rows(deployment)[mail_id].status == SENDING
    assert deliver_due(deployment) == Delivery()  # another worker's, until the lease runs out
    later(deployment, seconds=LEASE.total_seconds() - 1)
    assert deliver_due(deployment) == Delivery()
    later(deployment, seconds=1)
    assert deliver_due(deployment, OutboxMailer(outbox, "gateway@example.org")) == Delivery(sent=1)
    assert files(outbox) == [outbox_name(mail_id)]  # the second try replaced the first's file
    assert (outbox / outbox_name(mail_id)).read_bytes() == first  # the same message: Message-ID, Date and all
    assert (rows(deployment)[mail_id].status, rows(deployment)[mail_id].attempts) == (SENT, 2)


def test_a_failed_send_is_tried_again_after_1_2_4_minutes_and_given_up_after_the_last_try(deployment_factory, tmp_path):
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the outbox folder should be")
    deployment = deployment_factory({**config(), "mail": {"outbox": str(blocked)}})
    [mail_id] = queue(deployment, "a@example.org")
    for attempt in range(1, MAX_TRIES):
        assert deliver_due(deployment) == Delivery(retrying=1)
        row = rows(deployment)[mail_id]
        wait = timedelta(minutes=2 ** (attempt - 1))
        assert (row.status, row.attempts, row.due_at) == ("queued", attempt, deployment.clock.now() + wait)
        assert row.last_error.startswith("FileExistsError: ") and row.body is not None
        later(deployment, seconds=wait.total_seconds() - 1)
        assert deliver_due(deployment) == Delivery()  # not before its time
        later(deployment, seconds=1)
    assert deliver_due(deployment) == Delivery(failed=1)
    row = rows(deployment)[mail_id]
    assert (row.status, row.attempts, row.body) == (FAILED, MAX_TRIES, None) and row.last_error.startswith("FileExistsError")
    blocked.unlink()
    later(deployment, days=1)
    assert deliver_due(deployment) == Delivery() and not blocked.exists()  # given up for good


def test_a_reset_mail_that_would_outlive_its_link_is_given_up_not_sent(deployment_factory, tmp_path):
    """A reset link works for an hour; retries go on for longer: a mail whose next try comes too late is given up."""
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the outbox folder should be")
    deployment = deployment_factory({**config(), "mail": {"outbox": str(blocked)}})
    account(deployment)
    request_password_reset(deployment, "fan@example.org")
    [mail_id] = rows(deployment)
    assert rows(deployment)[mail_id].useless_after == deployment.clock.now() + timedelta(hours=1)
    for wait in (1, 2, 4, 8, 16):  # tries at 0, 1, 3, 7 and 15 minutes
        assert deliver_due(deployment) == Delivery(retrying=1)
        later(deployment, minutes=wait)
    assert deliver_due(deployment) == Delivery(failed=1)  # at 31 minutes: the next, at 63, would bring a dead link
    row = rows(deployment)[mail_id]
    assert (row.status, row.attempts, row.body) == (FAILED, 6, None)
    assert row.last_error.startswith("not sent: its link expires before") and "FileExistsError" in row.last_error
    blocked.unlink()
    later(deployment, days=1)
    assert deliver_due(deployment) == Delivery() and not blocked.exists()


def test_a_mail_whose_link_expired_before_any_try_is_given_up_not_sent(deployment, outbox):
    account(deployment)
    request_password_reset(deployment, "fan@example.org")
    [mail_id] = rows(deployment)
    later(deployment, hours=1)  # no worker ran for the hour
    assert deliver_due(deployment) == Delivery() and files(outbox) == []
    row = rows(deployment)[mail_id]
    assert (row.status, row.attempts, row.body) == (FAILED, 0, None)
    assert row.last_error.startswith("not sent: its link expires before")


def test_every_mail_with_a_link_is_useless_once_its_link_expires(deployment, outbox):
    fan = account(deployment)
    sign_up(deployment, "newcomer", "newcomer@example.org", PASSWORD)
    request_password_reset(deployment, "fan@example.org")
    update_profile(deployment, fan, email="new@example.org")
    sign_up(deployment, "intruder", "fan@example.org", PASSWORD)  # the owner's letter carries no link
    with reading(deployment.engine) as connection:
        useless = dict(connection.execute(select(mail_queue.c.kind, mail_queue.c.useless_after)).all())
        links = dict(connection.execute(select(email_tokens.c.purpose, email_tokens.c.expires_at)).all())
    now = deployment.clock.now()
    assert links == {"verify": now + timedelta(days=2), "reset": now + timedelta(hours=1), "change": now + timedelta(days=2)}
    assert useless == {**links, "sign_up_attempt": None}


def test_an_smtp_server_that_refuses_is_a_failed_try_and_the_error_names_no_secret(deployment_factory):
    with socket.socket() as closed:  # bound, never listening: a connection to it is refused
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "smtp_user": "gw", "smtp_password": "hunter2-secret"}
        deployment = deployment_factory({**config(), "mail": smtp})
        [mail_id] = queue(deployment, "a@example.org")
        assert deliver_due(deployment) == Delivery(retrying=1)
    assert rows(deployment)[mail_id].last_error.startswith("ConnectionRefusedError: ")
    assert describe(deployment, OSError("535 login gw hunter2-secret refused")) == "OSError: 535 login gw *** refused"


class Broken:
    """A mailer with a bug: not an OSError, yet a failed try like one, not a worker stuck on one mail."""

    def send(self, mail: Outgoing) -> None:
        raise ValueError("a bug in the mailer")


def test_any_error_of_the_mailer_is_a_failed_try(deployment):
    [mail_id] = queue(deployment, "a@example.org")
    assert deliver_due(deployment, Broken()) == Delivery(retrying=1)
    assert rows(deployment)[mail_id].last_error == "ValueError: a bug in the mailer"


def test_a_lease_that_runs_out_on_the_last_try_gives_the_mail_up(deployment, outbox):
    [mail_id] = queue(deployment, "a@example.org")
    with deployment.engine.begin() as connection:
        connection.execute(mail_queue.update().values(attempts=MAX_TRIES - 1))
    with pytest.raises(SystemExit):
        deliver_due(deployment, CrashAfterSend(OutboxMailer(outbox, "gateway@example.org")))
    later(deployment, seconds=LEASE.total_seconds())
    assert claim(deployment) is None
    row = rows(deployment)[mail_id]
    assert (row.status, row.last_error, row.body) == (FAILED, STOPPED_WHILE_SENDING, None)


def test_a_late_try_changes_only_its_own_claim(deployment, outbox):
    """A try that outlived its lease: its failure does not undo the next try's claim; its success still counts."""
    [mail_id] = queue(deployment, "a@example.org")
    stale = claim(deployment)
    later(deployment, seconds=LEASE.total_seconds())
    current = claim(deployment)
    assert (stale.attempt, current.attempt) == (1, 2)
    mark_failed(deployment, stale, OSError("the late try failed"))
    row = rows(deployment)[mail_id]
    assert (row.status, row.attempts, row.last_error) == (SENDING, 2, None)
    mark_sent(deployment, stale.mail.id)  # it went out after all: sent, whoever's claim it was
    mark_failed(deployment, current, OSError("the second try failed"))
    row = rows(deployment)[mail_id]
    assert (row.status, row.last_error, row.body) == (SENT, None, None)


def test_workers_side_by_side_send_each_mail_once(deployment, outbox):
    ids = queue(deployment, *(f"p{n}@example.org" for n in range(40)))
    recording = Recording(OutboxMailer(outbox, "gateway@example.org"))
    workers = [threading.Thread(target=deliver_due, args=(deployment, recording)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert Counter(recording.sent) == Counter(ids)
    assert files(outbox) == [outbox_name(mail_id) for mail_id in ids]
    assert queue_counts(deployment) == {"queued": 0, "sending": 0, "sent": 40, "failed": 0}


def test_a_claim_skips_a_row_another_claim_holds_rather_than_wait(database_url, outbox):
    """PostgreSQL: FOR UPDATE SKIP LOCKED. A claim that waited would fail here at once (lock_timeout 1 ms)."""
    if not database_url.startswith("postgresql"):
        pytest.skip("SQLite has no row locks: one writer at a time is its claim")
    with impatient_engine(database_url) as engine:
        deployment = make(database_url, {**config(), "mail": {"outbox": str(outbox)}}, engine=engine)
        first, second = queue(deployment, "a@example.org", "b@example.org")
        with deployment.engine.connect() as other, other.begin():  # another worker, in the middle of its claim
            other.execute(text("SELECT id FROM mail_queue WHERE id = :id FOR UPDATE"), {"id": first})
            claimed = claim(deployment)
            assert claimed is not None and claimed.mail.id == second
            assert claim(deployment) is None
        assert claim(deployment).mail.id == first


# -- the worker thread -------------------------------------------------------------------------


def test_the_worker_sends_when_rung_and_stops(deployment, outbox):
    worker = MailWorker(deployment, poll=3600)  # it would not look again for an hour: only the bell wakes it
    worker.start()
    try:
        wait_until(lambda: worker.looks >= 1, "the worker's first look, at an empty queue")
        [mail_id] = queue(deployment, "a@example.org")
        wake(deployment)
        wait_until(lambda: (outbox / outbox_name(mail_id)).exists(), "the rung worker sent the mail")
        wait_until(lambda: rows(deployment)[mail_id].status == SENT, "the mail marked sent")
    finally:
        worker.stop()
    assert not worker.running
    worker.stop()  # twice is no error


def test_the_worker_sends_what_was_queued_before_it_started_and_looks_again_on_its_own(deployment, outbox):
    [before] = queue(deployment, "a@example.org")
    worker = MailWorker(deployment, poll=0.01)
    worker.start()
    try:
        wait_until(lambda: (outbox / outbox_name(before)).exists(), "the mail queued before the start")
        [unrung] = queue(deployment, "b@example.org")  # as by another process: no bell here
        wait_until(lambda: (outbox / outbox_name(unrung)).exists(), "the mail found by looking")
    finally:
        worker.stop()


def test_the_worker_stops_after_the_mail_in_hand(deployment, outbox):
    first, second = queue(deployment, "a@example.org", "b@example.org")
    held = Held(OutboxMailer(outbox, "gateway@example.org"))
    worker = MailWorker(deployment, held)
    worker.start()
    assert held.entered.wait(DEADLINE)
    worker.stop(timeout=0)  # asked to stop while the first mail is in hand
    held.release.set()
    worker.stop()
    assert not worker.running
    assert (rows(deployment)[first].status, rows(deployment)[second].status) == (SENT, "queued")
    assert files(outbox) == [outbox_name(first)]
