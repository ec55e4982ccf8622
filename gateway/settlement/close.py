"""Phase 3: demurrage, the period's totals, and the period marked closed."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, case, func, insert, literal, select, update

from currencies import CurrencyUnit

from ..accounts import account, system_participant
from ..config import Settings
from ..demurrage import demurrage_charges
from ..ledger import Account, Entry, Leg, find_by_key, post
from ..periods import Period, month_boundaries_crossed
from ..storage.schema import accounts, creator_totals, participants, period_totals, periods, postings, receipts, settlements, transactions

HOLDING_PURPOSES = ("wallet", "earnings")


def demurrage_due(settings: Settings, period: Period) -> list[CurrencyUnit]:
    return [
        unit
        for unit in settings.currencies
        if unit.demurrage and month_boundaries_crossed(period, unit.demurrage.every_months)
    ]


def charge_demurrage(connection: Connection, unit: CurrencyUnit, period: Period, now: datetime) -> None:
    """Charge one currency's holding fee for the period, once (the transaction is keyed).

    The period's row is locked first: a second runner of the same period waits
    here, then finds the charge made, instead of reckoning it again from the
    holdings the first one's charge has already changed.
    """
    key = f"demurrage:{period.id}:{unit.code}"
    connection.execute(select(periods.c.id).where(periods.c.id == period.id).with_for_update())
    if find_by_key(connection, key) is not None:
        return
    # Keyed by holder (handle, purpose), not by account id: the split breaks ties in key order, and account
    # ids follow the order accounts were opened in, which batches side by side or a redone batch change.
    holdings = {
        (row.handle, row.purpose): row
        for row in connection.execute(
            select(accounts, participants.c.handle)
            .join(participants, participants.c.id == accounts.c.owner_id)
            .where(accounts.c.currency == unit.code, accounts.c.purpose.in_(HOLDING_PURPOSES), accounts.c.balance > 0)
            .order_by(accounts.c.id)
            .with_for_update(of=accounts)
        )
    }
    charges = demurrage_charges({holder: row.balance for holder, row in holdings.items()}, unit.demurrage.rate, period.ordinal)
    if not charges:
        return
    fund = account(connection, system_participant(connection, unit.demurrage.fund, now), "fund", unit)
    legs = [Leg(_as_account(holdings[holder]), -charge) for holder, charge in sorted(charges.items())]
    legs.append(Leg(fund, sum(charges.values())))
    meta = {"rate": str(unit.demurrage.rate), "every_months": unit.demurrage.every_months}
    post(connection, Entry("demurrage", tuple(legs), idempotency_key=key, period=period.id, meta=meta), now)


def _as_account(row) -> Account:
    return Account(row.id, row.owner_id, row.purpose, row.currency, row.floor)


def close(connection: Connection, period: Period, now: datetime) -> None:
    """Write the totals per currency and per creator, and mark the period closed."""
    status = connection.execute(select(periods.c.status).where(periods.c.id == period.id).with_for_update()).scalar()
    if status == "closed":
        return
    done = settlements.c.status == "done"
    sums = connection.execute(
        select(
            settlements.c.currency,
            func.count().filter(done),
            func.coalesce(func.sum(case((done, settlements.c.amount), else_=0)), 0),
            func.coalesce(func.sum(settlements.c.fee), 0),
            func.coalesce(func.sum(settlements.c.distributed), 0),
            func.coalesce(func.sum(settlements.c.unspent), 0),
        )
        .where(settlements.c.period == period.id)
        .group_by(settlements.c.currency)
    ).all()
    charged = _demurrage_by_currency(connection, period)
    rows = [
        dict(period=period.id, currency=code, funders=funders, budgets=budgets, fees=fees, distributed=distributed,
             unspent=unspent, demurrage=charged.pop(code, 0))
        for code, funders, budgets, fees, distributed, unspent in sums
    ]
    rows += [
        dict(period=period.id, currency=code, funders=0, budgets=0, fees=0, distributed=0, unspent=0, demurrage=amount)
        for code, amount in charged.items()
    ]
    if rows:
        connection.execute(insert(period_totals), rows)
    earned = (
        select(
            literal(period.id), receipts.c.currency, receipts.c.creator_id,
            func.sum(receipts.c.share), func.count(func.distinct(receipts.c.funder_id)),
        )
        .where(receipts.c.period == period.id)
        .group_by(receipts.c.currency, receipts.c.creator_id)
    )
    connection.execute(
        insert(creator_totals).from_select(["period", "currency", "creator_id", "earned", "funders"], earned)
    )
    connection.execute(update(periods).where(periods.c.id == period.id).values(status="closed", closed_at=now))


def _demurrage_by_currency(connection: Connection, period: Period) -> dict[str, int]:
    rows = connection.execute(
        select(accounts.c.currency, func.sum(postings.c.amount))
        .select_from(postings.join(transactions, transactions.c.id == postings.c.transaction_id).join(accounts, accounts.c.id == postings.c.account_id))
        .where(transactions.c.kind == "demurrage", transactions.c.period == period.id, postings.c.amount > 0)
        .group_by(accounts.c.currency)
    )
    return {code: amount for code, amount in rows}
