"""When a top-up is taken back after its money was spent: a dispute, or a refund made at the provider.

The provider takes the money from the platform; the ledger says from whom
it comes back, in this order:

1. what is still in the funder's wallet;
2. the creators of the funder's receipts settled since the top-up, in
   proportion to those receipts (by the allocation engine, so exactly to the
   minor unit), each from their earnings (held or not, but never below
   nothing: what they withdrew is gone);
3. what nobody could give goes to the platform's ``loss`` account.

All of it is one keyed transaction, and every part taken from a creator is
kept receipt by receipt (``recoveries``), so the hold stops counting it and
a dispute that is won gives each part back to where it came from.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Connection, Row, func, insert, select, update

from gateway.core import keys
from gateway.core.accounts import PLATFORM, Purpose, account, rail_participant, system_participant
from gateway.core.allocation import split
from gateway.core.ledger import Entry, Kind, Leg, post, reversed_legs
from gateway.deployment import Deployment
from gateway.storage.schema import accounts, receipts, recoveries, refunds, transactions


def claw_back(connection: Connection, deployment: Deployment, top_up: Row[Any]) -> None:
    """Take back what the provider took of ``top_up``, in the order above."""
    now = deployment.clock.now()
    unit = deployment.currencies.get(top_up.currency)
    amount = top_up.amount - _refunded_by_us(connection, top_up.id)
    wallet = account(connection, top_up.funder_id, Purpose.WALLET, unit)
    from_wallet = min(amount, max(_balance(connection, wallet.id), 0))
    parts = _from_creators(connection, deployment, top_up, amount - from_wallet)
    taken = sum(share for _, _, share in parts)
    loss = amount - from_wallet - taken
    legs = [Leg(_outside(connection, deployment, top_up), amount)]
    if from_wallet:
        legs.append(Leg(wallet, -from_wallet))
    by_creator: dict[int, int] = defaultdict(int)
    for _, creator, share in parts:
        by_creator[creator] += share
    legs += [Leg(account(connection, creator, Purpose.EARNINGS, unit), -share) for creator, share in sorted(by_creator.items())]
    if loss:
        legs.append(Leg(account(connection, system_participant(connection, PLATFORM, now), Purpose.LOSS, unit), -loss))
    meta = {"top_up": top_up.id, "from_wallet": from_wallet, "from_creators": taken, "loss": loss}
    posted = post(connection, Entry(Kind.CLAWBACK, tuple(legs), keys.clawback(top_up.id, "taken"), meta=meta), now)
    if parts and not posted.replayed:
        rows = [
            {
                "top_up_id": top_up.id,
                "receipt_id": receipt,
                "creator_id": creator,
                "amount": share,
                "transaction_id": posted.transaction_id,
            }
            for receipt, creator, share in parts
        ]
        connection.execute(insert(recoveries), rows)


def give_back(connection: Connection, deployment: Deployment, top_up: Row[Any]) -> None:
    """The dispute was won: the clawback's transaction, backwards, and its recoveries marked returned."""
    taken = connection.execute(
        select(transactions.c.id).where(transactions.c.idempotency_key == keys.clawback(top_up.id, "taken"))
    ).scalar()
    if taken is None:
        return
    now = deployment.clock.now()
    entry = Entry(
        Kind.CLAWBACK_RETURN, reversed_legs(connection, taken), keys.clawback(top_up.id, "returned"), meta={"top_up": top_up.id}
    )
    post(connection, entry, now)
    connection.execute(
        update(recoveries).where(recoveries.c.top_up_id == top_up.id, recoveries.c.returned_at.is_(None)).values(returned_at=now)
    )


def _from_creators(connection: Connection, deployment: Deployment, top_up: Row[Any], amount: int) -> list[tuple[int, int, int]]:
    """(receipt, creator, share taken) for the funder's receipts settled since the top-up, capped by each creator's earnings."""
    if amount <= 0:
        return []
    spent = _receipts_since(connection, top_up)
    if not spent:
        return []
    wanted = split(
        min(amount, sum(left for _, _, left in spent)), [(receipt, left) for receipt, _, left in spent], seed=top_up.id
    )
    unit = deployment.currencies.get(top_up.currency)
    room: dict[int, int] = {}
    parts = []
    for receipt, creator, _ in spent:
        if creator not in room:
            room[creator] = max(_balance(connection, account(connection, creator, Purpose.EARNINGS, unit).id), 0)
        share = min(wanted[receipt], room[creator])
        room[creator] -= share
        if share:
            parts.append((receipt, creator, share))
    return parts


def _receipts_since(connection: Connection, top_up: Row[Any]) -> list[tuple[int, int, int]]:
    """(receipt, creator, what is left of its share) for the funder's receipts settled after the top-up reached the wallet."""
    reached = select(transactions.c.created_at).where(transactions.c.id == top_up.transaction_id).scalar_subquery()
    already = (
        select(recoveries.c.receipt_id, func.sum(recoveries.c.amount).label("taken"))
        .where(recoveries.c.returned_at.is_(None))
        .group_by(recoveries.c.receipt_id)
        .subquery()
    )
    rows = connection.execute(
        select(receipts.c.id, receipts.c.creator_id, receipts.c.share - func.coalesce(already.c.taken, 0))
        .join(transactions, transactions.c.id == receipts.c.transaction_id)
        .outerjoin(already, already.c.receipt_id == receipts.c.id)
        .where(
            receipts.c.funder_id == top_up.funder_id,
            receipts.c.currency == top_up.currency,
            receipts.c.share > 0,
            transactions.c.created_at >= reached,
        )
        .order_by(receipts.c.id)
    )
    return [(receipt, creator, int(left)) for receipt, creator, left in rows if left > 0]


def _refunded_by_us(connection: Connection, top_up_id: int) -> int:
    """What our own refunds already gave back of this top-up (from the wallet): the provider takes no more of it."""
    total = connection.execute(
        select(func.coalesce(func.sum(refunds.c.amount), 0)).where(
            refunds.c.top_up_id == top_up_id, refunds.c.status == "succeeded"
        )
    ).scalar_one()
    return int(total or 0)


def _balance(connection: Connection, account_id: int) -> int:
    return int(connection.execute(select(accounts.c.balance).where(accounts.c.id == account_id)).scalar_one())


def _outside(connection: Connection, deployment: Deployment, top_up: Row[Any]) -> Any:
    owner = system_participant(connection, rail_participant(top_up.rail), deployment.clock.now())
    return account(connection, owner, Purpose.OUTSIDE, deployment.currencies.get(top_up.currency))
