"""Sign-in accounts: sign up, e-mail links, sessions, personal access tokens, two-factor codes.

Not the ledger's accounts (``gateway/accounts.py``): these are the people
behind participants. Every secret is stored hashed (``gateway/security.py``).
The slow parts, argon2 and mail, run outside database transactions, so a
sign-in never holds SQLite's write lock while it hashes.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select, update

from ..deployment import Deployment
from ..errors import Conflict, Forbidden, GatewayError, InvalidCredentials, NotFound, TotpRequired, ValidationError
from ..mail import Mailer, mailer_for
from ..security import (
    burn_verify,
    hash_password,
    needs_rehash,
    new_token,
    new_totp_secret,
    token_hash,
    totp_step,
    totp_uri,
    verify_password,
)
from ..storage.engine import reading, run_in_transaction
from ..storage.schema import access_tokens, credentials, email_tokens, participants, sessions
from ..urls import clean_sites
from .common import person
from .registry import add_person

log = logging.getLogger("gateway.accounts")

SCOPES = ("read", "flattr", "money", "things", "account")
OPERATOR = "operator"  # a role, and the scope only that role's tokens may carry
ROLES = ("member", OPERATOR)
LANGUAGES = ("en", "fr")
TOKEN_PREFIX = "fgw_"  # makes a leaked token easy to recognise (and to scan for)
PASSWORD_LENGTH = range(10, 201)
EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")  # nothing a mail header splits on
EMAIL_MAX = 254
TOKEN_NAME_MAX = 100
TOUCH_EVERY = timedelta(minutes=1)  # how stale a token's last_used_at may get: spares a write per request
WRONG_LOGIN = "this login and password do not match"

# What an e-mail link is for: how long it lasts, the page it opens, and the letter in each language.
LINK_LIFETIME = {"verify": timedelta(days=2), "reset": timedelta(hours=1)}
LINK_PAGE = {"verify": "verify-email", "reset": "reset-password"}
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
class Principal:
    """Who is calling, and what they may do."""

    participant_id: int
    handle: str
    role: str
    scopes: frozenset[str]
    via: str  # session | token
    csrf_token: str | None  # a session's; a token needs none


@dataclass(frozen=True)
class SessionGrant:
    token: str  # for the cookie; only its hash is kept
    csrf_token: str
    expires_at: datetime
    participant_id: int


@dataclass(frozen=True)
class AccessToken:
    id: int
    name: str
    scopes: frozenset[str]
    created_at: datetime
    last_used_at: datetime | None


@dataclass(frozen=True)
class Profile:
    id: int
    handle: str
    email: str | None  # None for a participant made without sign-up (the CLI, the demo)
    email_verified: bool
    preferred_currency: str | None
    language: str
    role: str
    listed: bool
    totp_enabled: bool
    auto_submit_sites: list[str]  # where funders may auto-submit things for this creator


@dataclass(frozen=True)
class _Letter:
    """A link to mail once the transaction that made its token has committed."""

    purpose: str
    participant_id: int
    token: str
    to: str
    handle: str
    language: str


# -- signing up and e-mail links ---------------------------------------------------------------


def sign_up(
    deployment: Deployment,
    handle: str,
    email: str,
    password: str,
    preferred_currency: str | None = None,
    language: str = "en",
    mailer: Mailer | None = None,
) -> int:
    """A new person with a password; mails the link that verifies the address."""
    handle = _folded_handle(handle)
    address = _address(email)
    _check_password(password)
    _check_language(language)
    with reading(deployment.engine) as connection:
        _refuse_taken(connection, handle=handle, address=address)  # clear errors before the slow hash
    password_hash = hash_password(password)

    def work(connection: Connection) -> _Letter:
        _refuse_taken(connection, handle=handle, address=address)
        participant_id = add_person(connection, deployment, handle, preferred_currency, language)
        connection.execute(insert(credentials).values(
            participant_id=participant_id, email=address, password_hash=password_hash, updated_at=deployment.clock.now(),
        ))
        return _issue(connection, deployment, "verify", person(connection, participant_id), address)

    letter = run_in_transaction(deployment.engine, work)
    _send(deployment, mailer, letter)
    return letter.participant_id


def verify_email(deployment: Deployment, token: str) -> None:
    def work(connection: Connection) -> None:
        link = _consume(connection, deployment, token, "verify")
        now = deployment.clock.now()
        connection.execute(update(credentials).where(credentials.c.participant_id == link.participant_id)
                           .values(email_verified_at=now, updated_at=now))

    run_in_transaction(deployment.engine, work)


def request_password_reset(deployment: Deployment, email: str, mailer: Mailer | None = None) -> None:
    """Mail a reset link; an unknown address gets nothing, and the caller cannot tell."""
    address = (email or "").strip().lower()

    def work(connection: Connection) -> _Letter | None:
        found = connection.execute(
            select(participants).join(credentials, credentials.c.participant_id == participants.c.id)
            .where(credentials.c.email == address)
        ).first()
        return None if found is None else _issue(connection, deployment, "reset", found, address)

    letter = run_in_transaction(deployment.engine, work)
    if letter is not None:
        _send(deployment, mailer, letter)


def reset_password(deployment: Deployment, token: str, new_password: str) -> None:
    """Set a new password with a mailed link; every session of the account ends."""
    _check_password(new_password)
    password_hash = hash_password(new_password)

    def work(connection: Connection) -> None:
        link = _consume(connection, deployment, token, "reset")
        now = deployment.clock.now()
        owner = link.participant_id
        connection.execute(update(credentials).where(credentials.c.participant_id == owner)
                           .values(password_hash=password_hash, updated_at=now))
        # The link reached the address, which proves it as well as a verification link would.
        connection.execute(update(credentials).where(credentials.c.participant_id == owner,
                                                     credentials.c.email_verified_at.is_(None))
                           .values(email_verified_at=now))
        connection.execute(update(email_tokens).where(email_tokens.c.participant_id == owner, email_tokens.c.purpose == "reset",
                                                      email_tokens.c.used_at.is_(None)).values(used_at=now))
        connection.execute(delete(sessions).where(sessions.c.participant_id == owner))
        # Whoever needed a reset may have lost a token too: every one stops working with the old password.
        connection.execute(update(access_tokens).where(access_tokens.c.participant_id == owner,
                                                       access_tokens.c.revoked_at.is_(None)).values(revoked_at=now))

    run_in_transaction(deployment.engine, work)


# -- sessions ----------------------------------------------------------------------------------


def log_in(deployment: Deployment, login: str, password: str, totp_code: str | None = None) -> SessionGrant:
    """Check a handle or an address with its password (and code), and open a session."""
    with reading(deployment.engine) as connection:
        found = connection.execute(_by_login(login, credentials, participants.c.frozen)).first()
    if found is None:
        burn_verify(password)
        raise InvalidCredentials(WRONG_LOGIN)
    if not verify_password(found.password_hash, password):
        raise InvalidCredentials(WRONG_LOGIN)
    if found.frozen:
        raise Forbidden("this account is frozen; write to the operator")
    now = deployment.clock.now()
    step = None
    if found.totp_enabled:
        if not totp_code:
            raise TotpRequired("send the 6-digit code of your authenticator app as well")
        step = _fresh_step(found, totp_code, now, InvalidCredentials)
    rehashed = hash_password(password) if needs_rehash(found.password_hash) else None

    def work(connection: Connection) -> SessionGrant:
        owner = found.participant_id
        current = connection.execute(select(credentials.c.password_hash).where(credentials.c.participant_id == owner)).scalar()
        if current != found.password_hash:  # reset while we were hashing
            raise InvalidCredentials(WRONG_LOGIN)
        if step is not None:
            _take_step(connection, owner, step, InvalidCredentials)
        if rehashed:
            connection.execute(update(credentials).where(credentials.c.participant_id == owner)
                               .values(password_hash=rehashed, updated_at=now))
        connection.execute(delete(sessions).where(sessions.c.participant_id == owner, sessions.c.expires_at <= now))
        grant = SessionGrant(new_token(), new_token(), now + timedelta(days=deployment.settings.http.session_days), owner)
        connection.execute(insert(sessions).values(
            participant_id=owner, token_hash=token_hash(grant.token), csrf_token=grant.csrf_token, created_at=now,
            expires_at=grant.expires_at,
        ))
        return grant

    return run_in_transaction(deployment.engine, work)


def sign_in_subject(deployment: Deployment, login: str) -> str:
    """Whom an attempt to sign in as ``login`` is against, whichever of the account's logins it uses.

    Wrong attempts are counted by it: a handle and an address of one account share one count.
    """
    with reading(deployment.engine) as connection:
        found = connection.execute(_by_login(login, credentials.c.participant_id)).scalar()
    return f"p{found}" if found is not None else f"login:{(login or '').strip().lower()}"


def _by_login(login: str, *columns):
    """The sign-in of a person by handle or address (as typed: case and spaces around do not matter)."""
    login = (login or "").strip().lower()
    column = credentials.c.email if "@" in login else participants.c.handle
    return (select(*columns).select_from(credentials).join(participants, participants.c.id == credentials.c.participant_id)
            .where(column == login, participants.c.kind == "person"))


def log_out(deployment: Deployment, token: str) -> None:
    run_in_transaction(deployment.engine, lambda c: c.execute(delete(sessions).where(sessions.c.token_hash == token_hash(token))))


def authenticate_session(deployment: Deployment, token: str) -> Principal | None:
    """The signed-in person behind a session cookie; None once it expired or the account froze."""
    if not token:
        return None
    with reading(deployment.engine) as connection:
        found = connection.execute(
            select(sessions.c.csrf_token, *_who()).join(participants, participants.c.id == sessions.c.participant_id)
            .where(sessions.c.token_hash == token_hash(token), sessions.c.expires_at > deployment.clock.now())
        ).first()
    if found is None or found.frozen:
        return None
    return Principal(found.id, found.handle, found.role, _allowed(found.role), "session", found.csrf_token)


# -- personal access tokens --------------------------------------------------------------------


def create_access_token(deployment: Deployment, participant_id: int, name: str, scopes: Iterable[str]) -> tuple[int, str]:
    """A new token with some scopes; returns its id and the secret, which is never shown again."""
    name = (name or "").strip()
    if not 1 <= len(name) <= TOKEN_NAME_MAX:
        raise ValidationError(f"a token's name is 1 to {TOKEN_NAME_MAX} characters", field="name")
    wanted = frozenset(scopes)
    unknown = wanted - {*SCOPES, OPERATOR}
    if not wanted or unknown:
        raise ValidationError(f"choose scopes among {', '.join(SCOPES)}" + (f"; unknown: {', '.join(sorted(unknown))}" if unknown else ""),
                              field="scopes")

    def work(connection: Connection) -> tuple[int, str]:
        owner = person(connection, participant_id)
        if not wanted <= _allowed(owner.role):
            raise Forbidden(f"only an operator's token may have the scope {OPERATOR!r}", scope=OPERATOR)
        secret = new_token(TOKEN_PREFIX)
        token_id = connection.execute(insert(access_tokens).values(
            participant_id=participant_id, name=name, token_hash=token_hash(secret), scopes=" ".join(sorted(wanted)),
            created_at=deployment.clock.now(),
        )).inserted_primary_key[0]
        return token_id, secret

    return run_in_transaction(deployment.engine, work)


def list_access_tokens(deployment: Deployment, participant_id: int) -> list[AccessToken]:
    """The participant's tokens that still work, oldest first."""
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(access_tokens).where(access_tokens.c.participant_id == participant_id, access_tokens.c.revoked_at.is_(None))
            .order_by(access_tokens.c.id)
        ).all()
    return [AccessToken(r.id, r.name, frozenset(r.scopes.split()), r.created_at, r.last_used_at) for r in rows]


