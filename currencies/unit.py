"""A configured currency: how its Money maps to the ledger's integer minor units."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation, localcontext

from moneyed import Currency, Money

from gateway.errors import ValidationError

# Money that came from ``from_minor`` may be a rounded quotient (a minute is
# 1/60 hour); anything farther than this from a whole minor unit is rejected.
_ROUND_TRIP_TOLERANCE = Decimal("1e-18")


def minor_units(amount: Decimal, per_major: int) -> int:
    """``amount`` of a currency with ``per_major`` minor units to the unit, as an integer count."""
    scaled = Decimal(amount) * per_major
    whole = scaled.to_integral_value()
    if abs(scaled - whole) > _ROUND_TRIP_TOLERANCE:
        raise ValidationError(f"{amount} is not a whole number of 1/{per_major} units")
    return int(whole)


def major_units(minor: int, per_major: int) -> Decimal:
    """The inverse of ``minor_units``, exact where a decimal can be (always, but for 1/60 and such)."""
    with localcontext() as ctx:
        ctx.prec = 40
        return Decimal(minor) / per_major


@dataclass(frozen=True)
class Demurrage:
    """A holding fee: ``rate`` of what is held, due every ``every_months`` months."""

    rate: Decimal
    every_months: int
    fund: str  # handle of the participant whose account receives the fee


@dataclass(frozen=True)
class CurrencyUnit:
    """One currency of a deployment.

    The ledger and the allocation engine count integer minor units
    (``minor_per_major`` of them make one unit of the Money amount); this
    class is the only place that converts between the two.
    """

    code: str
    kind: str
    currency: Currency
    minor_per_major: int
    wallet_floor: int = 0  # lowest balance a wallet may reach, in minor units
    demurrage: Demurrage | None = None
    # Whether a rail brings the money in from the world outside and takes it out again. Without one (mutual
    # credit, time) the members make the money among themselves: no top-up, no withdrawal, so a creator is
    # paid into their wallet, and members may pay each other directly (see ``gateway.core.accounts.paid_into``).
    outside_world: bool = True
    options: dict[str, str] = field(default_factory=dict, compare=False)

    @property
    def decimals(self) -> int:
        digits = len(str(self.minor_per_major)) - 1
        return digits if 10**digits == self.minor_per_major else 0

    def to_minor(self, money: Money) -> int:
        if money.currency.code != self.code:
            raise ValidationError(f"expected an amount in {self.code}, got {money.currency.code}")
        return minor_units(money.amount, self.minor_per_major)

    def from_minor(self, minor: int) -> Money:
        return Money(major_units(minor, self.minor_per_major), self.currency)

    def parse(self, text: str) -> int:
        """Parse an amount typed by a person or sent as a JSON string."""
        if not isinstance(text, str) or not re.fullmatch(r"\s*-?[0-9]+(\.[0-9]+)?\s*", text):
            raise ValidationError(f"{text!r} is not an amount (write it like '2.50')")
        try:
            value = Decimal(text.strip())
        except InvalidOperation:
            raise ValidationError(f"{text!r} is not an amount") from None
        with localcontext() as exact:  # the default 28 digits would round "5.000…0001" to 5.00 before the check
            exact.prec = len(text) + 30
            scaled = value * self.minor_per_major
        if scaled != scaled.to_integral_value():
            raise ValidationError(f"{self.code} counts in 1/{self.minor_per_major}; {text!r} is finer than that")
        return int(scaled)

    def format_amount(self, minor: int) -> str:
        """The amount alone, the way ``parse`` reads it back."""
        if self.decimals or self.minor_per_major == 1:
            return f"{Decimal(minor).scaleb(-self.decimals):f}"
        return f"{self.from_minor(minor).amount:f}"

    def format(self, minor: int) -> str:
        return f"{self.format_amount(minor)} {self.code}"
