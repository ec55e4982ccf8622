"""What a participant holds and what they asked for: wallets, top-ups, withdrawals."""

from __future__ import annotations

from dataclasses import dataclass

from moneyed import Money
from sqlalchemy import select

from gateway.core.accounts import Purpose
from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.storage.engine import reading
from gateway.storage.schema import accounts, top_ups, withdrawals
from gateway.usecases.top_up import TopUp, as_top_up
from gateway.usecases.withdraw import Withdrawal, as_withdrawal

PERSONAL_PURPOSES = (Purpose.WALLET, Purpose.EARNINGS, Purpose.PAYOUT)


@dataclass(frozen=True)
class Balance:
    purpose: str  # wallet: to give; earnings: received, to withdraw; payout: withdrawals in flight
    balance: Money
    available: Money  # what may still leave: above the floor


def balances_of(deployment: Deployment, participant_id: int) -> list[Balance]:
    with reading(deployment.engine) as connection:
        rows = connection.execute(
            select(accounts.c.purpose, accounts.c.currency, accounts.c.balance, accounts.c.floor)
            .where(accounts.c.owner_id == participant_id, accounts.c.purpose.in_(PERSONAL_PURPOSES))
            .order_by(accounts.c.currency, accounts.c.purpose)
        ).all()
    money = deployment.currencies.money
    return [
        Balance(row.purpose, money(row.balance, row.currency), money(row.balance - (row.floor or 0), row.currency))
        for row in rows
        if row.currency in deployment.currencies
    ]


def top_up_of(deployment: Deployment, participant_id: int, top_up_id: int) -> TopUp:
    with reading(deployment.engine) as connection:
        row = connection.execute(select(top_ups).where(top_ups.c.id == top_up_id, top_ups.c.funder_id == participant_id)).first()
    if row is None:
        raise NotFound(f"no top-up #{top_up_id}")
    return as_top_up(deployment, row)


def withdrawals_of(deployment: Deployment, participant_id: int, before: int | None = None, limit: int = 50) -> list[Withdrawal]:
    query = select(withdrawals).where(withdrawals.c.creator_id == participant_id)
    if before is not None:
        query = query.where(withdrawals.c.id < before)
    with reading(deployment.engine) as connection:
        rows = connection.execute(query.order_by(withdrawals.c.id.desc()).limit(limit)).all()
    return [as_withdrawal(deployment, row) for row in rows]


def withdrawal_of(deployment: Deployment, participant_id: int, withdrawal_id: int) -> Withdrawal:
    with reading(deployment.engine) as connection:
        row = connection.execute(
            select(withdrawals).where(withdrawals.c.id == withdrawal_id, withdrawals.c.creator_id == participant_id)
        ).first()
    if row is None:
        raise NotFound(f"no withdrawal #{withdrawal_id}")
    return as_withdrawal(deployment, row)