def revoke_access_token(deployment: Deployment, participant_id: int, token_id: int) -> None:
    """Revoke one of the participant's own tokens; anyone else's is "not found", like one that never was."""

    def work(connection: Connection) -> None:
        revoked = connection.execute(
            update(access_tokens)
            .where(access_tokens.c.id == token_id, access_tokens.c.participant_id == participant_id,
                   access_tokens.c.revoked_at.is_(None))
            .values(revoked_at=deployment.clock.now())
        ).rowcount
        if not revoked:
            raise NotFound(f"no token #{token_id}")

    run_in_transaction(deployment.engine, work)



def _token_owners():
    # Built once: every API call made with a token runs it.
    return (
        select(access_tokens.c.token_hash, access_tokens.c.id.label("token_id"), access_tokens.c.scopes,
               access_tokens.c.last_used_at, *_who())
        .join(participants, participants.c.id == access_tokens.c.participant_id)
        .where(access_tokens.c.token_hash.in_(bindparam("hashes", expanding=True)), access_tokens.c.revoked_at.is_(None))
    )


_TOUCH = update(access_tokens).where(access_tokens.c.id.in_(bindparam("ids", expanding=True))).values(
    last_used_at=bindparam("now"))


def authenticate_token(deployment: Deployment, secret: str) -> Principal | None:
    """The participant behind a bearer token; None if it is unknown, revoked or its account frozen."""
    return authenticate_tokens(deployment, [secret])[0]


