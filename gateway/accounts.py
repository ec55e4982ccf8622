"""Participants and their accounts: one account per (owner, purpose, currency).

Purposes and their floors:

========  =================================================  =============
purpose   what it holds                                      floor
========  =================================================  =============
wallet    a funder's money, waiting for the period's end      the currency's
                                                              wallet floor
earnings  a creator's income, waiting to be withdrawn         0
payout    a withdrawal in flight (reserved, not yet paid)     0
fee       the platform's fees                                 0
fund      a community fund (demurrage, unspent budgets)       0
outside   the world beyond a rail: negative as money enters   none
exchange  the other side of every currency conversion         none
========  =================================================  =============
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import Connection, select

from currencies import CurrencyUnit

from .errors import NotFound
from .ledger import Account
from .storage.schema import accounts, participants
from .storage.upsert import insert_ignore

PLATFORM = "platform"
EXCHANGE = "exchange"
UNBOUNDED = frozenset({"outside", "exchange"})


def floor_for(purpose: str, unit: CurrencyUnit) -> int | None:
    if purpose in UNBOUNDED:
        return None
    return unit.wallet_floor if purpose == "wallet" else 0


def participant_id(connection: Connection, handle: str) -> int:
    found = connection.execute(select(participants.c.id).where(participants.c.handle == handle)).scalar()
    if found is None:
        raise NotFound(f"no participant {handle!r}", handle=handle)
    return found


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


def _find(connection: Connection, owner_ids: list[int], purpose: str, currency: str) -> dict[int, Account]:
    found: dict[int, Account] = {}
    for start in range(0, len(owner_ids), 10_000):
        chunk = owner_ids[start : start + 10_000]
        rows = connection.execute(
            select(accounts.c.id, accounts.c.owner_id, accounts.c.floor).where(
                accounts.c.purpose == purpose, accounts.c.currency == currency, accounts.c.owner_id.in_(chunk)
            )
        )
        for row in rows:
            found[row.owner_id] = Account(row.id, row.owner_id, purpose, currency, row.floor)
    return found


def platform_account(connection: Connection, purpose: str, unit: CurrencyUnit, now: datetime, handle: str = PLATFORM) -> Account:
    return account(connection, system_participant(connection, handle, now), purpose, unit)
