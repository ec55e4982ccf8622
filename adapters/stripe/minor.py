"""Amounts as Stripe's API takes them: an integer in the currency's smallest unit, by Stripe's own table.

Stripe's table (docs.stripe.com/currencies) is not ISO 4217's, so the rail
converts from the exact ``Decimal`` amount, never from our ledger's minor
units and never through a float:

- two decimals unless listed (EUR 2.25 is 225);
- zero-decimal currencies (JPY 500 is 500);
- three-decimal currencies (KWD 5.120 is 5120), whose last digit must be 0;
- ISK and UGX "transitioned to a zero-decimal currency, but backward
  compatibility requires you to represent it as a two-decimal value, where
  the decimal amount is always 00" (ISK 5 is 500; 5.50 is refused), for
  charges, refunds and payouts alike. Stripe's list of zero-decimal
  currencies still names UGX too: the special case is the rule;
- HUF and TWD are two-decimal for charges (HUF 10.45 is 1045), but a payout
  must be whole units, an amount divisible by 100 (HUF 10 is 1000).

An amount that Stripe cannot take as it is (too many decimals, a fraction
where only whole units are taken, not positive) is refused with
``StripeAmountRefused``: nothing is rounded here, rounding is the
caller's decision. The special cases are the page's own ("Special cases").
"""

from __future__ import annotations

import re
from decimal import Decimal

from adapters.stripe.errors import StripeAmountRefused

ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "VND", "VUV", "XAF", "XOF", "XPF"}
)
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})  # the last of the three digits must be 0
WHOLE_UNITS_ONLY = frozenset({"ISK", "UGX"})  # two-decimal in the API, every amount a multiple of 100
WHOLE_UNIT_PAYOUTS = frozenset({"HUF", "TWD"})  # two-decimal charges, payouts a multiple of 100
MAX_DIGITS = 12  # "12 digits for most card payments": the most any Stripe amount has

_CODE = re.compile(r"[A-Z]{3}")


def exponent(currency: str) -> int:
    """How many digits after the point Stripe's API counts in ``currency`` (ISK, UGX and HUF: 2, JPY: 0, KWD: 3)."""
    code = _code(currency)
    if code in ZERO_DECIMAL:
        return 0
    if code in THREE_DECIMAL:
        return 3
    return 2


def to_stripe_charge(amount: Decimal, currency: str) -> int:
    """``amount`` of ``currency`` as the integer a PaymentIntent, a refund or a dispute takes."""
    code = _code(currency)
    minor = _scaled(amount, code, "a charge")
    if code in THREE_DECIMAL and minor % 10:
        raise StripeAmountRefused(
            f"{amount} {code}: Stripe takes {code} amounts to two decimals only (the third digit must be 0)",
            amount=str(amount),
            currency=code,
        )
    if code in WHOLE_UNITS_ONLY and minor % 100:
        raise StripeAmountRefused(f"{amount} {code}: Stripe takes whole {code} only", amount=str(amount), currency=code)
    return minor


def to_stripe_payout(amount: Decimal, currency: str) -> int:
    """``amount`` of ``currency`` as the integer a transfer or payout to a creator takes.

    Stricter than a charge: HUF and TWD are paid out in whole units only.
    """
    code = _code(currency)
    minor = to_stripe_charge(amount, code)
    if code in WHOLE_UNIT_PAYOUTS and minor % 100:
        raise StripeAmountRefused(
            f"{amount} {code}: Stripe pays out whole {code} only (an amount divisible by 100 in its API)",
            amount=str(amount),
            currency=code,
        )
    return minor


def from_stripe(minor: int, currency: str) -> Decimal:
    """The exact amount an integer of Stripe's API stands for (charges, refunds, fees, transfers alike)."""
    if not isinstance(minor, int) or isinstance(minor, bool):
        raise TypeError(f"a Stripe amount is an integer, not {type(minor).__name__}")
    return Decimal(minor).scaleb(-exponent(currency))


def _code(currency: str) -> str:
    code = currency.upper() if isinstance(currency, str) else ""
    if not _CODE.fullmatch(code):
        raise StripeAmountRefused(f"{currency!r} is not a currency code", currency=str(currency))
    return code


def _scaled(amount: Decimal, code: str, what: str) -> int:
    if not isinstance(amount, Decimal):
        raise TypeError(f"an amount is a Decimal, not {type(amount).__name__} (never a float)")
    if not amount.is_finite():
        raise StripeAmountRefused(f"{amount} {code} is not an amount", amount=str(amount), currency=code)
    if amount <= 0:
        raise StripeAmountRefused(f"{amount} {code}: {what} takes a positive amount", amount=str(amount), currency=code)
    scaled = amount.scaleb(exponent(code))
    if scaled != scaled.to_integral_value():
        raise StripeAmountRefused(
            f"{amount} {code}: Stripe takes {code} to {exponent(code)} decimal(s)", amount=str(amount), currency=code
        )
    minor = int(scaled)
    if len(str(minor)) > MAX_DIGITS:
        raise StripeAmountRefused(f"{amount} {code} is larger than any amount Stripe takes", amount=str(amount), currency=code)
    return minor
