"""Phase 2: split a batch of pending budgets and post them, in one database transaction.

The work of a batch, in order:

1. read and claim the next pending rows (funder and currency order; see
   ``_pending``) and read the funders' flattrs;
2. lock the funders' wallets (in account order) and read their balances,
   with the creators' wallets where shares are paid into them (a currency
   with no outside world, ``accounts.paid_into``);
3. split each budget (``allocate_minor``), in Python;
4. build one ledger entry per funder and currency, keyed
   ``keys.settlement``;
5. post them (``ledger.post_many``: transactions and postings by the
   database's bulk insert), writing alongside the receipts the same way and
   the rows' outcomes in one statement; the balances come last, in account
   order: batches settled side by side wait for each other only there.

Reads and writes go through the driver (``exec_driver_sql``, ``bulk_insert``)
rather than SQLAlchemy's per-row parameter and result handling, which was
most of the time of a large batch.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select

from currencies import CurrencyUnit
from gateway.config import Settings
from gateway.core import keys
from gateway.core.accounts import PLATFORM, Purpose, accounts_of, paid_into, system_participant
from gateway.core.allocation import Allocation, allocate_minor
from gateway.core.ledger import Account, Entry, Kind, Leg, post_many
from gateway.core.periods import Period
from gateway.core.states import SettlementStatus
from gateway.storage.bulk import bulk_insert, bulk_update, locking, read_rows, select_in
from gateway.storage.schema import receipts, settlements

Pending = tuple[int, str, int]  # a budget to settle: (funder, currency, amount)
Claims = dict[int, list[tuple[int, int, int]]]  # each funder's flattrs: (thing, creator, points)
Wallets = dict[str, dict[int, tuple[Account, int]]]  # currency -> funder -> (wallet, balance)

RECEIPT_COLUMNS = ("period", "funder_id", "currency", "thing_id", "creator_id", "points", "share", "transaction_id")


@dataclass
class _Outcome:
    """What one pending row became: its ledger entry (if any) and its receipts."""

    funder: int
    currency: str
    status: str
    fee: int = 0
    distributed: int = 0
    unspent: int = 0
    entry: Entry | None = None
    receipts: list[tuple[int, int, int, int]] = field(default_factory=list)  # (thing, creator, points, share)
    transaction_id: int | None = None


@dataclass
class Known:
    """Accounts and system participants that exist in the database, by key.

    An account never changes owner, purpose or currency once opened, and is
    never deleted, so what one batch found need not be looked up by the next.
    The settlement driver only keeps what a batch found once that batch has
    committed, so nothing here can come from a rolled-back transaction.
    """

    accounts: dict[tuple[str, str, int], Account] = field(default_factory=dict)  # (purpose, currency, owner)
    participants: dict[str, int] = field(default_factory=dict)  # handle -> id

    def merge(self, other: Known) -> None:
        self.accounts.update(other.accounts)
        self.participants.update(other.participants)


@dataclass
class BatchResult:
    count: int  # pending rows settled (0: none were left)
    found: Known = field(default_factory=Known)  # accounts found or opened by the batch


class _Book:
    """Account lookups for one batch: from what earlier batches found, else from the database."""

    def __init__(self, connection: Connection, now: datetime, known: Known, found: Known) -> None:
        self.connection = connection
        self.now = now
        self.known = known
        self.found = found

    def accounts(self, owners: Iterable[int], purpose: str, unit: CurrencyUnit) -> dict[int, Account]:
        result: dict[int, Account] = {}
        missing = []
        for owner in owners:
            hit = self.known.accounts.get((purpose, unit.code, owner)) or self.found.accounts.get((purpose, unit.code, owner))
            if hit is None:
                missing.append(owner)
            else:
                result[owner] = hit
        if missing:
            for owner, acct in accounts_of(self.connection, missing, purpose, unit).items():
                self.found.accounts[purpose, unit.code, owner] = acct
                result[owner] = acct
        return result

    def system_account(self, handle: str, purpose: str, unit: CurrencyUnit) -> Account:
        owner = self.known.participants.get(handle) or self.found.participants.get(handle)
        if owner is None:
            owner = self.found.participants[handle] = system_participant(self.connection, handle, self.now)
        return self.accounts([owner], purpose, unit)[owner]


def eligible_creators(connection: Connection, period: Period) -> set[int]:
    """Give-to-receive: the participants who fund in this period (had means and flattred).

    Read from what ``prepare`` fixed (the amount), never from the batches' outcomes, so that a resumed
    settlement finds the same set as the run it finishes.
    """
    rows = connection.execute(
        select(settlements.c.funder_id).where(
            settlements.c.period == period.id, settlements.c.amount > 0, settlements.c.flattrs > 0
        )
    )
    return {row.funder_id for row in rows}


def pending_ranges(connection: Connection, period_id: str, size: int) -> list[tuple[int, int | None]]:
    """The pending funders cut into batches of ``size`` funders, as (first, last) funder ids (last None: no end).

    Batches are ranges of funder ids, so that workers can settle them side by
    side without ever taking the same funder's wallet.
    """
    starts = read_rows(
        connection,
        "SELECT funder_id FROM (SELECT funder_id, row_number() OVER (ORDER BY funder_id) AS n "
        "FROM (SELECT DISTINCT funder_id FROM settlements WHERE period = ? AND status = 'pending') AS f) AS numbered "
        "WHERE (n - 1) % ? = 0 ORDER BY funder_id",
        (period_id, size),
    )
    firsts = [row[0] for row in starts]
    return [(first, following - 1) for first, following in zip(firsts, firsts[1:])] + [(firsts[-1], None)] if firsts else []


def settle_batch(
    connection: Connection,
    settings: Settings,
    period: Period,
    now: datetime,
    funders: tuple[int, int | None],
    eligible: set[int] | None,
    known: Known | None = None,
) -> BatchResult:
    """Settle the pending rows of the funders in the range ``funders`` (see ``pending_ranges``)."""
    result = BatchResult(0)
    book = _Book(connection, now, known or Known(), result.found)
    pending = _pending(connection, period.id, *funders)
    if not pending:
        return result
    claims = _claims(connection, period.id, pending[0][0], pending[-1][0])
    wallets = _lock_wallets(connection, settings, pending, claims)
    outcomes = _split_all(settings, period, pending, claims, eligible, wallets)
    _attach_entries(settings, period, outcomes, wallets, book)
    _write(connection, period, now, outcomes)
    result.count = len(pending)
    return result


def _pending(connection: Connection, period_id: str, first: int, last: int | None) -> list[Pending]:
    """The pending (funder, currency, amount) rows of funders ``first`` to ``last``, in funder and currency order, claimed.

    Two runners may settle one period at once (two API processes, or the API
    and ``gateway settle``). The batch claims its rows until it commits: on
    PostgreSQL by locking them (in funder order, so claims never wait in a
    circle), and a batch that waited on another's claim finds those rows
    settled, since the lock re-reads them; on SQLite the batch reads them
    inside its write transaction, which holds the database's only write lock.
    """
    statement = "SELECT funder_id, currency, amount FROM settlements WHERE period = ? AND status = 'pending' AND funder_id >= ?"
    params: tuple[Any, ...] = (period_id, first)
    if last is not None:
        statement += " AND funder_id <= ?"
        params += (last,)
    statement += " ORDER BY funder_id, currency"
    return read_rows(connection, statement + locking(connection), params)


def _claims(connection: Connection, period_id: str, first: int, last: int) -> Claims:
    """Each funder's flattrs of the period as (thing, creator, points)."""
    rows = read_rows(
        connection,
        "SELECT flattrs.funder_id, flattrs.thing_id, things.owner_id, flattrs.points FROM flattrs "
        "JOIN things ON things.id = flattrs.thing_id "
        "WHERE flattrs.period = ? AND flattrs.funder_id BETWEEN ? AND ? "
        "ORDER BY flattrs.funder_id, flattrs.thing_id",
        (period_id, first, last),
    )
    claims: Claims = defaultdict(list)
    for funder, thing, creator, points in rows:
        claims[funder].append((thing, creator, points))
    return claims


