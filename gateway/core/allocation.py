"""The allocation engine: how one budget is divided, exactly.

Pure and currency-agnostic. Amounts are integer minor units; ``allocate``
wraps the integer core for callers that hold py-moneyed ``Money``.

The rules:
- the fee is ``amount * rate``, rounded half-up to the minor unit;
- the rest is split in proportion to points by the largest-remainder method,
  so the shares add up to the amount exactly and each is within one minor
  unit of its exact proportion;
- minor units left over after the whole parts go to the largest remainders;
  among equal remainders the order rotates with ``seed`` (the period's ordinal
  plus the funder's id), so no thing is always first in line for a spare cent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Generic, Protocol, TypeVar

from moneyed import Money

from currencies.unit import major_units, minor_units


class SortKey(Protocol):
    """What a share's key must be: hashable, and ordered (the split puts keys in their own order first)."""

    def __lt__(self, other: Any, /) -> bool: ...

    def __hash__(self) -> int: ...


K = TypeVar("K", bound=SortKey)


def fee_of(amount: int, rate: Decimal) -> int:
    """The platform's fee on ``amount`` minor units."""
    if not 0 <= rate < 1:
        raise ValueError(f"a fee rate is in [0, 1), got {rate}")
    return int((amount * rate).to_integral_value(rounding=ROUND_HALF_UP))


def split(amount: int, weights: Sequence[tuple[K, int]], seed: int = 0) -> dict[K, int]:
    """Divide ``amount`` minor units among keys in proportion to their weights.

    ``weights`` are (key, weight) pairs with distinct keys; keys are put in
    their own sorted order first, so the result does not depend on the order
    the caller gives them in.
    """
    if amount < 0:
        raise ValueError("cannot split a negative amount")
    if not weights:
        raise ValueError("cannot split among nobody")
    ordered = sorted(weights, key=lambda pair: pair[0])
    total = 0
    for _, weight in ordered:
        if weight <= 0:
            raise ValueError("weights must be positive")
        total += weight
    shares = [amount * weight // total for _, weight in ordered]
    leftover = amount - sum(shares)
    if leftover:
        count = len(ordered)
        remainders = [amount * weight - share * total for (_, weight), share in zip(ordered, shares)]
        line = sorted(range(count), key=lambda i: (-remainders[i], (i - seed) % count))
        for i in line[:leftover]:
            shares[i] += 1
    return {key: share for (key, _), share in zip(ordered, shares)}


@dataclass(frozen=True)
class Allocation(Generic[K]):
    """A budget divided: the fee and each key's share, in minor units."""

    amount: int
    fee: int
    shares: dict[K, int]

    @property
    def distributed(self) -> int:
        return self.amount - self.fee


def allocate_minor(amount: int, fee_rate: Decimal, points: Sequence[tuple[K, int]], seed: int = 0) -> Allocation[K]:
    fee = fee_of(amount, fee_rate)
    return Allocation(amount=amount, fee=fee, shares=split(amount - fee, points, seed))


@dataclass(frozen=True)
class MoneyAllocation(Generic[K]):
    fee: Money
    shares: dict[K, Money]


def allocate(budget: Money, fee_rate: Decimal, points: Sequence[tuple[K, int]], seed: int = 0) -> MoneyAllocation[K]:
    """``allocate_minor`` for a ``Money`` budget, in the budget's own currency.

    The minor unit is the currency's ``sub_unit`` (100 for EUR, 1 for JPY,
    1000 for KWD, 60 for hours counted in minutes).
    """
    per_major = budget.currency.sub_unit
    result = allocate_minor(minor_units(budget.amount, per_major), fee_rate, points, seed)

    def money(minor: int) -> Money:
        return Money(major_units(minor, per_major), budget.currency)

    return MoneyAllocation(fee=money(result.fee), shares={key: money(share) for key, share in result.shares.items()})
