"""The rules that input must meet, each defined once.

The use cases enforce them with the ``check_*`` functions; the HTTP schemas
put the same patterns and bounds into the OpenAPI document, so what a client
reads there is what the server checks. Patterns are written without anchors
(``anchored`` adds them) and with ``[0-9]``, never ``\\d``, which would match
the digits of every script.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from gateway.errors import ValidationError

HANDLE = r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}"  # a participant's public name
HANDLE_MAX = 64
TOTP_CODE = r"^[0-9]{6}$"  # a one-time code: six ASCII digits
CURRENCY = r"[A-Z][A-Z0-9]{2,11}"  # an ISO 4217 code, or a community currency's
LANGUAGES = ("en", "fr")  # the languages of the site and its mail
CONTENT_LANGUAGE = r"[a-z]{2,3}(-[A-Za-z0-9]{2,8})?"  # what a thing is written in: a BCP 47 language and region
TITLE_MAX = 300
DESCRIPTION_MAX = 10_000
CATEGORY_MAX = 32
TAGS_MAX = 10
TAG_MAX = 40
PASSWORD_MIN = 10
PASSWORD_MAX = 200
EMAIL = r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+"  # nothing a mail header splits on
EMAIL_MAX = 254
TOKEN_NAME_MAX = 100
IDEMPOTENCY_KEY_MAX = 200
MEMO_MAX = 200  # what a payment between members says it is for

MULTILINE = frozenset({"description", "sites"})  # the fields whose text may hold line breaks and tabs (sites: one a line)
MAX_DEPTH = 32  # how deep a request's JSON may nest: far beyond any of the API's bodies

# Control characters (C0, DEL, C1): never in a text field; tabs and line breaks only where MULTILINE says.
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CONTROL_BUT_BREAKS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")  # half of a UTF-16 pair, alone: no character at all

_HANDLE = re.compile(HANDLE)
_EMAIL = re.compile(EMAIL)


def anchored(pattern: str) -> str:
    """``pattern`` as a whole-string match, as JSON Schema's ``pattern`` (a search) needs it."""
    return f"^(?:{pattern})$"


def text_problem(text: str, field: str) -> str | None:
    """What is wrong with ``text`` as the value of ``field`` (a dotted path); None: nothing.

    Text must be what a database stores and a page shows as it is: PostgreSQL
    refuses a NUL, and a lone surrogate cannot be encoded at all, so either
    would fail at the database, or later, each time the text is read.
    """
    if _SURROGATE.search(text):
        return "not valid Unicode (a lone surrogate)"
    control = _CONTROL_BUT_BREAKS if field.rpartition(".")[2] in MULTILINE else _CONTROL
    if control.search(text):
        return "control characters are not allowed here"
    return None


def check_handle(handle: str) -> str:
    if not _HANDLE.fullmatch(handle or ""):
        raise ValidationError(f"a handle is 1 to {HANDLE_MAX} letters, digits, '_', '.' or '-'", field="handle")
    return handle


def check_address(email: str) -> str:
    """An e-mail address as stored: trimmed and lower-cased."""
    address = (email or "").strip().lower()
    if len(address) > EMAIL_MAX or not _EMAIL.fullmatch(address):
        raise ValidationError("this is not an e-mail address", field="email")
    return address


def check_password(password: str) -> str:
    if not PASSWORD_MIN <= len(password or "") <= PASSWORD_MAX:
        raise ValidationError(f"a password is {PASSWORD_MIN} to {PASSWORD_MAX} characters", field="password")
    return password


def check_language(language: str) -> str:
    if language not in LANGUAGES:
        raise ValidationError(f"a language is one of {', '.join(LANGUAGES)}", field="language")
    return language


def check_title(title: str) -> str:
    if not 1 <= len(title or "") <= TITLE_MAX or not title.strip():
        raise ValidationError(f"a thing's title is 1 to {TITLE_MAX} characters", field="title")
    return title


def check_tags(tags: Iterable[str]) -> list[str]:
    """A thing's tags as stored: trimmed, lower-cased, each once, sorted."""
    cleaned = sorted({tag.strip().lower() for tag in tags if tag.strip()})
    if len(cleaned) > TAGS_MAX or any(len(tag) > TAG_MAX for tag in cleaned):
        raise ValidationError(f"at most {TAGS_MAX} tags of at most {TAG_MAX} characters", field="tags")
    return cleaned


def check_memo(memo: str | None) -> str | None:
    """A payment's memo as stored: trimmed, one line of at most ``MEMO_MAX`` characters; None (or blank) for none."""
    text = (memo or "").strip()
    if len(text) > MEMO_MAX:
        raise ValidationError(f"a memo is at most {MEMO_MAX} characters", field="memo")
    problem = text_problem(text, "memo")
    if problem is not None:
        raise ValidationError(f"memo: {problem}", field="memo")
    return text or None


def check_idempotency_key(key: str) -> str:
    if not 1 <= len(key or "") <= IDEMPOTENCY_KEY_MAX:
        raise ValidationError(f"an idempotency key is 1 to {IDEMPOTENCY_KEY_MAX} characters")
    return key
