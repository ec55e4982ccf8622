"""The chargeback hold: earnings paid from a card top-up wait before they may leave.

A card payment can be disputed for weeks after it was made. So a receipt
whose funder had a top-up posted through a rail with ``hold_days`` within
that many days before the settlement is held until the settlement plus
``hold_days``: its share counts in the creator's earnings, but can be
neither withdrawn nor moved to the wallet until then. Nothing is stored for
it: the hold follows from the receipts, the top-ups and the clock, so it
ends by itself, and what a dispute already took back of a receipt is no
longer held.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, func, select

from currencies import CurrencyUnit
from gateway.core.accounts import locked_balances
from gateway.core.ledger import Account
from gateway.deployment import Deployment
from gateway.errors import EarningsHeld
from gateway.storage.engine import reading
from gateway.storage.schema import receipts, recoveries, top_ups, transactions


@dataclass(frozen=True)
class HeldPart:
    """Earnings of one period in one currency that become free on one date."""

    period: str
    currency: str
    amount: int  # minor units
    free_on: datetime


def held_parts(connection: Connection, deployment: Deployment, creator_id: int, now: datetime) -> list[HeldPart]:
    """What of a creator's earnings is held at ``now``, by period, currency and the date it becomes free."""
    holding = {rail: days for rail in deployment.settings.rails if (days := deployment.settings.hold_days(rail))}
    if not holding:
        return []
    recent = _recent_receipts(connection, creator_id, now - timedelta(days=max(holding.values())))
    if not recent:
        return []
    posted = _card_top_ups(connection, {r.funder_id for r in recent}, holding)
    taken = _recovered(connection, [r.id for r in recent])
    parts: dict[tuple[str, str, datetime], int] = defaultdict(int)
    for receipt in recent:
        free_on = _free_on(receipt, posted.get((receipt.funder_id, receipt.currency), []), holding)
        left = receipt.share - taken.get(receipt.id, 0)
        if free_on is not None and free_on > now and left > 0:
            parts[(receipt.period, receipt.currency, free_on)] += left
    return [HeldPart(period, code, amount, free_on) for (period, code, free_on), amount in sorted(parts.items())]


def held_earnings(deployment: Deployment, creator_id: int) -> list[HeldPart]:
    """What the creator sees: each held part, with the date it becomes free."""
    with reading(deployment.engine) as connection:
        return held_parts(connection, deployment, creator_id, deployment.clock.now())


def free_earnings(connection: Connection, deployment: Deployment, earnings: Account) -> tuple[int, list[HeldPart]]:
    """What of a creator's earnings may leave now (withdrawn, or moved to the wallet), and the parts held.

    The one place that says it. The account's row is locked first, until the
    caller's transaction ends, so two takers at once cannot each find the
    same free part: the second waits, and sees the first.
    """
    balance = locked_balances(connection, [earnings])[earnings.id] - (earnings.floor or 0)
    parts = [
        p
        for p in held_parts(connection, deployment, earnings.owner_id, deployment.clock.now())
        if p.currency == earnings.currency
    ]
    return balance - sum(part.amount for part in parts), parts


def refuse_held(connection: Connection, deployment: Deployment, earnings: Account, unit: CurrencyUnit, minor: int) -> int:
    """What may leave (``free_earnings``), refusing ``minor`` with ``EarningsHeld`` where only the hold stands in its way."""
    free, parts = free_earnings(connection, deployment, earnings)
    if parts and minor > free:
        held = sum(part.amount for part in parts)
        first = min(part.free_on for part in parts)
        raise EarningsHeld(
            f"{unit.format(held)} of these earnings are held against a chargeback until {first:%Y-%m-%d}; "
            f"{unit.format(max(free, 0))} can leave now",
            held=unit.format_amount(held),
            free_on=first.isoformat(),
        )
    return free


def _free_on(receipt: Row[Any], posted: list[tuple[str, datetime]], holding: dict[str, int]) -> datetime | None:
    """The latest end of the holds that apply: a top-up through a holding rail within its days before the settlement."""
    ends = [
        receipt.settled_at + timedelta(days=holding[rail])
        for rail, at in posted
        if receipt.settled_at - timedelta(days=holding[rail]) <= at <= receipt.settled_at
    ]
    return max(ends, default=None)


def _recent_receipts(connection: Connection, creator_id: int, since: datetime) -> list[Row[Any]]:
    return list(
        connection.execute(
            select(
                receipts.c.id,
                receipts.c.period,
                receipts.c.funder_id,
                receipts.c.currency,
                receipts.c.share,
                transactions.c.created_at.label("settled_at"),
            )
            .join(transactions, transactions.c.id == receipts.c.transaction_id)
            .where(receipts.c.creator_id == creator_id, receipts.c.share > 0, transactions.c.created_at > since)
        )
    )


def _card_top_ups(
    connection: Connection, funders: set[int], holding: dict[str, int]
) -> dict[tuple[int, str], list[tuple[str, datetime]]]:
    """When each funder's top-ups through a holding rail reached their wallet, by funder and currency."""
    rows = connection.execute(
        select(top_ups.c.funder_id, top_ups.c.currency, top_ups.c.rail, transactions.c.created_at)
        .join(transactions, transactions.c.id == top_ups.c.transaction_id)
        .where(top_ups.c.funder_id.in_(funders), top_ups.c.rail.in_(list(holding)))
    )
    found: dict[tuple[int, str], list[tuple[str, datetime]]] = defaultdict(list)
    for funder, currency, rail, at in rows:
        found[(funder, currency)].append((rail, at))
    return found


def _recovered(connection: Connection, receipt_ids: list[int]) -> dict[int, int]:
    rows = connection.execute(
        select(recoveries.c.receipt_id, func.sum(recoveries.c.amount))
        .where(recoveries.c.receipt_id.in_(receipt_ids), recoveries.c.returned_at.is_(None))
        .group_by(recoveries.c.receipt_id)
    )
    return {receipt_id: int(total) for receipt_id, total in rows}
