"""The interface every rail implements, and their discovery through entry points.

A rail is a provider's door: money comes in through it (a top-up) and goes
out through it (a payout). The use cases record each operation, with our own
id, before they call the rail, and pass that id as the provider's idempotency
key, so asking twice never moves money twice. A rail answers with an
``Outcome`` in the words of ``PaymentState``; the use cases, not the rail,
decide whether the state may follow the one recorded.

Every call that reaches a provider is a coroutine, so the event loop never
waits on one. A rail may be called from more than one event loop over its
life (the CLI runs one per command): it keeps nothing bound to a loop
between calls, or keeps it per loop.

A provider that does not answer (a timeout, a 5xx) makes the rail raise
``RailUnavailable``: the operation is then unknown, never guessed failed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any, Literal, Protocol

from adapters.states import PaymentState
from currencies import Rate
from gateway.config import RAILS_ENTRY_POINTS


@dataclass(frozen=True)
class TopUpRequest:
    """Take ``amount`` of ``currency`` from a funder, into the platform."""

    operation: str  # our id: the provider's idempotency key, and in the object's metadata
    funder: str  # the funder's handle, for the provider's description
    amount: Decimal  # exact, in major units: each rail converts through its provider's own minor units
    currency: str
    return_url: str  # where the provider sends the person back (an approval, a 3-D Secure check)


@dataclass(frozen=True)
class PayoutRequest:
    """Pay ``amount`` of ``currency`` out to a creator."""

    operation: str
    creator: str
    amount: Decimal
    currency: str
    destination: str | None = None  # the creator's account at the provider (a Connect account, a PayPal address)
    age: timedelta | None = None  # since the payout was first asked for: a provider's idempotency window counts it


@dataclass(frozen=True)
class RefundRequest:
    """Give back ``amount`` of a top-up the provider knows as ``payment``."""

    operation: str
    payment: str
    amount: Decimal
    currency: str


@dataclass(frozen=True)
class Outcome:
    """What the provider says of one operation."""

    state: PaymentState
    reference: str | None = None  # the provider's id of the object
    next_action: dict[str, str] | None = None  # {"type": "redirect", "url": …} or {"type": "client_secret", …}
    error: str | None = None  # why it failed, in words a person can read (never a secret)
    fee: Decimal | None = None  # what the provider kept of a top-up, in its currency


Subject = Literal["top_up", "payout"]  # a refund or a dispute is news of the top-up it concerns


@dataclass(frozen=True)
class WebhookEvent:
    """A provider's notice, verified: a hint to ask the provider again about one operation, never applied as it is."""

    id: str  # the provider's event id: events are de-duplicated on (rail, id)
    type: str
    subject: Subject
    operation: str | None  # our operation id of the payment, from the object's metadata
    reference: str | None  # the provider's id of the payment (a PaymentIntent, an order, a transfer)


class Rail(Protocol):
    """A rail, built as ``factory(name=..., options=...)`` from its entry point.

    Building checks the options (``adapters.options``) and does nothing else,
    no network: loading the deployment file builds each rail once to check it.
    """

    name: str

    def takes(self, currency: str) -> bool:
        """Whether funders may top up in ``currency`` through this rail."""
        ...

    def pays(self, currency: str) -> bool:
        """Whether creators may be paid out in ``currency`` through this rail."""
        ...

    async def start_top_up(self, request: TopUpRequest) -> Outcome: ...

    async def top_up_state(self, request: TopUpRequest, reference: str | None) -> Outcome:
        """Ask the provider where a top-up stands; ``reference`` is None where no answer ever came.

        Where the provider can only be asked by its own id, a rail may send
        ``request`` again under its key: the provider answers with the first result.
        """
        ...

    async def start_payout(self, request: PayoutRequest) -> Outcome: ...

    async def payout_state(self, request: PayoutRequest, reference: str | None) -> Outcome: ...

    async def refund(self, request: RefundRequest) -> Outcome: ...

    async def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        """A verified event, None for one of no interest; ``WebhookRefused`` where the signature does not hold."""
        ...

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        """The provider's own exchange rate, or None to use the deployment's."""
        ...

    async def close(self) -> None:
        """Let go of connections (at shutdown)."""
        ...


def load_rails(configured: Mapping[str, Mapping[str, Any]]) -> dict[str, Rail]:
    """Build the rails named in the deployment file's ``[rails]`` table (checked when it was loaded)."""
    available = {entry.name: entry for entry in entry_points(group=RAILS_ENTRY_POINTS)}
    return {name: available[name].load()(name=name, options=dict(options)) for name, options in configured.items()}
