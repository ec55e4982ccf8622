"""Participants and their accounts: one account per (owner, purpose, currency).

Purposes and their floors:

========  =================================================  =============
purpose   what it holds                                      floor
========  =================================================  =============
wallet    a funder's money, waiting for the period's end      the currency's
          (without an outside world, a creator's income too)  wallet floor
earnings  a creator's income, waiting to be withdrawn or      0
          moved to their wallet
payout    a withdrawal in flight (reserved, not yet paid)     0
fee       the platform's fees                                 0
fund      a community fund (demurrage, unspent budgets)       0
outside   the world beyond a rail: negative as money enters   none
exchange  the other side of every currency conversion         none
========  =================================================  =============
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import Connection, select

from currencies import CurrencyUnit
from gateway.core.ledger import Account
from gateway.errors import NotFound
from gateway.storage.bulk import select_in
from gateway.storage.schema import accounts, participants
from gateway.storage.upsert import insert_ignore


class Purpose(StrEnum):
    WALLET = "wallet"
    EARNINGS = "earnings"
    PAYOUT = "payout"
    FEE = "fee"
    FUND = "fund"
    OUTSIDE = "outside"
    EXCHANGE = "exchange"
    INCOMING = "incoming"  # a funder's top-ups that the provider has not confirmed yet
    OUTGOING = "outgoing"  # a funder's refunds that the provider has not confirmed yet
    PROVIDER_FEE = "provider_fee"  # the platform's: what providers kept of top-ups (a cost, so below zero)
    LOSS = "loss"  # the platform's: what a dispute took back that no creator's earnings could give (below zero)


PLATFORM = "platform"  # the system participant that owns the fee accounts
EXCHANGE = "exchange"  # the one that owns the exchange accounts
UNBOUNDED = frozenset({Purpose.OUTSIDE, Purpose.EXCHANGE, Purpose.PROVIDER_FEE, Purpose.LOSS})


def rail_participant(rail: str) -> str:
    """The handle of the system participant that owns a rail's outside accounts."""
    return f"rail:{rail}"


def paid_into(unit: CurrencyUnit) -> Purpose:
    """Where a creator's shares of a settled budget go: earnings, to withdraw through a rail.

    A currency with no outside world has no rail to withdraw through: shares go
    straight to the creator's wallet, so a member has one balance to give from
    (as in any LETS), instead of credit that could never be used.
    """
    return Purpose.EARNINGS if unit.outside_world else Purpose.WALLET


def floor_for(purpose: str, unit: CurrencyUnit) -> int | None:
    if purpose in UNBOUNDED:
        return None
    return unit.wallet_floor if purpose == Purpose.WALLET else 0


def participant_id(connection: Connection, handle: str) -> int:
    found = connection.execute(select(participants.c.id).where(participants.c.handle == handle)).scalar()
    if found is None:
        raise NotFound(f"no participant {handle!r}", handle=handle)
    return int(found)


def system_participant(connection: Connection, handle: str, now: datetime) -> int:
    """The participant behind the platform's own accounts (``platform``, ``exchange``, ``rail:NAME``)."""
    insert_ignore(connection, participants, {"handle": handle, "kind": "system", "created_at": now}, ["handle"])
    return participant_id(connection, handle)


def account(connection: Connection, owner_id: int, purpose: str, unit: CurrencyUnit) -> Account:
    """The account, created on first use."""
    return accounts_of(connection, [owner_id], purpose, unit)[owner_id]


def accounts_of(connection: Connection, owner_ids: Iterable[int], purpose: str, unit: CurrencyUnit) -> dict[int, Account]:
    """Each owner's account of this purpose and currency, created where missing."""
    wanted = sorted(set(owner_ids))
    found = _find(connection, wanted, purpose, unit.code)
    missing = [owner for owner in wanted if owner not in found]
    if missing:
        floor = floor_for(purpose, unit)
        rows = [{"owner_id": owner, "purpose": purpose, "currency": unit.code, "floor": floor} for owner in missing]
        insert_ignore(connection, accounts, rows, ["owner_id", "purpose", "currency"])
        found.update(_find(connection, missing, purpose, unit.code))
    return found


def locked_balances(connection: Connection, held: Sequence[Account]) -> dict[int, int]:
    """The balances of ``held``, each account's row locked until the transaction ends, in the order given.

    Writers that lock more than one account lock wallets first, in account
    order (settlement's batches lock all theirs at once, ``settlement.batch``),
    and any other account after: so no two of them ever wait in a circle.
    SQLite has one writer at a time, which is lock enough.
    """
    found: dict[int, int] = {}
    for acct in held:
        found[acct.id] = connection.execute(
            select(accounts.c.balance).where(accounts.c.id == acct.id).with_for_update()
        ).scalar_one()
    return found


def _find(connection: Connection, owner_ids: list[int], purpose: str, currency: str) -> dict[int, Account]:
    rows = select_in(
        connection,
        "SELECT id, owner_id, floor FROM accounts WHERE purpose = ? AND currency = ? AND owner_id",
        owner_ids,
        (purpose, currency),
    )
    return {owner: Account(id_, owner, purpose, currency, floor) for id_, owner, floor in rows}
