"""The single-use links mailed to people: to verify an address, to choose a new password.

A link's token is random; only its hash is stored. The letter is sent once
the transaction that made the token has committed, so a mail never names a
token that a rollback took back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy import Connection, Row, insert, select, update

from gateway.deployment import Deployment
from gateway.errors import ValidationError
from gateway.mail import Mailer, mailer_for
from gateway.security import new_token, token_hash
from gateway.storage.schema import credentials, email_tokens

log = logging.getLogger("gateway.identity")

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


@dataclass(frozen=True)
class Letter:
    """A link to mail once the transaction that made its token has committed."""

    purpose: str
    participant_id: int
    token: str
    to: str
    handle: str
    language: str


def issue(connection: Connection, deployment: Deployment, purpose: str, owner: Row[Any], address: str) -> Letter:
    """A new link token for ``address``, in the caller's transaction."""
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
    return Letter(purpose, owner.id, token, address, owner.handle, owner.language)


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


def send(deployment: Deployment, mailer: Mailer | None, letter: Letter | None) -> None:
    """Mail a link (none: nothing to send). A mail server that fails undoes nothing: the person can ask again."""
    if letter is None:
        return
    subject, text = LETTERS.get((letter.purpose, letter.language)) or LETTERS[letter.purpose, "en"]
    link = f"{deployment.settings.http.base_url.rstrip('/')}/{PAGE[letter.purpose]}?token={letter.token}"
    body = text.format(handle=letter.handle, platform=deployment.settings.name, link=link)
    try:
        (mailer or mailer_for(deployment.settings)).send(letter.to, subject, body)
    except OSError:  # smtplib's errors included
        log.exception("could not mail the %s link of %r", letter.purpose, letter.handle)
