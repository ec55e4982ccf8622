"""Handles and addresses that accounts hold: who holds one, and the letter to an address's owner.

Handles are public, so a taken one is a plain error. Whether an address has
an account is nobody's business but its owner's: a sign-up or an address
change that names a taken address is answered as for a free one, and the
owner gets a letter saying that someone tried, at most one an hour
(``ATTEMPT_QUIET``) whatever the cause, so that a stranger cannot flood their
mailbox. Only accounts hold handles and addresses, never pending sign-ups.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, select

from gateway.deployment import Deployment
from gateway.i18n import N_, translate
from gateway.storage.schema import credentials, participants
from gateway.usecases import mail_queue

SIGN_UP, CHANGE = "sign_up", "change"  # what someone tried to do with a taken address
ATTEMPT = "sign_up_attempt"  # the kind of the owner's letter, whatever the cause: one count for its hourly limit
ATTEMPT_QUIET = timedelta(hours=1)  # one such letter an hour at most: a stranger cannot flood the owner's mailbox
ATTEMPT_LETTERS = {  # translated into the owner's language when queued (``gateway.i18n``)
    SIGN_UP: (
        N_("Someone tried to sign up with your address"),
        N_(
            "Hello %(handle)s,\n\nsomeone tried to sign up on %(platform)s with this e-mail address, which already "
            "belongs to your account. No new account was made.\n\nIf it was you, sign in at %(site)s instead (if you "
            "forgot your password, ask there for a new one). If it was not you, ignore this mail: your account "
            "stays as it is.\n"
        ),
    ),
    CHANGE: (
        N_("Someone tried to use your address for another account"),
        N_(
            "Hello %(handle)s,\n\nsomeone signed in on %(platform)s asked to use this e-mail address, which already "
            "belongs to your account, for another account. Nothing was changed.\n\nIf it was you, this address "
            "already has an account: sign in at %(site)s with it. If it was not you, ignore this mail: your account "
            "stays as it is.\n"
        ),
    ),
}


def handle_taken(connection: Connection, handle: str) -> bool:
    """Whether an account holds ``handle`` (lower-cased), in any case."""
    return connection.execute(select(participants.c.id).where(func.lower(participants.c.handle) == handle)).first() is not None


def owner_of(connection: Connection, address: str) -> Row[Any] | None:
    """The participant whose account holds ``address`` (lower-cased), if any."""
    return connection.execute(
        select(participants)
        .join(credentials, credentials.c.participant_id == participants.c.id)
        .where(credentials.c.email == address)
    ).first()


def tell_owner(connection: Connection, deployment: Deployment, owner: Row[Any], address: str, cause: str) -> None:
    """Queue the owner's letter about ``cause``, in their language, unless one went out within ``ATTEMPT_QUIET``."""
    if mail_queue.queued_since(connection, ATTEMPT, address, deployment.clock.now() - ATTEMPT_QUIET):
        return
    subject, text = ATTEMPT_LETTERS[cause]
    site = deployment.settings.http.base_url.rstrip("/")
    params = {"handle": owner.handle, "platform": deployment.settings.name, "site": site}
    subject, body = translate(owner.language, subject), translate(owner.language, text, params)
    mail_queue.enqueue(connection, deployment, ATTEMPT, address, subject, body)