def _lock_wallets(connection: Connection, settings: Settings, pending: Sequence[Pending], claims: Claims) -> Wallets:
    """The wallets the batch moves money in and out of, with their balances, locked until the batch commits.

    The funders' wallets; and in a currency whose shares are paid into wallets
    (``paid_into``), the wallets of the creators they flattred, which are other
    batches' funders: every batch locks all the wallets it writes here, at
    once, in one order (currency, then account), before any other account, so
    batches side by side, payments and earnings moves never wait in a circle.
    """
    by_currency: dict[str, set[int]] = defaultdict(set)
    for funder, code, _ in pending:
        by_currency[code].add(funder)
        if paid_into(settings.currencies.get(code)) == Purpose.WALLET:
            by_currency[code].update(creator for _, creator, _ in claims.get(funder, ()))
    wallets: Wallets = {}
    for code, owners in sorted(by_currency.items()):
        found = _wallet_rows(connection, code, sorted(owners))
        missing = sorted(owner for owner in owners if owner not in found)
        if missing:  # a wallet not opened yet (a mutual-credit member can give before any top-up)
            accounts_of(connection, missing, Purpose.WALLET, settings.currencies.get(code))
            found.update(_wallet_rows(connection, code, missing))
        wallets[code] = found
    return wallets


def _wallet_rows(connection: Connection, code: str, funders: list[int]) -> dict[int, tuple[Account, int]]:
    rows = select_in(
        connection,
        "SELECT id, owner_id, floor, balance FROM accounts WHERE purpose = 'wallet' AND currency = ? AND owner_id",
        funders,
        (code,),
        " ORDER BY id" + locking(connection),  # in account order
    )
    return {owner: (Account(id_, owner, Purpose.WALLET, code, floor), balance) for id_, owner, floor, balance in rows}


def _split_all(
    settings: Settings, period: Period, pending: list[Pending], claims: Claims, eligible: set[int] | None, wallets: Wallets
) -> list[_Outcome]:
    return [
        _split(settings, period, funder, code, amount, claims.get(funder, ()), eligible, wallets[code][funder])
        for funder, code, amount in pending
    ]


