"""The ledger's invariants, enforced by the database itself, and checked by the audit."""

from __future__ import annotations

import pytest
from sqlalchemy import text, update
from sqlalchemy.exc import DBAPIError

from gateway.core.accounts import account, system_participant
from gateway.core.check import check_ledger
from gateway.core.ledger import Entry, Leg, post
from gateway.errors import IdempotencyKeyReused, InsufficientFunds
from gateway.storage.schema import accounts
from gateway.usecases.participants import register_participant
from tests.support import OCTOBER


def wallets(deployment, code="EUR"):
    unit = deployment.currencies.get(code)
    someone = register_participant(deployment, "someone")
    with deployment.engine.begin() as connection:
        outside = account(connection, system_participant(connection, "rail:sandbox", OCTOBER), "outside", unit)
        wallet = account(connection, someone, "wallet", unit)
    return outside, wallet


def test_unbalanced_entries_are_refused_before_the_database():
    from gateway.core.ledger import Account

    a = Account(1, 1, "wallet", "EUR", 0)
    b = Account(2, 2, "wallet", "USD", 0)
    with pytest.raises(ValueError, match="unbalanced"):
        Entry("x", (Leg(a, -5), Leg(b, 5)))
    with pytest.raises(ValueError, match="zero"):
        Entry("x", (Leg(a, 0),))


def test_the_database_refuses_an_overdraft(deployment):
    outside, wallet = wallets(deployment)
    with pytest.raises(InsufficientFunds):
        with deployment.engine.begin() as connection:
            post(connection, Entry("bad", (Leg(wallet, -1), Leg(outside, 1))), OCTOBER)
    # Even a raw UPDATE that skips the ledger is refused by the CHECK constraint.
    with pytest.raises(DBAPIError):
        with deployment.engine.begin() as connection:
            connection.execute(update(accounts).where(accounts.c.id == wallet.id).values(balance=-1))


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE postings SET amount = amount + 1",
        "DELETE FROM postings",
        "UPDATE transactions SET kind = 'x'",
        "DELETE FROM transactions",
    ],
)
def test_the_ledger_is_append_only(deployment, statement):
    outside, wallet = wallets(deployment)
    with deployment.engine.begin() as connection:
        post(connection, Entry("top_up", (Leg(outside, -100), Leg(wallet, 100))), OCTOBER)
    with pytest.raises(DBAPIError, match="append-only"):
        with deployment.engine.begin() as connection:
            connection.execute(text(statement))


def test_same_key_same_content_replays_other_content_fails(deployment):
    outside, wallet = wallets(deployment)
    entry = Entry("top_up", (Leg(outside, -100), Leg(wallet, 100)), idempotency_key="k1")
    with deployment.engine.begin() as connection:
        first = post(connection, entry, OCTOBER)
    with deployment.engine.begin() as connection:
        again = post(connection, entry, OCTOBER)
    assert again.transaction_id == first.transaction_id and again.replayed
    with pytest.raises(IdempotencyKeyReused):
        with deployment.engine.begin() as connection:
            post(connection, Entry("top_up", (Leg(outside, -200), Leg(wallet, 200)), idempotency_key="k1"), OCTOBER)


def test_audit_names_each_breach(deployment):
    outside, wallet = wallets(deployment)
    with deployment.engine.begin() as connection:
        post(connection, Entry("top_up", (Leg(outside, -100), Leg(wallet, 100))), OCTOBER)
        assert check_ledger(connection) == []
        # Tamper with a cached balance behind the ledger's back.
        connection.execute(update(accounts).where(accounts.c.id == wallet.id).values(balance=150))
        names = {breach.invariant for breach in check_ledger(connection)}
    assert names == {"L1 zero-sum", "L2 cached balance"}
