"""Exchange rates: the provider interface, a static table, and exact conversion.

A rate is a ``Decimal`` with the date it is valid for; every conversion the
ledger records keeps both, so a statement can always say what rate was used.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_DOWN, Decimal, localcontext
from typing import Protocol

from currencies.unit import CurrencyUnit
from gateway.errors import ValidationError


@dataclass(frozen=True)
class Rate:
    """``1 base = value quote``, as published on ``on`` by ``source``."""

    base: str
    quote: str
    value: Decimal
    on: date
    source: str

    def inverse(self) -> Rate:
        with localcontext() as ctx:
            ctx.prec = 28
            return Rate(self.quote, self.base, 1 / self.value, self.on, self.source)


class RateProvider(Protocol):
    name: str

    def rate(self, base: str, quote: str, on: date) -> Rate:
        """The rate in force on ``on``; raises ``ValidationError`` when there is none."""
        ...


class StaticRates:
    """A table from the deployment file: ``"EUR/USD" = "1.10"``; inverses are derived.

    The rates carry the table's date when the file gives one, else the date
    of the conversion: the operator's table is then the rate in force.
    """

    name = "static"

    def __init__(self, table: Mapping[tuple[str, str], Decimal], on: date | None = None) -> None:
        self._table = dict(table)
        self._on = on

    def rate(self, base: str, quote: str, on: date) -> Rate:
        published = self._on or on
        if base == quote:
            return Rate(base, quote, Decimal(1), on, self.name)
        if (base, quote) in self._table:
            return Rate(base, quote, self._table[base, quote], published, self.name)
        if (quote, base) in self._table:
            return Rate(quote, base, self._table[quote, base], published, self.name).inverse()
        raise ValidationError(f"no exchange rate from {base} to {quote}", base=base, quote=quote)


class ChainedRates:
    """Ask each provider in turn (a static table first, say, then the ECB)."""

    def __init__(self, providers: list[RateProvider]) -> None:
        self.providers = providers
        self.name = "+".join(p.name for p in providers)

    def rate(self, base: str, quote: str, on: date) -> Rate:
        error: ValidationError | None = None
        for provider in self.providers:
            try:
                return provider.rate(base, quote, on)
            except ValidationError as exc:
                error = exc
        raise error or ValidationError(f"no exchange rate from {base} to {quote}")


def convert(minor: int, source: CurrencyUnit, target: CurrencyUnit, rate: Rate) -> int:
    """Convert minor units at ``rate``, rounding down to the target's minor unit.

    Rounding down means the exchange never pays out more than the exact value;
    the fraction left behind stays in the exchange account of the ledger.
    """
    if (rate.base, rate.quote) != (source.code, target.code):
        raise ValueError(f"rate {rate.base}/{rate.quote} does not convert {source.code} to {target.code}")
    with localcontext() as ctx:
        ctx.prec = 50
        exact = Decimal(minor) * rate.value * target.minor_per_major / source.minor_per_major
        return int(exact.to_integral_value(rounding=ROUND_DOWN))
