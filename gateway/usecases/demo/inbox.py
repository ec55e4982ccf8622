"""Opening the links that sign-ups were mailed, as their owners would: how made-up people get their accounts."""

from __future__ import annotations

import re

from gateway.deployment import Deployment
from gateway.mail import Outgoing
from gateway.usecases.identity.signup import verify_email
from gateway.usecases.mail_queue import deliver_due

_TOKEN = re.compile(r"token=([A-Za-z0-9_\-]+)")


class _Inbox:
    """A mailbox in memory: the queue's worker sends to it as it would to an SMTP server."""

    def __init__(self) -> None:
        self.mail: list[Outgoing] = []

    def send(self, mail: Outgoing) -> None:
        self.mail.append(mail)


def open_mailed_links(deployment: Deployment) -> dict[str, int]:
    """Send the mail that is due to a mailbox of our own and open each link in it; the accounts made, by address.

    A sign-up becomes an account only through the link mailed to it
    (``identity.signup``); for people who do not exist, no mail leaves the machine.
    """
    inbox = _Inbox()
    deliver_due(deployment, mailer=inbox)
    opened = {}
    for mail in inbox.mail:
        token = _TOKEN.search(mail.body)
        if token is not None:
            opened[mail.to] = verify_email(deployment, token.group(1))
    return opened
