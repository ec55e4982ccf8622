"""What the money use cases share around a call to a rail.

A rail is called outside any database transaction, with the operation
already recorded under our id; what it answers is then recorded in a
transaction of its own. The database work runs in a worker thread, so the
event loop only ever waits on the provider, asynchronously.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import ParamSpec, TypeVar

from adapters import Outcome, PaymentState
from currencies import CurrencyUnit
from currencies.unit import major_units
from gateway.core.states import may_move
from gateway.errors import RailUnavailable

P = ParamSpec("P")
T = TypeVar("T")
log = logging.getLogger("gateway.payments")


async def ask(call: Awaitable[Outcome]) -> Outcome:
    """The rail's answer; a provider that did not answer leaves the operation unknown, never failed."""
    try:
        return await call
    except RailUnavailable as error:
        log.warning("a rail did not answer: %s", error)
        return Outcome(PaymentState.UNKNOWN, error=str(error)[:500])


async def in_thread(function: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """Blocking database work, off the event loop."""
    return await asyncio.to_thread(function, *args, **kwargs)


def major(unit: CurrencyUnit, minor: int) -> Decimal:
    """An amount as a rail takes it: exact, in major units (each rail converts to its provider's minor units)."""
    return major_units(minor, unit.minor_per_major)


def accepted(what: str, row_id: int, current: str, outcome: Outcome) -> bool:
    """Whether ``outcome`` may be recorded over ``current``: a move the state machine forbids is logged, never applied."""
    if may_move(current, outcome.state):
        return True
    log.warning(
        "%s %d: %s -> %s refused by the state machine (reference %s)", what, row_id, current, outcome.state, outcome.reference
    )
    return False
