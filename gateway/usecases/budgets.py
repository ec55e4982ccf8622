"""A funder's budget: how much of a currency they give each period."""

from __future__ import annotations

from moneyed import Money
from sqlalchemy import Connection, delete, select, update

from gateway.deployment import Deployment
from gateway.errors import BelowMinimum
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import budgets
from gateway.storage.upsert import insert_ignore
from gateway.usecases.amounts import positive_amount
from gateway.usecases.participants import person


def set_budget(deployment: Deployment, funder_id: int, amount: Money) -> Money:
    unit, minor = positive_amount(deployment, amount)
    minimum = deployment.settings.policy(unit.code).minimum_budget
    if minor < minimum:
        raise BelowMinimum(f"the smallest budget is {unit.format(minimum)} a period", minimum=unit.format_amount(minimum))

    def work(connection: Connection) -> None:
        person(connection, funder_id)
        row = {"funder_id": funder_id, "currency": unit.code, "amount": minor}
        insert_ignore(connection, budgets, row, ["funder_id", "currency"])
        connection.execute(
            update(budgets).where(budgets.c.funder_id == funder_id, budgets.c.currency == unit.code).values(amount=minor)
        )

    run_in_transaction(deployment.engine, work)
    return amount


def clear_budget(deployment: Deployment, funder_id: int, currency: str) -> None:
    deployment.currencies.get(currency)
    run_in_transaction(
        deployment.engine,
        lambda c: c.execute(delete(budgets).where(budgets.c.funder_id == funder_id, budgets.c.currency == currency)),
    )


def budgets_of(deployment: Deployment, funder_id: int) -> list[Money]:
    with reading(deployment.engine) as connection:
        rows = connection.execute(select(budgets.c.currency, budgets.c.amount).where(budgets.c.funder_id == funder_id))
        return [deployment.currencies.money(row.amount, row.currency) for row in rows if row.currency in deployment.currencies]
