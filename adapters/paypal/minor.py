"""PayPal's amounts: decimal strings, with PayPal's own number of decimals per currency.

PayPal's REST reference ("Currency codes") lists the currencies it takes and
says that HUF, JPY and TWD "do not support decimals. If you pass a decimal
amount, an error occurs." Every other listed currency takes two. This is
PayPal's rule, not ISO 4217's: ISO gives HUF and TWD two decimals, so our
ledger counts them in hundredths, and an amount such as 10.50 HUF exists for
us but cannot be sent to PayPal. ``to_paypal`` refuses it with a clear error
rather than rounding money away.

Amounts are ``Decimal`` both ways, never float: a ``float`` is refused. A
ledger amount in integer minor units becomes a ``Decimal`` through the
currency's own unit first (``currencies.unit.major_units``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from types import MappingProxyType

from adapters.paypal.errors import PayPalAmountError

# PayPal's REST currency codes and their decimals (developer.paypal.com, "Currency codes").
# BRL, CNY and MYR are for in-country accounts only; PayPal still takes them with two decimals.
PAYPAL_DECIMALS: Mapping[str, int] = MappingProxyType(
    {
        "AUD": 2,
        "BRL": 2,
        "CAD": 2,
        "CHF": 2,
        "CNY": 2,
        "CZK": 2,
        "DKK": 2,
        "EUR": 2,
        "GBP": 2,
        "HKD": 2,
        "HUF": 0,
        "ILS": 2,
        "JPY": 0,
        "MXN": 2,
        "MYR": 2,
        "NOK": 2,
        "NZD": 2,
        "PHP": 2,
        "PLN": 2,
        "RUB": 2,
        "SEK": 2,
        "SGD": 2,
        "THB": 2,
        "TWD": 0,
        "USD": 2,
    }
)

# PayPal's ``money.value`` pattern, ASCII digits only (``"٣.٠٠"`` is no amount), at most 32 characters.
_VALUE = re.compile(r"-?(?:[0-9]+|[0-9]*\.[0-9]+)", re.ASCII)
_MAX_LENGTH = 32


def paypal_decimals(currency: str) -> int:
    """How many decimals PayPal takes in ``currency``; a currency PayPal does not list is an error."""
    try:
        return PAYPAL_DECIMALS[currency]
    except KeyError:
        raise PayPalAmountError(f"PayPal does not take the currency {currency!r}", name="CURRENCY_NOT_SUPPORTED") from None


def to_paypal(amount: Decimal, currency: str) -> str:
    """Our amount as PayPal's decimal string: ``Decimal("10.5"), "EUR"`` gives ``"10.50"``, ``Decimal(1000), "JPY"`` ``"1000"``.

    Refused: a float (or anything but a Decimal or an int), a value that is not
    finite, a negative amount, and an amount with more precision than PayPal
    takes in that currency (``Decimal("10.50"), "HUF"``: HUF takes no decimals at PayPal).
    """
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise PayPalAmountError(f"amounts are Decimal, never {type(amount).__name__}: {amount!r}", name="AMOUNT_NOT_DECIMAL")
    decimals = paypal_decimals(currency)
    value = Decimal(amount)
    if not value.is_finite() or value < 0:
        raise PayPalAmountError(f"{value} {currency} is not an amount PayPal can take", name="AMOUNT_INVALID")
    quantum = Decimal(1).scaleb(-decimals)
    try:
        exact = value.quantize(quantum)
    except InvalidOperation:
        raise PayPalAmountError(f"{value} {currency} is too large for PayPal", name="AMOUNT_INVALID") from None
    if exact != value:
        unit = "no decimals" if decimals == 0 else f"at most {decimals} decimals"
        raise PayPalAmountError(
            f"{value} {currency} cannot be sent to PayPal: PayPal takes {unit} in {currency}",
            name="AMOUNT_NOT_REPRESENTABLE",
        )
    text = f"{abs(exact):f}" if exact == 0 else f"{exact:f}"  # never "-0"
    if len(text) > _MAX_LENGTH:
        raise PayPalAmountError(f"{value} {currency} is too large for PayPal", name="AMOUNT_INVALID")
    return text


def from_paypal(value: str, currency: str) -> Decimal:
    """PayPal's decimal string as our Decimal, at PayPal's number of decimals: ``"10.5", "EUR"`` gives ``Decimal("10.50")``.

    Refused: anything but a string of ASCII digits with at most one point (a
    JSON number, which a parser may have made a float, is refused), and more
    decimals than PayPal uses in that currency.
    """
    if not isinstance(value, str) or len(value) > _MAX_LENGTH or not _VALUE.fullmatch(value):
        raise PayPalAmountError(
            f"PayPal sent {value!r} as an amount of {currency}: not a decimal string", name="AMOUNT_UNREADABLE"
        )
    decimals = paypal_decimals(currency)
    parsed = Decimal(value)
    quantum = Decimal(1).scaleb(-decimals)
    try:
        exact = parsed.quantize(quantum)
    except InvalidOperation:
        raise PayPalAmountError(
            f"PayPal sent {value!r} as an amount of {currency}: too large", name="AMOUNT_UNREADABLE"
        ) from None
    if exact != parsed:
        raise PayPalAmountError(
            f"PayPal sent {value!r} {currency}, more decimals than PayPal uses in {currency} ({decimals})",
            name="AMOUNT_UNREADABLE",
        )
    return exact
