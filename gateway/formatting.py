"""Amounts and dates written for a reader's language (pages, and mail that shows an amount).

ISO money goes through Babel with the currency's own digits (``1 234,50 €``
in French, ``€1,234.50`` in English), never rounded. A community currency is
written the way its unit writes it (``CurrencyUnit.format_amount``: ``12.50``,
or ``1:30`` for hours), with the language's digit grouping and decimal
separator where the amount is a plain decimal, and its code after it.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from decimal import Decimal

from babel.dates import format_date, format_datetime
from babel.numbers import format_currency, format_decimal

from currencies.unit import CurrencyUnit
from gateway.i18n import locale_of

ISO = "fiat"  # the kind whose codes are ISO 4217's, which Babel knows the symbols and digits of
_PLAIN_DECIMAL = re.compile(r"-?[0-9]+(\.([0-9]+))?")


def money(unit: CurrencyUnit, minor: int, language: str) -> str:
    """``minor`` units of ``unit`` as a reader of ``language`` writes an amount."""
    locale = locale_of(language)
    if unit.kind == ISO:
        # Babel pads to the currency's digits; decimal_quantization=False makes sure it never rounds one away.
        return format_currency(unit.from_minor(minor).amount, unit.code, locale=locale, decimal_quantization=False)
    return f"{community_amount(unit, minor, language)}\N{NO-BREAK SPACE}{unit.code}"


def community_amount(unit: CurrencyUnit, minor: int, language: str) -> str:
    """The amount alone, as the unit writes it, with the language's separators where it is a plain decimal."""
    text = unit.format_amount(minor)
    plain = _PLAIN_DECIMAL.fullmatch(text)
    if plain is None:
        return text  # hours (1:30), or a plugin's own notation: the same in every language
    digits = len(plain.group(2) or "")
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(Decimal(text), format=pattern, locale=locale_of(language), decimal_quantization=False)


def day(value: date | datetime, language: str, length: str = "long") -> str:
    """A date (``15 octobre 2026``, ``October 15, 2026``)."""
    if isinstance(value, datetime):
        value = value.astimezone(UTC).date()
    return format_date(value, format=length, locale=locale_of(language))


def moment(value: datetime, language: str, length: str = "medium") -> str:
    """A date and time, in UTC (the gateway's clock)."""
    return format_datetime(value.astimezone(UTC), format=length, tzinfo=UTC, locale=locale_of(language))
