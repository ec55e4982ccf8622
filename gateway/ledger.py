"""The double-entry ledger: balanced transactions of postings, append only.

Invariants (checked by ``gateway.audit`` and ``gateway ledger check``):

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

import hashlib
import json
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.exc import IntegrityError

from .errors import IdempotencyKeyReused, InsufficientFunds
from .storage.bulk import bulk_insert, bulk_update_balances, reserve_ids
from .storage.schema import accounts, postings, transactions

FLOOR_CONSTRAINT = "ck_accounts_floor"
TRANSACTION_COLUMNS = ("id", "kind", "idempotency_key", "request_hash", "period", "meta", "created_at")
POSTING_COLUMNS = ("transaction_id", "account_id", "amount")


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


# json.dumps(content, sort_keys=True, default=str), without making an encoder per call.
_CONTENT_ENCODER = json.JSONEncoder(sort_keys=True, default=str)


def _content_hash(kind: str, period: str | None, legs: list[tuple[int, int]], meta: dict[str, Any]) -> str:
    """The digest of an entry's content: what an idempotency key's second use must match."""
    content = {"kind": kind, "period": period, "legs": sorted(legs), "meta": meta}
    return hashlib.sha256(_CONTENT_ENCODER.encode(content).encode()).hexdigest()


@dataclass(frozen=True)
class Posted:
    transaction_id: int
    replayed: bool = False


def find_by_key(connection: Connection, key: str) -> tuple[int, str | None] | None:
    row = connection.execute(
        select(transactions.c.id, transactions.c.request_hash).where(transactions.c.idempotency_key == key)
    ).first()
    return (row.id, row.request_hash) if row else None


def post(connection: Connection, entry: Entry, now: datetime) -> Posted:
    """Post one transaction in the caller's database transaction.

    Raises ``InsufficientFunds`` when a leg would take an account below its
    floor (the caller's transaction is then unusable and must roll back), and
    ``IdempotencyKeyReused`` when the key was used for other content.
    """
    digest = entry.content_hash()
    if entry.idempotency_key is not None:
        existing = find_by_key(connection, entry.idempotency_key)
        if existing is not None:
            if existing[1] != digest:
                raise IdempotencyKeyReused(
                    f"idempotency key {entry.idempotency_key!r} was used for a different transaction"
                )
            return Posted(existing[0], replayed=True)
    (transaction_id,) = post_many(connection, [entry], now, hashes=[digest])
    return Posted(transaction_id)


def post_many(
    connection: Connection, entries: Sequence[Entry], now: datetime, hashes: Sequence[str] | None = None
) -> list[int]:
    """Post many transactions at once: the settlement's bulk path.

    Keys are not looked up first; a key already used makes the database
    refuse the whole batch (the unique constraint), which is what a re-run
    of finished work should get.

    The transactions' ids are taken first (``reserve_ids``), so the
    transactions and their postings are written by the database's fastest
    bulk insert, with no id to read back row by row.
    """
    ids, deltas = insert_entries(connection, entries, now, hashes)
    apply_deltas(connection, deltas)
    return ids


def insert_entries(
    connection: Connection, entries: Sequence[Entry], now: datetime, hashes: Sequence[str] | None = None
) -> tuple[list[int], dict[int, int]]:
    """``post_many`` but for the balances: the ids, and the change to each account's balance.

    The caller must pass the changes to ``apply_deltas`` in the same database
    transaction. Settlement does so last, just before it commits, so that it
    holds the row locks of the accounts it shares with other batches (the
    creators', the fee account) for as short a time as it can.
    """
    if not entries:
        return [], {}
    ids = reserve_ids(connection, transactions, len(entries))
    rows = []
    legs: list[tuple[int, int, int]] = []
    deltas: dict[int, int] = defaultdict(int)
    for index, (transaction_id, entry) in enumerate(zip(ids, entries)):
        pairs = [(leg.account.id, leg.amount) for leg in entry.legs]
        for account_id, amount in pairs:
            legs.append((transaction_id, account_id, amount))
            deltas[account_id] += amount
        if hashes:
            digest = hashes[index]
        elif entry.idempotency_key is None:
            digest = None
        else:
            digest = _content_hash(entry.kind, entry.period, pairs, entry.meta)  # entry.content_hash(), from the pairs
        rows.append((transaction_id, entry.kind, entry.idempotency_key, digest, entry.period, entry.meta or None, now))
    bulk_insert(connection, transactions, TRANSACTION_COLUMNS, rows)
    bulk_insert(connection, postings, POSTING_COLUMNS, legs)
    return ids, deltas


def apply_deltas(connection: Connection, deltas: dict[int, int]) -> None:
    try:
        bulk_update_balances(connection, deltas)
    except IntegrityError as error:
        if FLOOR_CONSTRAINT in str(error.orig) or _constraint_name(error) == FLOOR_CONSTRAINT:
            raise InsufficientFunds("not enough money in the account for this movement") from None
        raise


def _constraint_name(error: IntegrityError) -> str | None:
    diag = getattr(error.orig, "diag", None)
    return getattr(diag, "constraint_name", None)


def balances(connection: Connection, account_ids: Iterable[int]) -> dict[int, int]:
    ids = list(account_ids)
    rows = connection.execute(select(accounts.c.id, accounts.c.balance).where(accounts.c.id.in_(ids)))
    return {row.id: row.balance for row in rows}