def authenticate_tokens(deployment: Deployment, secrets: Sequence[str]) -> list[Principal | None]:
    """``authenticate_token`` for many tokens in one query: the API checks the tokens of concurrent calls together."""
    hashes = [token_hash(secret) if (secret or "").startswith(TOKEN_PREFIX) else None for secret in secrets]
    with reading(deployment.engine) as connection:
        found = {row.token_hash: row for row in connection.execute(_TOKEN_OWNERS, {"hashes": [h for h in hashes if h]})}
    now = deployment.clock.now()
    stale = sorted({row.token_id for row in found.values()
                    if not row.frozen and (row.last_used_at is None or row.last_used_at <= now - TOUCH_EVERY)})
    if stale:
        run_in_transaction(deployment.engine, lambda c: c.execute(_TOUCH, {"ids": stale, "now": now}))
    return [_token_principal(found.get(h)) for h in hashes]


def _token_principal(found: Row | None) -> Principal | None:
    if found is None or found.frozen:
        return None
    # A token keeps only the scopes its owner's role still allows (an ex-operator's loses "operator").
    scopes = frozenset(found.scopes.split()) & _allowed(found.role)
    return Principal(found.id, found.handle, found.role, scopes, "token", None)


# -- two-factor sign-in ------------------------------------------------------------------------


