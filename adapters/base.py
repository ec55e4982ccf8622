"""The interface every rail implements, and their discovery through entry points.

The use cases call a rail outside any database transaction and pass it our
own id of the operation as its idempotency key, so asking twice is safe:
that is how an interrupted top-up or withdrawal is driven to its end.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol

from currencies import Rate
from gateway.config import RAILS_ENTRY_POINTS


@dataclass(frozen=True)
class Charge:
    """Take ``amount`` minor units of ``currency`` from a funder, into the platform."""

    key: str  # idempotency key at the provider: ours, stable across retries
    funder: str
    amount: int
    currency: str


@dataclass(frozen=True)
class Payout:
    """Pay ``amount`` minor units of ``currency`` out to a creator."""

    key: str
    creator: str
    amount: int
    currency: str


@dataclass(frozen=True)
class RailResult:
    status: Literal["succeeded", "pending", "failed"]
    reference: str | None = None
    next_action: dict[str, Any] | None = None  # what the person must do next (a redirect, a client secret)
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Rail(Protocol):
    """A rail, built as ``factory(name=..., options=...)`` from its entry point.

    Building checks the options (``adapters.options``) and does nothing else,
    no network: loading the deployment file builds each rail once to check it.
    """

    name: str

    def supports(self, currency: str) -> bool: ...

    def charge(self, charge: Charge) -> RailResult: ...

    def payout(self, payout: Payout) -> RailResult: ...

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        """The provider's own exchange rate, or None to use the deployment's."""
        ...


def load_rails(configured: Mapping[str, Mapping[str, Any]]) -> dict[str, Rail]:
    """Build the rails named in the deployment file's ``[rails]`` table (checked when it was loaded)."""
    available = {entry.name: entry for entry in entry_points(group=RAILS_ENTRY_POINTS)}
    return {name: available[name].load()(name=name, options=dict(options)) for name, options in configured.items()}
