"""Phase 2: split a batch of pending budgets and post them, in one database transaction."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import Connection, bindparam, select, update

from ..accounts import PLATFORM, account, accounts_of, system_participant
from ..allocation import allocate_minor
from ..config import Settings
from ..ledger import Account, Entry, Leg, post_many
from ..periods import Period
from ..storage.bulk import bulk_insert
from ..storage.schema import accounts, flattrs, receipts, settlements, things

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
    receipts: list[tuple] = field(default_factory=list)  # (thing, creator, points, share)


def eligible_creators(connection: Connection, period: Period) -> set[int]:
    """Give-to-receive: the participants who fund in this period (had means and flattred)."""
    rows = connection.execute(
        select(settlements.c.funder_id).where(
            settlements.c.period == period.id, settlements.c.status != "no_means", settlements.c.flattrs > 0
        )
    )
    return {row.funder_id for row in rows}


def settle_batch(
    connection: Connection, settings: Settings, period: Period, now: datetime, size: int, eligible: set[int] | None
) -> int:
    """Settle up to ``size`` pending rows; returns how many (0: none left)."""
    pending = connection.execute(
        select(settlements.c.funder_id, settlements.c.currency, settlements.c.amount)
        .where(settlements.c.period == period.id, settlements.c.status == "pending")
        .order_by(settlements.c.funder_id, settlements.c.currency)
        .limit(size)
    ).all()
    if not pending:
        return 0
    claims = _claims(connection, period, pending[0].funder_id, pending[-1].funder_id)
    wallets = _lock_wallets(connection, settings, pending)
    outcomes = []
    for row in pending:
        wallet = wallets[row.currency][row.funder_id]
        outcomes.append(_split(settings, period, row, claims.get(row.funder_id, []), eligible, wallet))
    _attach_entries(connection, settings, period, now, outcomes, wallets)
    _write(connection, period, now, outcomes)
    return len(pending)


def _claims(connection: Connection, period: Period, first: int, last: int) -> dict[int, list[tuple[int, int, int]]]:
    """Each funder's flattrs of the period as (thing, creator, points)."""
    rows = connection.execute(
        select(flattrs.c.funder_id, flattrs.c.thing_id, things.c.owner_id, flattrs.c.points)
        .join(things, things.c.id == flattrs.c.thing_id)
        .where(flattrs.c.period == period.id, flattrs.c.funder_id.between(first, last))
    )
    claims: dict[int, list[tuple[int, int, int]]] = defaultdict(list)
    for funder, thing, creator, points in rows:
        claims[funder].append((thing, creator, points))
    return claims


def _lock_wallets(connection: Connection, settings: Settings, pending) -> dict[str, dict[int, tuple[Account, int]]]:
    """The funders' wallets and balances, locked until the batch commits."""
    by_currency: dict[str, list[int]] = defaultdict(list)
    for row in pending:
        by_currency[row.currency].append(row.funder_id)
    wallets: dict[str, dict[int, tuple[Account, int]]] = {}
    for code, funders in by_currency.items():
        found = accounts_of(connection, funders, "wallet", settings.currencies.get(code))
        ids = sorted(a.id for a in found.values())
        balances: dict[int, int] = {}
        for start in range(0, len(ids), 10_000):
            chunk = ids[start : start + 10_000]
            query = select(accounts.c.id, accounts.c.balance).where(accounts.c.id.in_(chunk)).with_for_update()
            balances.update(connection.execute(query).all())
        wallets[code] = {funder: (acct, balances[acct.id]) for funder, acct in found.items()}
    return wallets


def _split(settings: Settings, period: Period, row, claims, eligible: set[int] | None, wallet: tuple[Account, int]) -> _Outcome:
    account_, balance = wallet
    floor = account_.floor or 0
    if balance - row.amount < floor:  # the wallet shrank since the period began settling
        return _Outcome(row.funder_id, row.currency, "no_means")
    kept = [c for c in claims if eligible is None or c[1] in eligible]
    if not kept:
        if settings.unspent_account is None:
            return _Outcome(row.funder_id, row.currency, "returned")
        return _Outcome(row.funder_id, row.currency, "done", unspent=row.amount)
    fee_rate = settings.policies[row.currency].fee
    allocation = allocate_minor(row.amount, fee_rate, [(thing, points) for thing, _, points in kept], period.ordinal + row.funder_id)
    outcome = _Outcome(row.funder_id, row.currency, "done", fee=allocation.fee, distributed=allocation.distributed)
    outcome.receipts = [(thing, creator, points, allocation.shares[thing]) for thing, creator, points in kept]
    return outcome


def _attach_entries(connection, settings: Settings, period: Period, now: datetime, outcomes: list[_Outcome], wallets) -> None:
    creators_by_currency: dict[str, set[int]] = defaultdict(set)
    for outcome in outcomes:
        creators_by_currency[outcome.currency].update(creator for _, creator, _, share in outcome.receipts if share)
    earnings = {
        code: accounts_of(connection, creators, "earnings", settings.currencies.get(code))
        for code, creators in creators_by_currency.items()
    }
    units = {code: settings.currencies.get(code) for code in wallets}
    platform = system_participant(connection, PLATFORM, now)
    fee_accounts = {code: account(connection, platform, "fee", unit) for code, unit in units.items()}
    if settings.unspent_account:
        fund = system_participant(connection, settings.unspent_account, now)
        unspent_accounts = {code: account(connection, fund, "fund", unit) for code, unit in units.items()}
    for outcome in outcomes:
        if outcome.status != "done":
            continue
        wallet = wallets[outcome.currency][outcome.funder][0]
        amount = outcome.fee + outcome.distributed + outcome.unspent
        legs = [Leg(wallet, -amount)]
        if outcome.fee:
            legs.append(Leg(fee_accounts[outcome.currency], outcome.fee))
        if outcome.unspent:
            legs.append(Leg(unspent_accounts[outcome.currency], outcome.unspent))
        per_creator: dict[int, int] = defaultdict(int)
        for _, creator, _, share in outcome.receipts:
            per_creator[creator] += share
        legs += [Leg(earnings[outcome.currency][creator], total) for creator, total in sorted(per_creator.items()) if total]
        outcome.entry = Entry(
            kind="settlement",
            legs=tuple(legs),
            idempotency_key=f"settle:{period.id}:{outcome.funder}:{outcome.currency}",
            period=period.id,
        )


def _write(connection: Connection, period: Period, now: datetime, outcomes: list[_Outcome]) -> None:
    posted = [o for o in outcomes if o.entry is not None]
    ids = post_many(connection, [o.entry for o in posted], now)
    transaction_of = {(o.funder, o.currency): tx for o, tx in zip(posted, ids)}
    rows = (
        (period.id, o.funder, o.currency, thing, creator, points, share, transaction_of[o.funder, o.currency])
        for o in posted
        for thing, creator, points, share in o.receipts
    )
    bulk_insert(connection, receipts, RECEIPT_COLUMNS, rows)
    connection.execute(
        update(settlements)
        .where(
            settlements.c.period == period.id,
            settlements.c.funder_id == bindparam("f"),
            settlements.c.currency == bindparam("c"),
        )
        .values(
            status=bindparam("s"), fee=bindparam("fee_"), distributed=bindparam("d"),
            unspent=bindparam("u"), transaction_id=bindparam("t"),
        ),
        [
            {"f": o.funder, "c": o.currency, "s": o.status, "fee_": o.fee, "d": o.distributed,
             "u": o.unspent, "t": transaction_of.get((o.funder, o.currency))}
            for o in outcomes
        ],
    )