def _split(
    settings: Settings,
    period: Period,
    funder: int,
    code: str,
    amount: int,
    claims: Sequence[tuple[int, int, int]],
    eligible: set[int] | None,
    wallet: tuple[Account, int],
) -> _Outcome:
    account_, balance = wallet
    floor = account_.floor or 0
    if balance - amount < floor:  # the wallet shrank since the period began settling
        return _Outcome(funder, code, SettlementStatus.NO_MEANS)
    kept = claims if eligible is None else [c for c in claims if c[1] in eligible]
    if not kept:
        if settings.unspent_account is None:
            return _Outcome(funder, code, SettlementStatus.RETURNED)
        return _Outcome(funder, code, SettlementStatus.DONE, unspent=amount)
    allocation = split_budget(settings, period, funder, code, amount, [(thing, points) for thing, _, points in kept])
    outcome = _Outcome(funder, code, SettlementStatus.DONE, fee=allocation.fee, distributed=allocation.distributed)
    shares = allocation.shares
    outcome.receipts = [(thing, creator, points, shares[thing]) for thing, creator, points in kept]
    return outcome


def split_budget(
    settings: Settings, period: Period, funder: int, code: str, amount: int, points: Sequence[tuple[int, int]]
) -> Allocation[int]:
    """One funder's budget in one currency divided among their things (thing, points): the fee, and each thing's share.

    The funder's dashboard projects the period with it, so what it shows is what settling would pay.
    """
    return allocate_minor(amount, settings.policies[code].fee, points, period.ordinal + funder)


def _attach_entries(settings: Settings, period: Period, outcomes: list[_Outcome], wallets: Wallets, book: _Book) -> None:
    creators_by_currency: dict[str, set[int]] = defaultdict(set)
    for outcome in outcomes:
        creators_by_currency[outcome.currency].update(creator for _, creator, _, share in outcome.receipts if share)
    # Accounts a batch may open are opened in one order (currency, then owner) by every batch: batches side
    # by side wait on each other's new rows, and must never wait in a circle.
    receiving = {
        code: _creators_accounts(settings.currencies.get(code), creators, wallets, book)
        for code, creators in sorted(creators_by_currency.items())
    }
    units = {code: settings.currencies.get(code) for code in sorted(wallets)}
    fee_accounts = {code: book.system_account(PLATFORM, Purpose.FEE, unit) for code, unit in units.items()}
    if settings.unspent_account:
        unspent_accounts = {
            code: book.system_account(settings.unspent_account, Purpose.FUND, unit) for code, unit in units.items()
        }
    period_id = period.id
    for outcome in outcomes:
        if outcome.status != SettlementStatus.DONE:
            continue
        code = outcome.currency
        wallet = wallets[code][outcome.funder][0]
        amount = outcome.fee + outcome.distributed + outcome.unspent
        legs = [Leg(wallet, -amount)]
        if outcome.fee:
            legs.append(Leg(fee_accounts[code], outcome.fee))
        if outcome.unspent:
            legs.append(Leg(unspent_accounts[code], outcome.unspent))
        per_creator: dict[int, int] = {}
        for _, creator, _, share in outcome.receipts:
            if share:
                per_creator[creator] = per_creator.get(creator, 0) + share
        creators = receiving[code] if per_creator else {}
        legs += [Leg(creators[creator], total) for creator, total in sorted(per_creator.items())]
        outcome.entry = Entry(Kind.SETTLEMENT, tuple(legs), keys.settlement(period_id, outcome.funder, code), period_id)


def _creators_accounts(unit: CurrencyUnit, creators: set[int], wallets: Wallets, book: _Book) -> dict[int, Account]:
    """The accounts the creators' shares go to (``paid_into``): their earnings, or their wallets, locked already."""
    if paid_into(unit) == Purpose.WALLET:
        return {creator: wallets[unit.code][creator][0] for creator in creators}
    return book.accounts(sorted(creators), Purpose.EARNINGS, unit)


def _write(connection: Connection, period: Period, now: datetime, outcomes: list[_Outcome]) -> None:
    posted = [o for o in outcomes if o.entry is not None]

    def receipts_and_outcomes(ids: list[int]) -> None:
        for outcome, transaction_id in zip(posted, ids):
            outcome.transaction_id = transaction_id
        rows = (
            (period.id, o.funder, o.currency, thing, creator, points, share, o.transaction_id)
            for o in posted
            for thing, creator, points, share in o.receipts
        )
        bulk_insert(connection, receipts, RECEIPT_COLUMNS, rows)
        bulk_update(
            connection,
            settlements,
            ("funder_id", "currency"),
            ("status", "fee", "distributed", "unspent", "transaction_id"),
            [(o.funder, o.currency, o.status, o.fee, o.distributed, o.unspent, o.transaction_id) for o in outcomes],
            fixed={"period": period.id},
            between=("funder_id", outcomes[0].funder, outcomes[-1].funder),  # the batch's range: an index scan
        )

    post_many(connection, [o.entry for o in posted if o.entry is not None], now, alongside=receipts_and_outcomes)
