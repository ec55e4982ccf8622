"""The single-use links mailed to people: to verify an address, to choose a new password, to move to a new address.

A link's token is random; only its hash is kept in ``email_tokens``. Its
letter is queued (``mail_queue``) in the transaction that makes the token, so
a mail never names a token that a rollback took back, and a token committed
is always mailed. The letter, token and all, waits in the queue's row until
it is sent, then its body is erased; it is given up rather than sent once the
link has expired (``useless_after``).

A link points at an account, or at a pending sign-up (``pending``), which has
no account yet: its link is what makes one.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, and_, or_, select, update

from gateway.deployment import Deployment
from gateway.errors import ValidationError
from gateway.i18n import N_, translate
from gateway.security import new_token, token_hash
from gateway.storage.schema import credentials, email_tokens
from gateway.usecases import mail_queue

VERIFY, RESET, CHANGE = "verify", "reset", "change"  # what a link is for; also the kind of its mail

# What a link is for: how long it lasts, the page that opens it (``gateway/web``), and its letter, translated
# into the reader's language when it is queued (``gateway.i18n``).
LIFETIME = {VERIFY: timedelta(days=2), RESET: timedelta(hours=1), CHANGE: timedelta(days=2)}
PAGE = {VERIFY: "verify", RESET: "reset/confirm", CHANGE: "verify"}
LETTERS = {
    VERIFY: (
        N_("Confirm your e-mail address"),
        N_(
            "Hello %(handle)s,\n\nto confirm this address for your account on %(platform)s, open this link:\n\n%(link)s\n\n"
            "It works for 2 days. If you did not sign up, ignore this mail.\n"
        ),
    ),
    RESET: (
        N_("Choose a new password"),
        N_(
            "Hello %(handle)s,\n\nto choose a new password for %(platform)s, open this link:\n\n%(link)s\n\n"
            "It works for 1 hour. If you did not ask for it, ignore this mail: your password stays as it is.\n"
        ),
    ),
    CHANGE: (
        N_("Confirm your new e-mail address"),
        N_(
            "Hello %(handle)s,\n\nto use this address for your account on %(platform)s from now on, open this link:"
            "\n\n%(link)s\n\nIt works for 2 days. Until then your account keeps its old address. If you did not ask "
            "for it, ignore this mail: no account will use this address.\n"
        ),
    ),
}

# Whether a link still points at something it may act on: a pending sign-up (whose row holds the address
# the link went to); an account moving to the link's address; or an account whose address the link went to
# (so a link to verify or reset an address dies when the account moves to another).
_STILL_AIMED = or_(
    email_tokens.c.pending_signup_id.is_not(None),
    and_(email_tokens.c.purpose == CHANGE, credentials.c.participant_id.is_not(None)),
    credentials.c.email == email_tokens.c.email,
)


def issue(
    connection: Connection, deployment: Deployment, purpose: str, owner: Row[Any], address: str, *, pending: bool = False
) -> int:
    """A new link token for ``address``, and its letter queued, in the caller's transaction; the mail's id.

    ``owner`` is the account the link is for, or with ``pending`` the pending
    sign-up: either has the handle and the language the letter needs. The
    caller wakes the worker (``mail_queue.wake``) once it has committed.
    """
    token = new_token()
    expires_at = deployment.clock.now() + LIFETIME[purpose]
    holder = {"pending_signup_id": owner.id} if pending else {"participant_id": owner.id}
    connection.execute(
        email_tokens.insert().values(
            **holder, purpose=purpose, email=address, token_hash=token_hash(token), expires_at=expires_at
        )
    )
    subject, text = LETTERS[purpose]
    link = f"{deployment.settings.http.base_url.rstrip('/')}/{PAGE[purpose]}?token={token}"
    params = {"handle": owner.handle, "platform": deployment.settings.name, "link": link}
    subject, body = translate(owner.language, subject), translate(owner.language, text, params)
    return mail_queue.enqueue(connection, deployment, purpose, address, subject, body, useless_after=expires_at)


def consume(connection: Connection, deployment: Deployment, token: str, *purposes: str) -> Row[Any]:
    """Use up a link for one of ``purposes``: it must be unused, in time, and still aimed (``_STILL_AIMED``).

    The row says what it is for (``purpose``), at which address (``email``),
    and for whom (``participant_id``, or ``pending_signup_id``).
    """
    now = deployment.clock.now()
    found = connection.execute(
        select(email_tokens)
        .outerjoin(credentials, credentials.c.participant_id == email_tokens.c.participant_id)
        .where(
            email_tokens.c.token_hash == token_hash(token or ""),
            email_tokens.c.purpose.in_(purposes),
            email_tokens.c.used_at.is_(None),
            email_tokens.c.expires_at > now,
            _STILL_AIMED,
        )
        .with_for_update(of=email_tokens)
    ).first()
    if found is None:
        raise ValidationError("this link is unknown, used or expired; ask for a new one", field="token")
    connection.execute(update(email_tokens).where(email_tokens.c.id == found.id).values(used_at=now))
    return found


def void(connection: Connection, deployment: Deployment, participant_id: int, *purposes: str) -> None:
    """Use up every open link of an account for ``purposes``, unopened (a password reset voids the others)."""
    connection.execute(
        update(email_tokens)
        .where(
            email_tokens.c.participant_id == participant_id,
            email_tokens.c.purpose.in_(purposes),
            email_tokens.c.used_at.is_(None),
        )
        .values(used_at=deployment.clock.now())
    )
