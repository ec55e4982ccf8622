"""Outgoing mail: a folder of .eml files, or an SMTP server.

Without ``mail.smtp_host`` every message is written to the outbox folder, one
file each, so a deployment works (and tests read real mail) with no server.

A mail here is a row of the mail queue (``usecases/mail_queue.py``), which
may send it twice: a worker killed between the send and the record of it
leaves the row to be sent again. So everything about a message is made from
its row: its Message-ID and Date, and in the outbox its file's name. A second
try is the same message again, never a new one. One outbox folder serves
one database: the ids of two would meet.
"""

from __future__ import annotations

import os
import smtplib
import ssl
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Protocol

from gateway.config import MailSettings, Settings

SMTP_TIMEOUT = 30  # seconds


@dataclass(frozen=True)
class Outgoing:
    """One mail to send, as the queue holds it."""

    id: int  # the queue row's: the same on every try
    to: str
    subject: str
    body: str
    created_at: datetime  # when it was queued: its Date, and with the id its Message-ID


class Mailer(Protocol):
    def send(self, mail: Outgoing) -> None: ...


def message_id(mail: Outgoing, sender: str) -> str:
    """The mail's Message-ID: from its row id, stable across tries; the queue time keeps it unique if ids start again."""
    domain = sender.rpartition("@")[2] or "localhost"
    return f"<mail-{mail.id}.{int(mail.created_at.timestamp() * 1_000_000)}@{domain}>"


def compose(sender: str, mail: Outgoing) -> EmailMessage:
    """A plain-text UTF-8 message, byte for byte the same on every try of one mail."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = mail.to
    message["Subject"] = mail.subject
    message["Date"] = format_datetime(mail.created_at.astimezone(UTC), usegmt=True)
    message["Message-ID"] = message_id(mail, sender)
    message.set_content(mail.body)
    return message


def outbox_name(mail_id: int) -> str:
    """The outbox file of a mail: named by its id, zero-padded so that names sort oldest first."""
    return f"{mail_id:020d}.eml"


class OutboxMailer:
    """Writes each mail into a folder as ``<id>.eml``: a second try of a mail replaces its file, it adds none."""

    def __init__(self, folder: str | os.PathLike[str], sender: str) -> None:
        self.folder = Path(folder)
        self.sender = sender

    def send(self, mail: Outgoing) -> None:
        """Write the message to a file of its own, then rename it into place: a reader never sees half a message.

        Two tries at once (a lease that ran out while the first was stuck)
        each write their own ``.part`` file; the renames replace one whole
        file with another, the same. The data reaches the disk before the
        queue records the mail as sent.
        """
        self.folder.mkdir(parents=True, exist_ok=True)
        data = compose(self.sender, mail).as_bytes()
        descriptor, partial = tempfile.mkstemp(dir=self.folder, prefix=f".{mail.id}.", suffix=".part")
        try:
            with os.fdopen(descriptor, "wb") as file:
                file.write(data)
                file.flush()
                os.fsync(file.fileno())
            os.replace(partial, self.folder / outbox_name(mail.id))
        except BaseException:
            Path(partial).unlink(missing_ok=True)
            raise
        _sync_folder(self.folder)


def _sync_folder(folder: Path) -> None:
    """Make the rename itself durable (the folder's entry), where the system lets a folder be opened."""
    try:
        handle = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(handle)
    except OSError:
        pass  # some file systems refuse to sync a folder; the file's data is on disk already
    finally:
        os.close(handle)


class SmtpMailer:
    """Sends through an SMTP server.

    A second try of a mail (after a worker died before recording the first
    as sent) reaches the receiver with the same Message-ID and Date as the
    first: mail programs that keep one message per Message-ID show it once.
    """

    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def send(self, mail: Outgoing) -> None:
        settings = self.settings
        message = compose(settings.sender, mail)
        with smtplib.SMTP(settings.smtp_host or "localhost", settings.smtp_port, timeout=SMTP_TIMEOUT) as smtp:
            if settings.smtp_starttls:
                smtp.starttls(context=ssl.create_default_context())
            if settings.smtp_user:
                smtp.login(settings.smtp_user, settings.smtp_password or "")
            smtp.send_message(message)


def mailer_for(settings: Settings) -> Mailer:
    mail = settings.mail
    if mail.smtp_host:
        return SmtpMailer(mail)
    return OutboxMailer(mail.outbox, mail.sender)
