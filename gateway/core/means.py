"""What a funder will give in a period, and whether they can.

A funder's budgets are the ones they set, one per currency; one who set
none gives the minimum budget of their preferred currency (or the
deployment's default). They can give what their wallet holds above its
floor, so a mutual-credit member can give up to their credit limit.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping

from sqlalchemy import Connection

from gateway.config import Settings
from gateway.storage.bulk import rows_for_ids


def budget_targets(settings: Settings, explicit: Mapping[str, int], preferred: str | None) -> dict[str, int]:
    enabled = {code: amount for code, amount in explicit.items() if code in settings.currencies}
    if enabled:
        return enabled
    code = preferred if preferred is not None and preferred in settings.currencies else settings.default_currency
    return {code: settings.policies[code].minimum_budget}


def available(settings: Settings, code: str, balance: int | None, floor: int | None) -> int:
    """What a wallet can give: its balance above its floor (an account not yet opened holds 0)."""
    if balance is None:
        return -settings.currencies.get(code).wallet_floor
    return balance - (floor or 0)


def to_give(settings: Settings, code: str, budget: int, balance: int | None, floor: int | None) -> int | None:
    """What a budget takes from its wallet in a period: all it can up to the budget; None below the currency's minimum.

    Settlement fixes it when the period starts settling; the funder's dashboard
    projects it from the same rule, so the projection cannot drift from it.
    """
    amount = min(budget, available(settings, code, balance, floor))
    return amount if amount >= settings.policies[code].minimum_budget else None


# The funders' wallets and budgets in one query, for ``means_suffice``: (owner, source, currency, amount, floor).
_MEANS_QUERY = (
    "SELECT owner_id, 'wallet', currency, balance, floor FROM accounts WHERE purpose = 'wallet' AND owner_id IN ({ids}) "
    "UNION ALL SELECT funder_id, 'budget', currency, amount, NULL FROM budgets WHERE funder_id IN ({ids})"
)


Means = tuple[str, str, int, int | None]  # (source: wallet or budget, currency, amount, floor)


def means_of(connection: Connection, funder_ids: Collection[int]) -> dict[int, list[Means]]:
    """Each funder's rows for ``means_suffice`` (a funder with no wallet nor budget has none)."""
    found: dict[int, list[Means]] = {}
    for owner, source, code, amount, floor in rows_for_ids(connection, _MEANS_QUERY, funder_ids, uses=2):
        found.setdefault(owner, []).append((source, code, amount, floor))
    return found


def means_suffice(settings: Settings, preferred: str | None, rows: Iterable[Means]) -> bool:
    """Whether at least one of the funder's budgets can be met at its currency's minimum, from their rows of ``means_of``."""
    explicit: dict[str, int] = {}
    wallets: dict[str, tuple[int, int | None]] = {}
    for source, code, amount, floor in rows:
        if source == "budget":
            explicit[code] = amount
        else:
            wallets[code] = (amount, floor)
    for code in budget_targets(settings, explicit, preferred):
        balance, floor = wallets.get(code, (None, None))
        if available(settings, code, balance, floor) >= settings.policies[code].minimum_budget:
            return True
    return False