def begin_totp(deployment: Deployment, participant_id: int) -> tuple[str, str]:
    """A new secret, not yet in force: ``confirm_totp`` with a first code switches it on."""
    secret = new_totp_secret()

    def change(found: Row, now: datetime) -> dict:
        if found.totp_enabled:
            raise Conflict("two-factor sign-in is already on; switch it off first")
        return {"totp_secret": secret}

    found = _change_credentials(deployment, participant_id, change)
    return secret, totp_uri(secret, found.handle, deployment.settings.name)


def confirm_totp(deployment: Deployment, participant_id: int, code: str) -> None:
    def change(found: Row, now: datetime) -> dict:
        if found.totp_enabled:
            raise Conflict("two-factor sign-in is already on")
        if found.totp_secret is None:
            raise Conflict("begin two-factor sign-in first, to get a secret")
        return {"totp_enabled": True, **_require_code(found, code, now)}

    _change_credentials(deployment, participant_id, change)


def disable_totp(deployment: Deployment, participant_id: int, code: str) -> None:
    def change(found: Row, now: datetime) -> dict:
        if not found.totp_enabled:
            raise Conflict("two-factor sign-in is off")
        _require_code(found, code, now)
        return {"totp_enabled": False, "totp_secret": None, "totp_last_step": None}

    _change_credentials(deployment, participant_id, change)


# -- profile and the operator's switches -------------------------------------------------------


def profile(deployment: Deployment, participant_id: int) -> Profile:
    with reading(deployment.engine) as connection:
        found = connection.execute(
            select(participants, credentials.c.email, credentials.c.email_verified_at, credentials.c.totp_enabled)
            .select_from(participants.outerjoin(credentials, credentials.c.participant_id == participants.c.id))
            .where(participants.c.id == participant_id, participants.c.kind == "person")
        ).first()
    if found is None:
        raise NotFound(f"no participant #{participant_id}")
    return Profile(
        id=found.id, handle=found.handle, email=found.email, email_verified=found.email_verified_at is not None,
        preferred_currency=found.preferred_currency, language=found.language, role=found.role, listed=found.listed,
        totp_enabled=bool(found.totp_enabled), auto_submit_sites=list(found.auto_submit_sites or []),
    )


