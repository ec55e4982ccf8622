"""The sandbox rail: money that arrives and leaves at once, for the default setup and tests.

It keeps no state: an operation's answer follows from what it was asked, and
its reference says how it ended, so asking about it again gives the same
answer, like a real provider's idempotency. An amount whose cents are
``failure_suffix`` (13 by default: 5.13) is declined, so tests and demos can
walk the failure path. It sends no webhooks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Any

from adapters.base import Outcome, PayoutRequest, RefundRequest, TopUpRequest, WebhookEvent
from adapters.options import int_option, reject_unknown
from adapters.states import PaymentState
from currencies import Rate
from gateway.errors import WebhookRefused

DECLINED = ":declined"  # the end of a failed operation's reference


class SandboxRail:
    def __init__(self, name: str = "sandbox", options: Mapping[str, Any] | None = None) -> None:
        options = options or {}
        reject_unknown(name, options, {"failure_suffix"})
        self.name = name
        self.currencies = set(options.get("currencies", []))
        self.failure_suffix = int_option(name, options, "failure_suffix", 13, 0, 99)

    def takes(self, currency: str) -> bool:
        return not self.currencies or currency in self.currencies

    def pays(self, currency: str) -> bool:
        return self.takes(currency)

    async def start_top_up(self, request: TopUpRequest) -> Outcome:
        return self._answer(request.operation, request.amount)

    async def top_up_state(self, request: TopUpRequest, reference: str | None) -> Outcome:
        return self._state(reference)

    async def start_payout(self, request: PayoutRequest) -> Outcome:
        return self._answer(request.operation, request.amount)

    async def payout_state(self, request: PayoutRequest, reference: str | None) -> Outcome:
        return self._state(reference)

    async def refund(self, request: RefundRequest) -> Outcome:
        return Outcome(PaymentState.SUCCEEDED, f"{self.name}:{request.operation}")

    async def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        raise WebhookRefused("the sandbox sends no webhooks")

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        return None

    async def close(self) -> None:
        return None

    def _answer(self, operation: str, amount: Decimal) -> Outcome:
        reference = f"{self.name}:{operation}"
        if (amount * 100).to_integral_value() % 100 == self.failure_suffix:
            return self._state(reference + DECLINED)
        return self._state(reference)

    def _state(self, reference: str | None) -> Outcome:
        if reference is None:  # never asked: the sandbox always answers, so nothing began
            return Outcome(PaymentState.CREATED)
        if reference.endswith(DECLINED):
            return Outcome(PaymentState.FAILED, reference, error=f"declined by the sandbox (cents {self.failure_suffix:02d})")
        return Outcome(PaymentState.SUCCEEDED, reference)
