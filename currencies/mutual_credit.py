"""Mutual credit (LETS): members may go below zero, down to a credit limit.

Nobody issues this money but the members themselves, so there is no outside
account: every unit held by one account is owed by another, and the balances
of the currency sum to zero like every currency of the ledger. Nor is there an
outside world (``outside_world=False``): no rail tops it up or pays it out, so
a creator's shares go to their wallet, to be given again, and members pay each
other directly, as in any LETS.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from currencies.kind import community_unit, credit_floor, decimals_option, reject_unknown
from currencies.unit import CurrencyUnit


class MutualCreditKind:
    name = "mutual_credit"

    def build(self, code: str, options: Mapping[str, Any]) -> CurrencyUnit:
        reject_unknown(code, options, {"credit_limit", "decimals", "name"})
        minor_per_major = decimals_option(code, options)
        floor = credit_floor(code, options, minor_per_major)
        return community_unit(self.name, code, options, minor_per_major, code, wallet_floor=floor, outside_world=False)
