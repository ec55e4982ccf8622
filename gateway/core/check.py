"""The ledger's self-check: every named invariant, verified from the database.

Each check is one query that returns the rows breaking it, so an empty
result is a proof for the whole ledger, not a sample.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Connection, func, literal_column, select, union_all

from gateway.core.accounts import Purpose
from gateway.core.ledger import Kind
from gateway.core.states import SettlementStatus
from gateway.storage.schema import (
    accounts,
    postings,
    receipts,
    settlements,
    transactions,
)


@dataclass(frozen=True)
class Breach:
    invariant: str
    detail: str

    def __str__(self) -> str:
        return f"{self.invariant}: {self.detail}"


def _currency_sums(connection: Connection) -> list[Breach]:
    rows = connection.execute(
        select(accounts.c.currency, func.sum(accounts.c.balance))
        .group_by(accounts.c.currency)
        .having(func.sum(accounts.c.balance) != 0)
    )
    return [Breach("L1 zero-sum", f"the balances in {code} add up to {total}, not 0") for code, total in rows]


def _balanced_transactions(connection: Connection) -> list[Breach]:
    rows = connection.execute(
        select(postings.c.transaction_id, accounts.c.currency, func.sum(postings.c.amount))
        .join(accounts, accounts.c.id == postings.c.account_id)
        .group_by(postings.c.transaction_id, accounts.c.currency)
        .having(func.sum(postings.c.amount) != 0)
        .limit(20)
    )
    return [Breach("L1 balanced", f"transaction #{tx} is off by {total} in {code}") for tx, code, total in rows]


def _cached_balances(connection: Connection) -> list[Breach]:
    posted = select(postings.c.account_id, func.sum(postings.c.amount).label("total")).group_by(postings.c.account_id).subquery()
    rows = connection.execute(
        select(accounts.c.id, accounts.c.balance, func.coalesce(posted.c.total, 0))
        .outerjoin(posted, posted.c.account_id == accounts.c.id)
        .where(accounts.c.balance != func.coalesce(posted.c.total, 0))
        .limit(20)
    )
    return [Breach("L2 cached balance", f"account #{aid} says {cached}, its postings {total}") for aid, cached, total in rows]


def _floors(connection: Connection) -> list[Breach]:
    rows = connection.execute(
        select(accounts.c.id, accounts.c.balance, accounts.c.floor)
        .where(accounts.c.floor.is_not(None), accounts.c.balance < accounts.c.floor)
        .limit(20)
    )
    return [Breach("L3 floor", f"account #{aid} holds {balance}, below its floor {floor}") for aid, balance, floor in rows]


def _settled_splits(connection: Connection) -> list[Breach]:
    done = settlements.c.status == SettlementStatus.DONE
    breaches = [
        Breach("S1 split", f"{period} funder #{funder} {code}: fee + shares + unspent != budget")
        for period, funder, code in connection.execute(
            select(settlements.c.period, settlements.c.funder_id, settlements.c.currency)
            .where(done, settlements.c.fee + settlements.c.distributed + settlements.c.unspent != settlements.c.amount)
            .limit(20)
        )
    ]
    shares = (
        select(receipts.c.period, receipts.c.funder_id, receipts.c.currency, func.sum(receipts.c.share).label("total"))
        .group_by(receipts.c.period, receipts.c.funder_id, receipts.c.currency)
        .subquery()
    )
    breaches += [
        Breach("S2 receipts", f"{period} funder #{funder} {code}: receipts add up to {total}, not {distributed}")
        for period, funder, code, distributed, total in connection.execute(
            select(
                settlements.c.period,
                settlements.c.funder_id,
                settlements.c.currency,
                settlements.c.distributed,
                func.coalesce(shares.c.total, 0),
            )
            .outerjoin(
                shares,
                (shares.c.period == settlements.c.period)
                & (shares.c.funder_id == settlements.c.funder_id)
                & (shares.c.currency == settlements.c.currency),
            )
            .where(done, settlements.c.distributed != func.coalesce(shares.c.total, 0))
            .limit(20)
        )
    ]
    # What the funder's wallet gave: a settlement's one leg that takes (creators paid into their wallets receive).
    wallet_legs = (
        select(postings.c.transaction_id, func.sum(postings.c.amount).label("taken"))
        .join(accounts, accounts.c.id == postings.c.account_id)
        .join(transactions, transactions.c.id == postings.c.transaction_id)
        .where(accounts.c.purpose == Purpose.WALLET, transactions.c.kind == Kind.SETTLEMENT, postings.c.amount < 0)
        .group_by(postings.c.transaction_id)
        .subquery()
    )
    breaches += [
        Breach("S3 taken", f"{period} funder #{funder} {code}: the ledger took {-taken}, the budget was {amount}")
        for period, funder, code, amount, taken in connection.execute(
            select(
                settlements.c.period,
                settlements.c.funder_id,
                settlements.c.currency,
                settlements.c.amount,
                func.coalesce(wallet_legs.c.taken, 0),
            )
            .outerjoin(wallet_legs, wallet_legs.c.transaction_id == settlements.c.transaction_id)
            .where(done, func.coalesce(wallet_legs.c.taken, 0) != -settlements.c.amount)
            .limit(20)
        )
    ]
    return breaches


def _receipted_earnings(connection: Connection) -> list[Breach]:
    """S4: what each creator's receipts of a period say they earned is what the ledger put in their earnings.

    S2 ties receipts to each funder's split; this ties them to the creators'
    side: a receipt naming the wrong creator breaks no funder's sum. One pass
    over each table, receipts and the creators' legs of the settlement
    transactions of every period, side by side. A creator's leg is one into
    their earnings or, in a currency with no outside world, into their wallet
    (``accounts.paid_into``; a period settled before wallets received has
    earnings legs in such a currency, and still counts): a settlement's one
    other wallet leg is the funder's, which takes, so a wallet leg that
    receives is a creator's, whatever the deployment says of the currency
    now. (A settlement transaction with no period is none of settlement's:
    tests post such by hand.)
    """
    receipted = select(
        receipts.c.period,
        receipts.c.creator_id.label("creator_id"),
        receipts.c.currency,
        receipts.c.share.label("receipted"),
        literal_column("0").label("posted"),
    )
    posted = (
        select(transactions.c.period, accounts.c.owner_id, accounts.c.currency, literal_column("0"), postings.c.amount)
        .select_from(
            postings.join(transactions, transactions.c.id == postings.c.transaction_id).join(
                accounts, accounts.c.id == postings.c.account_id
            )
        )
        .where(
            transactions.c.kind == Kind.SETTLEMENT,
            transactions.c.period.is_not(None),
            (accounts.c.purpose == Purpose.EARNINGS) | ((accounts.c.purpose == Purpose.WALLET) & (postings.c.amount > 0)),
        )
    )
    both = union_all(receipted, posted).subquery()
    rows = connection.execute(
        select(both.c.period, both.c.creator_id, both.c.currency, func.sum(both.c.receipted), func.sum(both.c.posted))
        .group_by(both.c.period, both.c.creator_id, both.c.currency)
        .having(func.sum(both.c.receipted) != func.sum(both.c.posted))
        .limit(20)
    )
    return [
        Breach(
            "S4 earnings",
            f"{period} creator #{creator} {code}: receipts add up to {receipted}, the ledger paid {paid} into their earnings",
        )
        for period, creator, code, receipted, paid in rows
    ]


def _owned_settlement_transactions(connection: Connection) -> list[Breach]:
    """S5: each settlement transaction of a period is the transaction of a budget settled ``done``.

    S1 to S3 look at the budgets marked done; a transaction whose budget was
    then marked otherwise (as two runners of one period once could) would
    move money that no check saw.
    """
    rows = connection.execute(
        select(transactions.c.id, transactions.c.period)
        .outerjoin(
            settlements, (settlements.c.transaction_id == transactions.c.id) & (settlements.c.status == SettlementStatus.DONE)
        )
        .where(transactions.c.kind == Kind.SETTLEMENT, transactions.c.period.is_not(None), settlements.c.transaction_id.is_(None))
        .limit(20)
    )
    return [Breach("S5 owned", f"{period}: settlement transaction #{tx} is no settled budget's") for tx, period in rows]


# What each check is called where the CLI sums them up, and the check.
CHECKS: dict[str, Callable[[Connection], list[Breach]]] = {
    "zero-sum": _currency_sums,
    "balanced": _balanced_transactions,
    "cached balances": _cached_balances,
    "floors": _floors,
    "settled splits": _settled_splits,
    "creators' earnings": _receipted_earnings,
    "settlement transactions owned": _owned_settlement_transactions,
}


def check_ledger(connection: Connection) -> list[Breach]:
    """Every breach found; an empty list means the ledger holds all its invariants."""
    breaches: list[Breach] = []
    for check in CHECKS.values():
        breaches.extend(check(connection))
    return breaches
