"""The double-entry ledger: balanced transactions of postings, append only.

Invariants (checked by ``gateway.core.check`` and ``gateway ledger check``):

- L1 balanced: in every transaction, the postings of each currency sum to zero;
  hence in each currency the balances of all accounts sum to zero.
- L2 cached: an account's ``balance`` equals the sum of its postings; both are
  written in the same database transaction.
- L3 floor: no balance is below its account's floor; the database's CHECK
  constraint refuses the write that would break it, whoever makes it.
- L4 append only: postings and transactions are never updated or deleted
  (database triggers refuse it); a correction is a new transaction.
- L5 idempotent: a transaction caused by an outside event carries a key,
  unique in the database; the same key with the same content gives back the
  first transaction, with other content it is an error.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from gateway.core.digest import digest
from gateway.errors import IdempotencyKeyReused, InsufficientFunds
from gateway.storage.bulk import bulk_insert, bulk_update_balances, reserve_ids
from gateway.storage.schema import accounts, postings, transactions

FLOOR_CONSTRAINT = "ck_accounts_floor"
TRANSACTION_COLUMNS = ("id", "kind", "idempotency_key", "request_hash", "period", "meta", "created_at")
POSTING_COLUMNS = ("transaction_id", "account_id", "amount")


class Kind(StrEnum):
    """What moved money: each transaction says which of these it is."""

    TOP_UP_PENDING = "top_up_pending"  # outside -> incoming (asked of the provider: money in flight)
    TOP_UP = "top_up"  # incoming -> wallet (the provider confirmed it; before rails were two-phase: outside -> wallet)
    TOP_UP_VOID = "top_up_void"  # incoming -> outside (the provider said no)
    PROVIDER_FEE = "provider_fee"  # provider_fee -> outside: what the provider kept of a top-up, paid by the platform
    SETTLEMENT = "settlement"  # wallet -> earnings (wallets, without an outside world), fee, fund
    DEMURRAGE = "demurrage"  # wallets and earnings -> fund
    WITHDRAWAL_RESERVE = "withdrawal_reserve"  # earnings -> payout (money in flight)
    WITHDRAWAL = "withdrawal"  # payout -> outside, through the exchange
    WITHDRAWAL_VOID = "withdrawal_void"  # payout -> earnings
    EARNINGS_MOVE = "earnings_move"  # earnings -> wallet, the same creator's
    PAYMENT = "payment"  # wallet -> wallet, one member to another, in a currency without an outside world
    REFUND_RESERVE = "refund_reserve"  # wallet -> outgoing (a refund asked of the provider: money in flight)
    REFUND = "refund"  # outgoing -> outside (the provider gave it back to the funder)
    REFUND_VOID = "refund_void"  # outgoing -> wallet (the provider refused the refund)
    CLAWBACK = "clawback"  # wallet, creators' earnings, loss -> outside: a dispute or an outside refund took a top-up back
    CLAWBACK_RETURN = "clawback_return"  # the same, backwards: the dispute was won
    WITHDRAWAL_RETURN = "withdrawal_return"  # outside -> earnings, through the exchange: a paid payout came back


@dataclass(frozen=True)
class Account:
    id: int
    owner_id: int
    purpose: str
    currency: str
    floor: int | None


@dataclass(frozen=True)
class Leg:
    account: Account
    amount: int


@dataclass(frozen=True)
class Entry:
    """A transaction to post: what kind of movement, its legs, and why."""

    kind: str
    legs: tuple[Leg, ...]
    idempotency_key: str | None = None
    period: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        totals: dict[str, int] = defaultdict(int)
        for leg in self.legs:
            if leg.amount == 0:
                raise ValueError(f"{self.kind}: a leg of zero on account {leg.account.id}")
            totals[leg.account.currency] += leg.amount
        unbalanced = {code: total for code, total in totals.items() if total}
        if unbalanced or not self.legs:
            raise ValueError(f"{self.kind}: unbalanced transaction {unbalanced or 'with no legs'}")

    def content_hash(self) -> str:
        return _content_hash(self.kind, self.period, [(leg.account.id, leg.amount) for leg in self.legs], self.meta)


def _content_hash(kind: str, period: str | None, legs: list[tuple[int, int]], meta: dict[str, Any]) -> str:
    """The digest of an entry's content: what an idempotency key's second use must match."""
    return digest({"kind": kind, "period": period, "legs": sorted(legs), "meta": meta})


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    replayed: bool = False


def find_by_key(connection: Connection, key: str) -> tuple[int, str | None] | None:
    row = connection.execute(
        select(transactions.c.id, transactions.c.request_hash).where(transactions.c.idempotency_key == key)
    ).first()
    return (row.id, row.request_hash) if row else None


def reversed_legs(connection: Connection, transaction_id: int) -> tuple[Leg, ...]:
    """A posted transaction's legs, backwards: the ledger is append-only, so a correction is a new transaction of these."""
    rows = connection.execute(
        select(accounts, postings.c.amount)
        .join(postings, postings.c.account_id == accounts.c.id)
        .where(postings.c.transaction_id == transaction_id)
        .order_by(postings.c.id)
    )
    return tuple(Leg(Account(row.id, row.owner_id, row.purpose, row.currency, row.floor), -row.amount) for row in rows)


