"""Secrets: password hashes, random tokens, one-time codes, constant-time compares.

Passwords are kept as argon2id hashes (the library's current parameters, so a
new release that raises them makes old hashes due for a rehash). Random tokens
carry enough entropy that a plain SHA-256 of them is a safe thing to store:
a stolen table then gives nobody a session or an API token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime
from functools import cache

import pyotp
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

_hasher = PasswordHasher()
TOKEN_BYTES = 32  # 256 bits, written as 43 URL-safe characters


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """Whether the hash was made with other parameters than today's."""
    return _hasher.check_needs_rehash(password_hash)


@cache
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(TOKEN_BYTES))


def burn_verify(password: str) -> None:
    """Spend the time a real check takes, so an unknown login answers no faster than a known one."""
    verify_password(_dummy_hash(), password)


def new_token(prefix: str = "") -> str:
    """A random secret, safe in a URL, a cookie or a header."""
    return prefix + secrets.token_urlsafe(TOKEN_BYTES)


def token_hash(token: str) -> str:
    """What is stored of a random token: 64 hex digits."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()  # whatever came in: no error, no match


def same(left: str, right: str) -> bool:
    """Compare secrets in constant time."""
    return hmac.compare_digest(left.encode(), right.encode())


def new_totp_secret() -> str:
    return pyotp.random_base32()


def totp_uri(secret: str, account: str, issuer: str) -> str:
    """The otpauth:// address an authenticator app reads (usually from a QR code)."""
    return pyotp.TOTP(secret).provisioning_uri(name=account, issuer_name=issuer)


def totp_step(secret: str, code: str, at: datetime) -> int | None:
    """The time step whose code ``code`` is, at ``at`` or one step either side (clocks drift); None if none.

    The caller keeps the last step used, and takes only a later one: a code seen once is no good again.
    """
    if not (len(code) == 6 and code.isascii() and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret)
    now = totp.timecode(at)
    matches = [step for step in (now - 1, now, now + 1) if same(totp.generate_otp(step), code)]
    return matches[-1] if matches else None
