"""The single-use links mailed to people: to verify an address, to choose a new password.

A link's token is random; only its hash is kept in ``email_tokens``. Its
letter is queued (``mail_queue``) in the transaction that makes the token, so
a mail never names a token that a rollback took back, and a token committed
is always mailed. The letter, token and all, waits in the queue's row until
it is sent, then its body is erased.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from gateway.deployment import Deployment
from gateway.errors import ValidationError
from gateway.security import new_token, token_hash
from gateway.storage.schema import credentials, email_tokens
from gateway.usecases import mail_queue

# What a link is for: how long it lasts, the page it opens, and the letter in each language.
LIFETIME = {"verify": timedelta(days=2), "reset": timedelta(hours=1)}
PAGE = {"verify": "verify-email", "reset": "reset-password"}
LETTERS = {
    ("verify", "en"): (
        "Confirm your e-mail address",
        "Hello {handle},\n\nto confirm this address for your account on {platform}, open this link:\n\n{link}\n\n"
        "It works for 2 days. If you did not sign up, ignore this mail.\n",
    ),
    ("verify", "fr"): (
        "Confirmez votre adresse e-mail",
        "Bonjour {handle},\n\npour confirmer cette adresse pour votre compte sur {platform}, ouvrez ce lien :\n\n{link}\n\n"
        "Il est valable 2 jours. Si vous ne vous êtes pas inscrit, ignorez ce message.\n",
    ),
    ("reset", "en"): (
        "Choose a new password",
        "Hello {handle},\n\nto choose a new password for {platform}, open this link:\n\n{link}\n\n"
        "It works for 1 hour. If you did not ask for it, ignore this mail: your password stays as it is.\n",
    ),
    ("reset", "fr"): (
        "Choisissez un nouveau mot de passe",
        "Bonjour {handle},\n\npour choisir un nouveau mot de passe sur {platform}, ouvrez ce lien :\n\n{link}\n\n"
        "Il est valable 1 heure. Si vous ne l'avez pas demandé, ignorez ce message : votre mot de passe ne change pas.\n",
    ),
}


def issue(connection: Connection, deployment: Deployment, purpose: str, owner: Row[Any], address: str) -> int:
    """A new link token for ``address``, and its letter queued, in the caller's transaction; the mail's id.

    The caller wakes the worker (``mail_queue.wake``) once it has committed.
    """
    token = new_token()
    connection.execute(
        insert(email_tokens).values(
            participant_id=owner.id,
            purpose=purpose,
            email=address,
            token_hash=token_hash(token),
            expires_at=deployment.clock.now() + LIFETIME[purpose],
        )
    )
    subject, text = LETTERS.get((purpose, owner.language)) or LETTERS[purpose, "en"]
    link = f"{deployment.settings.http.base_url.rstrip('/')}/{PAGE[purpose]}?token={token}"
    body = text.format(handle=owner.handle, platform=deployment.settings.name, link=link)
    return mail_queue.enqueue(connection, deployment, purpose, address, subject, body)


def consume(connection: Connection, deployment: Deployment, token: str, purpose: str) -> Row[Any]:
    """Use up a link, which must still be unused, in time, and for the account's current address."""
    now = deployment.clock.now()
    found = connection.execute(
        select(email_tokens)
        .join(credentials, credentials.c.participant_id == email_tokens.c.participant_id)
        .where(
            email_tokens.c.token_hash == token_hash(token or ""),
            email_tokens.c.purpose == purpose,
            email_tokens.c.used_at.is_(None),
            email_tokens.c.expires_at > now,
            credentials.c.email == email_tokens.c.email,
        )
        .with_for_update(of=email_tokens)
    ).first()
    if found is None:
        raise ValidationError("this link is unknown, used or expired; ask for a new one", field="token")
    connection.execute(update(email_tokens).where(email_tokens.c.id == found.id).values(used_at=now))
    return found