def update_profile(
    deployment: Deployment,
    participant_id: int,
    *,
    preferred_currency: str | None = None,
    language: str | None = None,
    listed: bool | None = None,
    email: str | None = None,
    auto_submit_sites: list[str] | None = None,
    mailer: Mailer | None = None,
) -> None:
    """Change what is given; a new address is unverified until its mailed link is opened."""
    changes: dict = {}
    if preferred_currency is not None:
        changes["preferred_currency"] = deployment.currencies.get(preferred_currency).code
    if language is not None:
        changes["language"] = _check_language(language)
    if listed is not None:
        changes["listed"] = listed
    if auto_submit_sites is not None:
        changes["auto_submit_sites"] = clean_sites(auto_submit_sites)
    address = None if email is None else _address(email)

    def work(connection: Connection) -> _Letter | None:
        person(connection, participant_id)
        if changes:
            connection.execute(update(participants).where(participants.c.id == participant_id).values(**changes))
        current = connection.execute(select(credentials.c.email).where(credentials.c.participant_id == participant_id)).first()
        if address is None or current is None or current.email == address:
            return None
        _refuse_taken(connection, address=address)
        connection.execute(update(credentials).where(credentials.c.participant_id == participant_id).values(
            email=address, email_verified_at=None, updated_at=deployment.clock.now()))
        return _issue(connection, deployment, "verify", person(connection, participant_id), address)

    letter = run_in_transaction(deployment.engine, work)
    if letter is not None:
        _send(deployment, mailer, letter)


def set_role(deployment: Deployment, participant_id: int, role: str) -> None:
    if role not in ROLES:
        raise ValidationError(f"a role is one of {', '.join(ROLES)}", field="role")
    run_in_transaction(deployment.engine, lambda c: _set_person(c, participant_id, role=role))


def freeze(deployment: Deployment, participant_id: int, frozen: bool = True) -> None:
    """Freeze (or thaw) an account: a frozen one cannot sign in, and its sessions end at once."""

    def work(connection: Connection) -> None:
        _set_person(connection, participant_id, frozen=frozen)
        if frozen:
            connection.execute(delete(sessions).where(sessions.c.participant_id == participant_id))

    run_in_transaction(deployment.engine, work)


# -- helpers -----------------------------------------------------------------------------------


def _folded_handle(handle: str) -> str:
    """Handles are case-folded, so "Alice" and "alice" are one; the rest of the rules are the registry's."""
    return (handle or "").lower()


def _address(email: str) -> str:
    address = (email or "").strip().lower()
    if len(address) > EMAIL_MAX or not EMAIL.fullmatch(address):
        raise ValidationError("this is not an e-mail address", field="email")
    return address


def _check_password(password: str) -> None:
    if len(password or "") not in PASSWORD_LENGTH:
        raise ValidationError(f"a password is {PASSWORD_LENGTH.start} to {PASSWORD_LENGTH.stop - 1} characters",
                              field="password")


def _check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError(f"a language is one of {', '.join(LANGUAGES)}", field="language")
    return language


def _refuse_taken(connection: Connection, handle: str | None = None, address: str | None = None) -> None:
    if handle is not None and connection.execute(
        select(participants.c.id).where(func.lower(participants.c.handle) == handle)
    ).first():
        raise Conflict(f"the handle {handle!r} is taken", field="handle")
    if address is not None and connection.execute(select(credentials.c.participant_id).where(credentials.c.email == address)).first():
        raise Conflict("this e-mail address belongs to another account", field="email")


def _issue(connection: Connection, deployment: Deployment, purpose: str, owner: Row, address: str) -> _Letter:
    """A single-use link token for ``address``; only its hash is stored."""
    token = new_token()
    connection.execute(insert(email_tokens).values(
        participant_id=owner.id, purpose=purpose, email=address, token_hash=token_hash(token),
        expires_at=deployment.clock.now() + LINK_LIFETIME[purpose],
    ))
    return _Letter(purpose, owner.id, token, address, owner.handle, owner.language)


