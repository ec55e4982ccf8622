"""The mail queue across real processes: ``gateway serve`` killed with SIGKILL mid-send, and ``gateway mail send``.

Every server here binds 127.0.0.1; every wait is for a condition, with a deadline.
"""

from __future__ import annotations

import email
import email.policy
import signal
import socket
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select, update

from gateway.mail import outbox_name
from gateway.storage.engine import make_engine
from gateway.storage.schema import mail_queue
from gateway.usecases.identity.signup import sign_up
from tests.processes import Server, gateway, wait_until
from tests.support import config, make, write_toml

PASSWORD = "correct horse battery"


def deployment_file(path: Path, url: str, mail: dict) -> Path:
    data = config()
    data["rates"].pop("static")  # keys with a "/", which write_toml does not quote; no test here converts
    return write_toml(path, {**data, "database": {"url": url}, "mail": mail})


def rows(url: str) -> dict[int, object]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return {row.id: row for row in connection.execute(select(mail_queue).order_by(mail_queue.c.id))}
    finally:
        engine.dispose()


def outbox_mail(outbox: Path) -> dict[str, email.message.EmailMessage]:
    return {path.name: email.message_from_bytes(path.read_bytes(), policy=email.policy.default) for path in outbox.glob("*.eml")}


def test_serve_killed_while_mail_is_queued_and_in_hand_sends_each_mail_once_after(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
    outbox = tmp_path / "outbox"
    assert gateway("--database-url", url, "db", "upgrade", cwd=tmp_path).returncode == 0
    with socket.socket() as silent:  # an SMTP server that takes the connection and never greets: a send in hand
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        stuck = deployment_file(tmp_path / "stuck.toml", url, {"smtp_host": "127.0.0.1", "smtp_port": silent.getsockname()[1]})
        first = Server(tmp_path, stuck, "first")
        try:
            addresses = [f"person{n}@example.org" for n in range(4)]
            for n, address in enumerate(addresses):
                status, body = first.post("/accounts", {"handle": f"person{n}", "email": address, "password": PASSWORD})
                assert (status, body["status"]) == (202, "check_your_mail")
            wait_until(lambda: any(row.status == "sending" for row in rows(url).values()), "a mail in hand")
            first.process.send_signal(signal.SIGKILL)
            assert first.process.wait(timeout=30) == -signal.SIGKILL
        finally:
            first.close()

    at_kill = rows(url)
    assert sorted(row.to_address for row in at_kill.values()) == sorted(addresses)
    assert not any(row.status == "sent" for row in at_kill.values()) and not outbox.exists()
    in_hand = [row.id for row in at_kill.values() if row.status == "sending"]
    waiting = [row.id for row in at_kill.values() if row.status == "queued" and row.attempts == 0]
    assert len(in_hand) == 1 and waiting, at_kill

    # Started again, with an outbox: what waited is sent; the mail that was in hand waits for its lease.
    writing = deployment_file(tmp_path / "outbox.toml", url, {"outbox": str(outbox)})
    second = Server(tmp_path, writing, "second")
    try:
        wait_until(lambda: all(rows(url)[mail_id].status == "sent" for mail_id in waiting), "the waiting mail sent")
        assert rows(url)[in_hand[0]].status == "sending" and not (outbox / outbox_name(in_hand[0])).exists()
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=60) == 0, second.errors()
    finally:
        second.close()

    # The lease runs out (minutes, which a test does not wait: its end is moved to now), and cron sends it.
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(update(mail_queue).where(mail_queue.c.status != "sent").values(due_at=datetime.now(UTC)))
    engine.dispose()
    sent = gateway("--config", str(writing), "mail", "send", cwd=tmp_path)
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith(f"mail: {len(at_kill) - len(waiting)} sent, 0 to try again later, 0 given up")

    # Each mail once: one file per mail id, to its own address, with its own Message-ID; no half-written file.
    final = rows(url)
    assert all(row.status == "sent" for row in final.values())
    mail = outbox_mail(outbox)
    assert sorted(mail) == sorted(outbox_name(mail_id) for mail_id in final)
    assert {name: message["To"] for name, message in mail.items()} == {
        outbox_name(mail_id): row.to_address for mail_id, row in final.items()
    }
    assert len({message["Message-ID"] for message in mail.values()}) == len(final)
    assert [path.name for path in outbox.iterdir() if not path.name.endswith(".eml")] == []


def test_mail_send_sends_what_is_due_and_says_how_many(tmp_path):
    url = f"sqlite:///{tmp_path / 'gateway.sqlite3'}"
    outbox = tmp_path / "outbox"
    assert gateway("--database-url", url, "db", "upgrade", cwd=tmp_path).returncode == 0
    deployment = make(url, {**config(), "mail": {"outbox": str(outbox)}}, moment=datetime.now(UTC))  # due by the real clock
    try:
        sign_up(deployment, "fan", "fan@example.org", PASSWORD)
        sign_up(deployment, "ann", "ann@example.org", PASSWORD)
    finally:
        deployment.close()
    assert not outbox.exists()
    path = deployment_file(tmp_path / "deploy.toml", url, {"outbox": str(outbox)})
    first = gateway("--config", str(path), "mail", "send", cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    assert first.stdout == "mail: 2 sent, 0 to try again later, 0 given up; 0 waiting in the queue, 0 failed in all\n"
    assert sorted(outbox_mail(outbox)) == [outbox_name(1), outbox_name(2)]
    again = gateway("--config", str(path), "mail", "send", cwd=tmp_path)
    assert again.stdout.startswith("mail: 0 sent,")
    helped = gateway("mail", "send", "--help", cwd=tmp_path)
    assert helped.returncode == 0 and "usage: gateway mail send" in helped.stdout


def test_mail_send_with_the_database_out_of_reach_is_one_line(tmp_path):
    result = gateway("--database-url", "postgresql://postgres:secret@127.0.0.1:1/x", "mail", "send", cwd=tmp_path)
    assert result.returncode == 1
    assert result.stderr.startswith("gateway: database_unreachable: ") and result.stderr.count("\n") == 1, result.stderr
    assert "secret" not in result.stderr and "Traceback" not in result.stderr
