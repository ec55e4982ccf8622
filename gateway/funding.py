"""What a funder will give in a period, and whether they can.

A funder's budgets are the ones they set, one per currency; one who set
none gives the minimum budget of their preferred currency (or the
deployment's default). They can give what their wallet holds above its
floor, so a mutual-credit member can give up to their credit limit.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import Connection, select

from .accounts import floor_for
from .config import Settings
from .storage.schema import accounts, budgets, participants


def budget_targets(settings: Settings, explicit: Mapping[str, int], preferred: str | None) -> dict[str, int]:
    enabled = {code: amount for code, amount in explicit.items() if code in settings.currencies}
    if enabled:
        return enabled
    code = preferred if preferred in settings.currencies else settings.default_currency
    return {code: settings.policies[code].minimum_budget}


def available(settings: Settings, code: str, balance: int | None, floor: int | None) -> int:
    """What a wallet can give: its balance above its floor (an account not yet opened holds 0)."""
    if balance is None:
        return -floor_for("wallet", settings.currencies.get(code))
    return balance - (floor or 0)


def has_means(connection: Connection, settings: Settings, funder_id: int) -> bool:
    """Whether at least one of the funder's budgets can be met at its currency's minimum."""
    explicit = dict(connection.execute(select(budgets.c.currency, budgets.c.amount).where(budgets.c.funder_id == funder_id)).all())
    preferred = connection.execute(select(participants.c.preferred_currency).where(participants.c.id == funder_id)).scalar()
    wallets = {
        row.currency: row
        for row in connection.execute(
            select(accounts.c.currency, accounts.c.balance, accounts.c.floor).where(
                accounts.c.owner_id == funder_id, accounts.c.purpose == "wallet"
            )
        )
    }
    for code in budget_targets(settings, explicit, preferred):
        wallet = wallets.get(code)
        means = available(settings, code, wallet.balance if wallet else None, wallet.floor if wallet else None)
        if means >= settings.policies[code].minimum_budget:
            return True
    return False