def _consume(connection: Connection, deployment: Deployment, token: str, purpose: str) -> Row:
    """Use up a mailed link, which must still be unused, in time, and for the account's current address."""
    now = deployment.clock.now()
    found = connection.execute(
        select(email_tokens).join(credentials, credentials.c.participant_id == email_tokens.c.participant_id)
        .where(email_tokens.c.token_hash == token_hash(token or ""), email_tokens.c.purpose == purpose,
               email_tokens.c.used_at.is_(None), email_tokens.c.expires_at > now, credentials.c.email == email_tokens.c.email)
        .with_for_update(of=email_tokens)
    ).first()
    if found is None:
        raise ValidationError("this link is unknown, used or expired; ask for a new one", field="token")
    connection.execute(update(email_tokens).where(email_tokens.c.id == found.id).values(used_at=now))
    return found


def _send(deployment: Deployment, mailer: Mailer | None, letter: _Letter) -> None:
    """Mail a link. A mail server that fails does not undo what was committed: the person can ask again."""
    subject, text = LETTERS.get((letter.purpose, letter.language)) or LETTERS[letter.purpose, "en"]
    link = f"{deployment.settings.http.base_url.rstrip('/')}/{LINK_PAGE[letter.purpose]}?token={letter.token}"
    body = text.format(handle=letter.handle, platform=deployment.settings.name, link=link)
    try:
        (mailer or mailer_for(deployment.settings)).send(letter.to, subject, body)
    except OSError:  # smtplib's errors included
        log.exception("could not mail the %s link of %r", letter.purpose, letter.handle)


def _who() -> tuple:
    """The participant columns a Principal is made of."""
    return participants.c.id, participants.c.handle, participants.c.role, participants.c.frozen


def _allowed(role: str) -> frozenset[str]:
    """The scopes a role may use: all of them for a session, and the most a token may carry."""
    return frozenset(SCOPES) | ({OPERATOR} if role == OPERATOR else frozenset())


def _change_credentials(deployment: Deployment, participant_id: int, change: Callable[[Row, datetime], dict]) -> Row:
    """Apply ``change`` (which may refuse by raising) to a person's credentials; returns them as they were."""

    def work(connection: Connection) -> Row:
        person(connection, participant_id)
        found = connection.execute(
            select(credentials, participants.c.handle).join(participants, participants.c.id == credentials.c.participant_id)
            .where(credentials.c.participant_id == participant_id).with_for_update(of=credentials)
        ).first()
        if found is None:
            raise NotFound(f"participant #{participant_id} has no sign-in")
        now = deployment.clock.now()
        connection.execute(update(credentials).where(credentials.c.participant_id == participant_id)
                           .values(updated_at=now, **change(found, now)))
        return found

    return run_in_transaction(deployment.engine, work)


def _require_code(found: Row, code: str, now: datetime) -> dict:
    """The change that records ``code`` as used (the caller holds the credentials row locked)."""
    return {"totp_last_step": _fresh_step(found, code or "", now, ValidationError)}


TOTP_REFUSED = "this code is wrong, too old or already used; send the one your app shows next"


def _fresh_step(found: Row, code: str, now: datetime, error: type[GatewayError]) -> int:
    step = totp_step(found.totp_secret, code, now)
    if step is None or (found.totp_last_step is not None and step <= found.totp_last_step):
        raise error(TOTP_REFUSED, **({"field": "code"} if error is ValidationError else {}))
    return step


def _take_step(connection: Connection, participant_id: int, step: int, error: type[GatewayError]) -> None:
    """Record ``step`` as used, unless a sign-in at the same moment took it (or a later one) first."""
    taken = connection.execute(
        update(credentials)
        .where(credentials.c.participant_id == participant_id,
               (credentials.c.totp_last_step.is_(None)) | (credentials.c.totp_last_step < step))
        .values(totp_last_step=step)
    ).rowcount
    if not taken:
        raise error(TOTP_REFUSED)


def _set_person(connection: Connection, participant_id: int, **values) -> None:
    changed = connection.execute(
        update(participants).where(participants.c.id == participant_id, participants.c.kind == "person").values(**values)
    ).rowcount
    if not changed:
        raise NotFound(f"no participant #{participant_id}")


_TOKEN_OWNERS = _token_owners()
