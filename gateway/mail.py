"""Outgoing mail: a folder of .eml files, or an SMTP server.

Without ``mail.smtp_host`` every message is written to the outbox folder, one
file each, so a deployment works (and tests read real mail) with no server.
File names start with the time in nanoseconds, so they sort oldest first.
"""

from __future__ import annotations

import itertools
import os
import smtplib
import ssl
import time
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Protocol

from gateway.config import MailSettings, Settings

SMTP_TIMEOUT = 30  # seconds
_sequence = itertools.count()


class Mailer(Protocol):
    def send(self, to: str, subject: str, body: str) -> None: ...


def compose(sender: str, to: str, subject: str, body: str) -> EmailMessage:
    """A plain-text UTF-8 message."""
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = formatdate(usegmt=True)
    message["Message-ID"] = make_msgid(domain=sender.rpartition("@")[2] or None)
    message.set_content(body)
    return message


class OutboxMailer:
    """Writes each message into a folder as ``<nanoseconds>-<pid>-<n>.eml``."""

    def __init__(self, folder: str | os.PathLike[str], sender: str) -> None:
        self.folder = Path(folder)
        self.sender = sender

    def send(self, to: str, subject: str, body: str) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = f"{time.time_ns():020d}-{os.getpid()}-{next(_sequence):06d}"
        partial = self.folder / f".{name}.part"
        partial.write_bytes(compose(self.sender, to, subject, body).as_bytes())
        partial.replace(self.folder / f"{name}.eml")  # a reader never sees half a message


class SmtpMailer:
    def __init__(self, settings: MailSettings) -> None:
        self.settings = settings

    def send(self, to: str, subject: str, body: str) -> None:
        settings = self.settings
        message = compose(settings.sender, to, subject, body)
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
