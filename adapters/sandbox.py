"""The sandbox rail: money that arrives and leaves at once, for the default setup and tests.

It keeps no state: the same key always gives the same answer, like a real
provider's idempotency. An amount ending in the minor units ``13`` fails,
so tests and demos can walk the failure path (``failure_suffix`` option).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from adapters.base import Charge, Payout, RailResult
from adapters.options import int_option, reject_unknown
from currencies import Rate


class SandboxRail:
    def __init__(self, name: str = "sandbox", options: Mapping[str, Any] | None = None) -> None:
        options = options or {}
        reject_unknown(name, options, {"failure_suffix"})
        self.name = name
        self.currencies = set(options.get("currencies", []))
        self.failure_suffix = int_option(name, options, "failure_suffix", 13, 0, 99)  # compared with amount % 100

    def supports(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies

    def charge(self, charge: Charge) -> RailResult:
        return self._answer(charge.key, charge.amount)

    def payout(self, payout: Payout) -> RailResult:
        return self._answer(payout.key, payout.amount)

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        return None

    def _answer(self, key: str, amount: int) -> RailResult:
        reference = f"{self.name}_{key}"
        if amount % 100 == self.failure_suffix:
            return RailResult("failed", reference, error=f"declined by the sandbox (amount ends in {self.failure_suffix:02d})")
        return RailResult("succeeded", reference)
