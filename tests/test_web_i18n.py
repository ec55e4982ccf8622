"""The catalogs, the choice of a page's language, and amounts and dates as each language writes them."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg

from gateway.config import settings_from_dict
from gateway.formatting import day, money
from gateway.i18n import DEFAULT, catalog_path, read_catalog, translate, translations_of
from gateway.rules import LANGUAGES
from gateway.web.language import accepted, negotiate
from tests.support import config

ROOT = Path(__file__).resolve().parent.parent
NBSP, NNBSP = "\N{NO-BREAK SPACE}", "\N{NARROW NO-BREAK SPACE}"


def extracted_msgids(root: Path = ROOT) -> set[str]:
    """Every text the code and the templates mark for translation, found as ``make messages`` finds them (babel.cfg)."""
    with (root / "babel.cfg").open() as mapping:
        method_map, options_map = parse_mapping_cfg(mapping)
    found = set()
    for _, _, message, _, _ in extract_from_dir(
        str(root), method_map, options_map, keywords={"_": None, "gettext": None, "ngettext": (1, 2), "N_": None}
    ):
        found.update([message] if isinstance(message, str) else [m for m in message if m])
    return found


def untranslated(catalog, msgids: set[str]) -> list[str]:
    """The msgids that ``catalog`` does not translate: absent, empty, or fuzzy (gettext ignores a fuzzy entry)."""
    missing = []
    for msgid in sorted(msgids):
        entry = catalog.get(msgid)
        if entry is None or not entry.string or entry.fuzzy:
            missing.append(msgid)
    return missing


def test_the_code_marks_texts_for_translation():
    msgids = extracted_msgids()
    assert "Sign up" in msgids and "Confirm your e-mail address" in msgids  # a template's, and a mail's
    assert len(msgids) > 50


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != DEFAULT])
def test_every_msgid_has_a_translation(language):
    """Each text of the code and the templates is translated: run `make messages`, then translate what it added."""
    catalog = read_catalog(catalog_path(language), language)
    assert untranslated(catalog, extracted_msgids()) == []
    # A translation keeps its placeholders: Babel's checkers compare them with the msgid's.
    assert [(message.id, errors) for message, errors in catalog.check() if errors] == []


def test_a_missing_translation_is_named(tmp_path):
    """The check above can fail: a catalog that lacks a msgid, leaves one empty or fuzzy, is caught for each."""
    po = tmp_path / "fr" / "LC_MESSAGES" / "messages.po"
    po.parent.mkdir(parents=True)
    po.write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=utf-8\\n"\n\n'
        'msgid "Sign up"\nmsgstr "S\'inscrire"\n\n'
        'msgid "Sign in"\nmsgstr ""\n\n'
        '#, fuzzy\nmsgid "Sign out"\nmsgstr "Se déconnecter"\n',
        encoding="utf-8",
    )
    catalog = read_catalog(po, "fr")
    assert untranslated(catalog, {"Sign up", "Sign in", "Sign out", "Your account"}) == ["Sign in", "Sign out", "Your account"]
    # And what gettext makes of it: the translated text in French, English for the rest.
    translations = translations_of(catalog)
    assert translations.gettext("Sign up") == "S'inscrire"
    assert translations.gettext("Sign in") == "Sign in" and translations.gettext("Sign out") == "Sign out"


def test_texts_are_translated_with_their_placeholders():
    assert translate("fr", "Sign up") == "S'inscrire"
    assert translate("en", "Sign up") == "Sign up"
    assert translate("de", "Sign up") == "Sign up"  # a language without a catalog reads English
    said = translate("fr", "Too many attempts: try again in %(seconds)s seconds.", {"seconds": 42})
    assert said == f"Trop de tentatives{NBSP}: réessayez dans 42 secondes."


@pytest.mark.parametrize(
    ("account", "cookie", "header", "expected"),
    [
        ("fr", "en", "en-US,en;q=0.9", "fr"),  # the account's setting comes first
        (None, "fr", "en-US,en;q=0.9", "fr"),  # then the visitor's choice
        (None, "en", "fr-FR,fr;q=0.9", "en"),
        (None, None, "fr-CA", "fr"),  # then Accept-Language, a region falling back to its language
        (None, None, "de-DE,fr;q=0.5,en;q=0.4", "fr"),
        (None, None, "en;q=0.2,fr;q=0.8", "fr"),  # by weight, not by order
        (None, None, "fr;q=0,en", "en"),  # q=0: not this one
        (None, None, "de, *", "en"),  # then English
        (None, None, None, "en"),
        (None, "xx", "garbage;;q=abc,,", "en"),  # nothing readable: English
        ("xx", None, "fr", "fr"),  # a setting the gateway does not speak is skipped
    ],
)
def test_the_language_is_the_accounts_then_the_cookies_then_the_browsers_then_english(account, cookie, header, expected):
    assert negotiate(account, cookie, header) == expected


def test_accept_language_is_read_by_weight_then_order():
    assert accepted("fr-CH, fr;q=0.9, en;q=0.8, de;q=0.7, *;q=0.5") == ["fr-ch", "fr", "en", "de"]
    assert accepted("en;q=0.5, fr;q=0.5") == ["en", "fr"]
    assert accepted("") == []


@pytest.fixture(scope="module")
def units():
    return settings_from_dict(config(), database_url="sqlite://").currencies


def plain(text: str) -> str:
    """``text`` with Babel's no-break spaces as plain ones, as the issue writes amounts."""
    return text.replace(NNBSP, " ").replace(NBSP, " ")


def test_iso_amounts_are_written_the_way_each_language_writes_them(units):
    eur = units.get("EUR")
    assert money(eur, 123450, "fr") == f"1{NNBSP}234,50{NBSP}€"
    assert plain(money(eur, 123450, "fr")) == "1 234,50 €"
    assert money(eur, 123450, "en") == "€1,234.50"
    assert money(eur, 5, "en") == "€0.05"
    assert money(units.get("JPY"), 1234, "en") == "¥1,234"  # no minor unit
    assert plain(money(units.get("KWD"), 1234500, "fr")) == "1 234,500 KWD"  # three
    assert money(eur, -250, "en") == "-€2.50"


def test_community_amounts_keep_their_units_writing(units):
    hours = units.get("HOUR")
    assert money(hours, 90, "en") == f"1:30{NBSP}HOUR"  # hours and minutes, the same in every language
    assert money(hours, 90, "fr") == f"1:30{NBSP}HOUR"
    assert money(hours, -45, "fr") == f"-0:45{NBSP}HOUR"
    lets = units.get("LETS")
    assert money(lets, 123450, "en") == f"1,234.50{NBSP}LETS"
    assert plain(money(lets, 123450, "fr")) == "1 234,50 LETS"  # the French decimal comma
    assert plain(money(lets, -1250, "fr")) == "-12,50 LETS"  # a member below zero, as mutual credit allows
    assert plain(money(units.get("WOE"), 700, "fr")) == "7,00 WOE"


def test_dates_are_written_in_each_language():
    moment = datetime(2026, 10, 15, 23, 30, tzinfo=UTC)
    assert day(moment, "fr") == "15 octobre 2026"
    assert day(moment, "en") == "October 15, 2026"
