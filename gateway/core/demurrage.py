"""Demurrage: the holding fee of a currency that loses value as it is held.

The fee on all holdings together is ``rate`` of their total, rounded half-up
to the minor unit; it is divided among the holders by the allocation
engine, in proportion to what each holds. So the community fund receives
exactly what the holders pay: no minor unit is made or lost.
"""

from __future__ import annotations

from decimal import Decimal

from gateway.core.allocation import K, fee_of, split


def demurrage_charges(holdings: dict[K, int], rate: Decimal, seed: int) -> dict[K, int]:
    """What each holding (holder -> positive balance) pays; zero charges left out.

    Ties for a spare minor unit are broken in the order of the holders' keys, so keys that do not depend
    on the order rows were written in (a handle, not an account id) give the same ledger every run.
    """
    held = {account: balance for account, balance in holdings.items() if balance > 0}
    if not held:
        return {}
    total = fee_of(sum(held.values()), rate)
    if not total:
        return {}
    charges = split(total, list(held.items()), seed)
    return {account: charge for account, charge in charges.items() if charge}
