"""The gateway's languages: its message catalogs, read from the ``.po`` files at start, for pages and mail alike.

One catalog a language, ``gateway/locale/<lang>/LC_MESSAGES/messages.po``,
written by ``make messages`` (``pybabel extract`` and ``update``) and by
translators; there is no compile step: ``read_po`` reads each file once, the
first time its language is asked for (``gateway serve`` asks for all at
start, so a broken catalog stops it there). English is the source language:
its msgids are the English texts, so its catalog has no translations to give.

Texts that are defined before a language is known (a mail's subject and body,
at import) are marked with ``N_`` for extraction and translated when used
(``translate``). Placeholders are Python's named ones, ``%(handle)s``.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

from gateway.rules import LANGUAGES

DEFAULT = "en"  # the source language, and the language of whoever has no other
DOMAIN = "messages"
LOCALE_DIR = Path(__file__).resolve().parent / "locale"
# The Babel locale each language formats numbers and dates with.
LOCALES = {"en": "en", "fr": "fr_FR"}


def N_(message: str) -> str:
    """Mark ``message`` for extraction; it is translated later, once its reader's language is known."""
    return message


def catalog_path(language: str, root: Path = LOCALE_DIR) -> Path:
    return root / language / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(path: Path, language: str) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=LOCALES.get(language, language), domain=DOMAIN)


def translations_of(catalog: Catalog) -> Translations:
    """A catalog as gettext translations: its fuzzy and empty entries left out, so that they fall back to English."""
    compiled = io.BytesIO()
    write_mo(compiled, catalog, use_fuzzy=False)
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


@cache
def translations(language: str) -> Translations:
    """The translations of ``language``, read once; a language the gateway has no catalog for is English."""
    if language not in LANGUAGES:
        language = DEFAULT
    return translations_of(read_catalog(catalog_path(language), language))


def load_all() -> None:
    """Read every catalog now: at start, so that a broken one stops the server before it serves."""
    for language in LANGUAGES:
        translations(language)


def translate(language: str, message: str, params: Mapping[str, object] | None = None) -> str:
    """``message`` in ``language``, its named placeholders filled from ``params``."""
    text = translations(language).gettext(message)
    return text % dict(params) if params is not None else text


def locale_of(language: str) -> str:
    """The Babel locale that formats numbers and dates for ``language``."""
    return LOCALES.get(language, LOCALES[DEFAULT])