def post(connection: Connection, entry: Entry, now: datetime) -> Posted:
    """Post one transaction in the caller's database transaction.

    Raises ``InsufficientFunds`` when a leg would take an account below its
    floor (the caller's transaction is then unusable and must roll back), and
    ``IdempotencyKeyReused`` when the key was used for other content.
    """
    content = entry.content_hash()
    if entry.idempotency_key is not None:
        existing = find_by_key(connection, entry.idempotency_key)
        if existing is not None:
            if existing[1] != content:
                raise IdempotencyKeyReused(f"idempotency key {entry.idempotency_key!r} was used for a different transaction")
            return Posted(existing[0], replayed=True)
    (transaction_id,) = post_many(connection, [entry], now, hashes=[content])
    return Posted(transaction_id)


def post_many(
    connection: Connection,
    entries: Sequence[Entry],
    now: datetime,
    hashes: Sequence[str] | None = None,
    alongside: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Post many transactions at once, in the caller's database transaction: the ledger's one write path.

    Writes the transactions, their postings and the accounts' balances
    together, so that L2 (cached balances equal postings) holds whoever
    calls. ``alongside`` writes the caller's own rows that name the new
    transactions (settlement's receipts and budget marks): it gets their ids,
    after the postings and before the balances, which come last so that the
    row locks of accounts shared with other writers (the creators', the fee
    account) are held for as short a time as they can be. It is called even
    when there is no entry.

    Keys are not looked up first (``post`` does); a key already used makes
    the database refuse the whole batch (the unique constraint), which is
    what a re-run of finished work should get. The transactions' ids are
    taken first (``reserve_ids``), so that transactions and postings go in by
    the database's fastest bulk insert, with no id to read back row by row.
    """
    ids = reserve_ids(connection, transactions, len(entries)) if entries else []
    rows = []
    legs: list[tuple[int, int, int]] = []
    deltas: dict[int, int] = defaultdict(int)
    for index, (transaction_id, entry) in enumerate(zip(ids, entries)):
        pairs = [(leg.account.id, leg.amount) for leg in entry.legs]
        for account_id, amount in pairs:
            legs.append((transaction_id, account_id, amount))
            deltas[account_id] += amount
        if hashes:
            content: str | None = hashes[index]
        elif entry.idempotency_key is None:
            content = None
        else:
            content = _content_hash(entry.kind, entry.period, pairs, entry.meta)  # entry.content_hash(), from the pairs
        rows.append((transaction_id, entry.kind, entry.idempotency_key, content, entry.period, entry.meta or None, now))
    if entries:
        bulk_insert(connection, transactions, TRANSACTION_COLUMNS, rows)
        bulk_insert(connection, postings, POSTING_COLUMNS, legs)
    if alongside is not None:
        alongside(ids)
    _apply(connection, deltas)
    return ids


def _apply(connection: Connection, deltas: dict[int, int]) -> None:
    """The balances' changes; a change that would take an account below its floor is refused (L3)."""
    try:
        bulk_update_balances(connection, deltas)
    except IntegrityError as error:
        if FLOOR_CONSTRAINT in str(error.orig) or _constraint_name(error) == FLOOR_CONSTRAINT:
            raise InsufficientFunds("not enough money in the account for this movement") from None
        raise


def _constraint_name(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)
