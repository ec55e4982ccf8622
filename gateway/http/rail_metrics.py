"""Each rail's calls to its provider, counted by outcome and timed, for ``/metrics``.

The rails are wrapped where the application is made, so the use cases and
the rails themselves know nothing of metrics; the CLI's rails stay bare.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from datetime import date
from time import perf_counter
from typing import Any, TypeVar

from adapters import Outcome, PayoutRequest, Rail, RefundRequest, TopUpRequest, WebhookEvent
from currencies import Rate
from gateway.errors import GatewayError
from gateway.http.metrics import Metrics

T = TypeVar("T")


class MeasuredRail:
    """A rail whose every call to the provider is counted and timed; otherwise the rail itself."""

    def __init__(self, rail: Rail, metrics: Metrics) -> None:
        self.rail = rail
        self.name = rail.name
        self._metrics = metrics

    def __getattr__(self, name: str) -> Any:  # a rail's own extras (onboarding): passed through
        return getattr(self.rail, name)

    def takes(self, currency: str) -> bool:
        return self.rail.takes(currency)

    def pays(self, currency: str) -> bool:
        return self.rail.pays(currency)

    async def start_top_up(self, request: TopUpRequest) -> Outcome:
        return await self._measured("start_top_up", self.rail.start_top_up(request))

    async def top_up_state(self, request: TopUpRequest, reference: str | None) -> Outcome:
        return await self._measured("top_up_state", self.rail.top_up_state(request, reference))

    async def start_payout(self, request: PayoutRequest) -> Outcome:
        return await self._measured("start_payout", self.rail.start_payout(request))

    async def payout_state(self, request: PayoutRequest, reference: str | None) -> Outcome:
        return await self._measured("payout_state", self.rail.payout_state(request, reference))

    async def refund(self, request: RefundRequest) -> Outcome:
        return await self._measured("refund", self.rail.refund(request))

    async def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        return await self._measured("parse_webhook", self.rail.parse_webhook(body, headers), lambda event: "verified")

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        return self.rail.rate(base, quote, on)

    async def close(self) -> None:
        await self.rail.close()

    async def _measured(self, call: str, pending: Awaitable[T], outcome_of: Callable[[T], str] | None = None) -> T:
        started = perf_counter()
        try:
            result = await pending
        except GatewayError as error:
            self._metrics.rail_call(self.name, call, error.code, perf_counter() - started)
            raise
        except Exception:
            self._metrics.rail_call(self.name, call, "error", perf_counter() - started)
            raise
        outcome = outcome_of(result) if outcome_of else str(getattr(result, "state", "answered"))
        self._metrics.rail_call(self.name, call, outcome, perf_counter() - started)
        return result


def measured(rails: Mapping[str, Rail], metrics: Metrics) -> dict[str, Rail]:
    """The rails, each measured once (an application made twice over one deployment does not count twice)."""
    return {name: rail if isinstance(rail, MeasuredRail) else MeasuredRail(rail, metrics) for name, rail in rails.items()}
