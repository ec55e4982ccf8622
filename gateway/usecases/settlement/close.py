"""Phase 3: demurrage, the period's totals, and the period marked closed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Row, case, func, insert, literal, select, update

from currencies import CurrencyUnit
from gateway.config import Settings
from gateway.core import keys
from gateway.core.accounts import Purpose, account, system_participant
from gateway.core.demurrage import demurrage_charges
from gateway.core.ledger import Account, Entry, Kind, Leg, find_by_key, post
from gateway.core.periods import Period, month_boundaries_crossed
from gateway.core.states import PeriodStatus, SettlementStatus
from gateway.storage.schema import (
    accounts,
    creator_totals,
    participants,
    period_totals,
    periods,
    postings,
    receipts,
    settlements,
    transactions,
)

HOLDING_PURPOSES = (Purpose.WALLET, Purpose.EARNINGS)


def demurrage_due(settings: Settings, period: Period) -> list[CurrencyUnit]:
    return [
        unit for unit in settings.currencies if unit.demurrage and month_boundaries_crossed(period, unit.demurrage.every_months)
    ]


def charge_demurrage(connection: Connection, unit: CurrencyUnit, period: Period, now: datetime) -> None:
    """Charge one currency's holding fee for the period, once (the transaction is keyed).

    The period's row is locked first: a second runner of the same period waits
    here, then finds the charge made, instead of reckoning it again from the
    holdings the first one's charge has already changed.
    """
    rule = unit.demurrage
    if rule is None:
        raise ValueError(f"{unit.code} is no demurrage money")
    key = keys.demurrage(period.id, unit.code)
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
    charges = demurrage_charges({holder: row.balance for holder, row in holdings.items()}, rule.rate, period.ordinal)
    if not charges:
        return
    fund = account(connection, system_participant(connection, rule.fund, now), Purpose.FUND, unit)
    legs = [Leg(_as_account(holdings[holder]), -charge) for holder, charge in sorted(charges.items())]
    legs.append(Leg(fund, sum(charges.values())))
    meta = {"rate": str(rule.rate), "every_months": rule.every_months}
    post(connection, Entry(Kind.DEMURRAGE, tuple(legs), idempotency_key=key, period=period.id, meta=meta), now)


def _as_account(row: Row[Any]) -> Account:
    return Account(row.id, row.owner_id, row.purpose, row.currency, row.floor)


def close(connection: Connection, period: Period, now: datetime) -> None:
    """Write the totals per currency and per creator, and mark the period closed."""
    status = connection.execute(select(periods.c.status).where(periods.c.id == period.id).with_for_update()).scalar()
    if status == PeriodStatus.CLOSED:
        return
    done = settlements.c.status == SettlementStatus.DONE
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
        dict(
            period=period.id,
            currency=code,
            funders=funders,
            budgets=budgets,
            fees=fees,
            distributed=distributed,
            unspent=unspent,
            demurrage=charged.pop(code, 0),
        )
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
            literal(period.id),
            receipts.c.currency,
            receipts.c.creator_id,
            func.sum(receipts.c.share),
            func.count(func.distinct(receipts.c.funder_id)),
        )
        .where(receipts.c.period == period.id)
        .group_by(receipts.c.currency, receipts.c.creator_id)
    )
    connection.execute(insert(creator_totals).from_select(["period", "currency", "creator_id", "earned", "funders"], earned))
    connection.execute(update(periods).where(periods.c.id == period.id).values(status=PeriodStatus.CLOSED, closed_at=now))


def _demurrage_by_currency(connection: Connection, period: Period) -> dict[str, int]:
    rows = connection.execute(
        select(accounts.c.currency, func.sum(postings.c.amount))
        .select_from(
            postings.join(transactions, transactions.c.id == postings.c.transaction_id).join(
                accounts, accounts.c.id == postings.c.account_id
            )
        )
        .where(transactions.c.kind == Kind.DEMURRAGE, transactions.c.period == period.id, postings.c.amount > 0)
        .group_by(accounts.c.currency)
    )
    return {code: amount for code, amount in rows}
