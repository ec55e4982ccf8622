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
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import Connection, Row, Table, select, update

from adapters import Outcome, PaymentState
from currencies import CurrencyUnit
from currencies.unit import major_units
from gateway.core.states import may_move
from gateway.deployment import Deployment
from gateway.errors import RailUnavailable
from gateway.storage.engine import reading, run_in_transaction

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


Move = Callable[[Connection, Row[Any], Outcome], dict[str, Any]]


def record(deployment: Deployment, table: Table, row_id: int, outcome: Outcome, move: Move) -> Row[Any]:
    """Record a provider's answer on a payment's row, locked; ``move`` posts what the new state moves and says what else changes.

    A move the state machine forbids is logged and changes nothing; an
    answer that repeats the recorded state moves no money again.
    """

    def work(connection: Connection) -> Row[Any]:
        row = connection.execute(select(table).where(table.c.id == row_id).with_for_update()).one()
        if not accepted(table.name, row_id, row.status, outcome):
            return row
        changes: dict[str, Any] = {"status": outcome.state, "updated_at": deployment.clock.now()}
        if outcome.reference is not None:
            changes["rail_reference"] = outcome.reference
        if outcome.state == PaymentState.FAILED or outcome.error is not None:
            changes["error"] = (outcome.error or "refused by the rail")[:500]
        elif outcome.state == PaymentState.SUCCEEDED:
            changes["error"] = None
        if outcome.state != row.status:
            changes.update(move(connection, row, outcome))
        connection.execute(update(table).where(table.c.id == row_id).values(**changes))
        return read_row(connection, table, row_id)

    return run_in_transaction(deployment.engine, work)


def read_row(connection: Connection, table: Table, row_id: int) -> Row[Any]:
    return connection.execute(select(table).where(table.c.id == row_id)).one()


def read(deployment: Deployment, table: Table, row_id: int) -> Row[Any]:
    with reading(deployment.engine) as connection:
        return read_row(connection, table, row_id)


async def drive(start: Callable[[], Awaitable[Outcome]], state: Callable[[], Awaitable[Outcome]], row: Row[Any]) -> Outcome:
    """Start an operation at the provider, or ask where it stands: both keyed with our id, so neither repeats it.

    An operation the provider never answered about (no reference, created or
    unknown) is started again: under the same key, the provider gives back
    the first result, and does it only if it never began.
    """
    if row.rail_reference is None and row.status in (PaymentState.CREATED, PaymentState.UNKNOWN):
        return await ask(start())
    return await ask(state())
