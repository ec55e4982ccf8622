"""Top-ups and withdrawals through the sandbox rail, with their errors."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from moneyed import Money
from sqlalchemy import func, select

from adapters import Outcome, PaymentState
from gateway.core.check import check_ledger
from gateway.errors import (
    BelowMinimum,
    CurrencyNotEnabled,
    IdempotencyKeyReused,
    InsufficientFunds,
    RailNotEnabled,
    ValidationError,
)
from gateway.storage.schema import accounts, transactions, withdrawals
from gateway.usecases.participants import register_participant
from gateway.usecases.top_up import record_top_up
from tests.support import eur, payable, top_up, withdraw


def earnings(deployment, creator, amount="10.00", code="EUR"):
    """Give a creator earnings the way settlement does: a balanced transaction from a funder's wallet."""
    from gateway.core.accounts import account
    from gateway.core.ledger import Entry, Leg, post

    funder = register_participant(deployment, f"funder-of-{creator}")
    top_up(deployment, funder, Money(amount, code), "sandbox", key=f"seed-{creator}-{code}")
    unit = deployment.currencies.get(code)
    minor = unit.parse(amount)
    with deployment.engine.begin() as connection:
        legs = (
            Leg(account(connection, funder, "wallet", unit), -minor),
            Leg(account(connection, creator, "earnings", unit), minor),
        )
        post(connection, Entry("settlement", legs), deployment.clock.now())


def balance_of(deployment, owner, purpose, code="EUR"):
    with deployment.engine.connect() as connection:
        return connection.execute(
            select(accounts.c.balance).where(
                accounts.c.owner_id == owner, accounts.c.purpose == purpose, accounts.c.currency == code
            )
        ).scalar()


def test_top_up_lands_in_the_wallet_once_per_key(deployment):
    funder = register_participant(deployment, "fan")
    first = top_up(deployment, funder, eur("12.50"), "sandbox", key="k")
    again = top_up(deployment, funder, eur("12.50"), "sandbox", key="k")
    assert first.status == again.status == "succeeded" and first.id == again.id
    assert balance_of(deployment, funder, "wallet") == 1250
    with pytest.raises(IdempotencyKeyReused):
        top_up(deployment, funder, eur("99.00"), "sandbox", key="k")


def test_a_declined_top_up_moves_nothing(deployment):
    funder = register_participant(deployment, "fan")
    result = top_up(deployment, funder, eur("5.13"), "sandbox", key="k")
    assert result.status == "failed" and "declined" in result.error
    assert balance_of(deployment, funder, "wallet") is None
    assert balance_of(deployment, funder, "incoming") == 0  # in flight, then voided


def test_a_second_confirmation_of_a_top_up_changes_nothing(deployment):
    funder = register_participant(deployment, "fan")
    done = top_up(deployment, funder, eur("3.00"), "sandbox", key="k")
    # A second confirmation of the same top-up (a webhook, a provider retry) moves no money again.
    again = record_top_up(deployment, done.id, Outcome(PaymentState.SUCCEEDED, "ref"))
    assert again.transaction_id == done.transaction_id and again.status == "succeeded"
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(transactions)).scalar() == 2  # in flight, then posted
    assert balance_of(deployment, funder, "wallet") == 300


@pytest.mark.parametrize(
    "amount, code, rail, error",
    [
        ("0", "EUR", "sandbox", ValidationError),
        ("-1", "EUR", "sandbox", ValidationError),
        ("1.005", "EUR", "sandbox", ValidationError),
        ("5", "CHF", "sandbox", CurrencyNotEnabled),
        ("5", "LETS", "sandbox", CurrencyNotEnabled),  # enabled, but with no outside world (NoOutsideWorld)
        ("5", "EUR", "paypal", RailNotEnabled),
    ],
)
def test_bad_top_ups_are_refused(deployment, amount, code, rail, error):
    funder = register_participant(deployment, "fan")
    with pytest.raises(error):
        top_up(deployment, funder, Money(amount, code), rail, key="k")


def test_withdraw_in_the_same_currency(deployment):
    creator = payable(deployment, "artist")
    earnings(deployment, creator, "10.00")
    result = withdraw(deployment, creator, eur("4.00"), "sandbox", key="w1")
    assert result.status == "succeeded" and result.payout == eur("4.00")
    assert balance_of(deployment, creator, "earnings") == 600
    assert balance_of(deployment, creator, "payout") == 0


def test_withdraw_in_another_currency_records_the_rate(deployment):
    creator = payable(deployment, "artist", preferred_currency="USD")
    earnings(deployment, creator, "10.00")
    result = withdraw(deployment, creator, eur("4.00"), "sandbox", key="w1")
    assert result.payout == Money("4.46", "USD")  # 4.00 x 1.1172 = 4.4688, rounded down
    assert (result.rate.value, result.rate.on, result.rate.source) == (Decimal("1.1172"), date(2026, 10, 30), "static")
    with deployment.engine.connect() as connection:
        meta = connection.execute(select(transactions.c.meta).where(transactions.c.kind == "withdrawal")).scalar()
        assert meta["rate"] == "1.1172" and meta["rate_date"] == "2026-10-30"
        assert check_ledger(connection) == []


def test_withdraw_to_yen_and_dinar_uses_their_minor_units(deployment):
    creator = payable(deployment, "artist")
    earnings(deployment, creator, "10.00")
    assert withdraw(deployment, creator, eur("2.00"), "sandbox", key="y", payout_currency="JPY").payout == Money("351", "JPY")
    assert withdraw(deployment, creator, eur("3.00"), "sandbox", key="k", payout_currency="KWD").payout == Money("1.026", "KWD")


def test_a_failed_payout_returns_the_money(deployment):
    creator = payable(deployment, "artist")
    earnings(deployment, creator, "10.00")
    result = withdraw(deployment, creator, eur("2.13"), "sandbox", key="w1")
    assert result.status == "failed"
    assert balance_of(deployment, creator, "earnings") == 1000
    with deployment.engine.connect() as connection:
        assert check_ledger(connection) == []


@pytest.mark.parametrize(
    "amount, payout, error",
    [
        ("0.50", None, BelowMinimum),
        ("10.01", None, InsufficientFunds),
        ("5.00", "CHF", CurrencyNotEnabled),
        ("5.00", "LETS", CurrencyNotEnabled),  # enabled, but the sandbox does not pay it out
    ],
)
def test_bad_withdrawals_move_nothing(deployment, amount, payout, error):
    creator = payable(deployment, "artist")
    earnings(deployment, creator, "10.00")
    with pytest.raises(error):
        withdraw(deployment, creator, eur(amount), "sandbox", key="w", payout_currency=payout)
    with pytest.raises(CurrencyNotEnabled):
        withdraw(deployment, creator, Money("5", "CHF"), "sandbox", key="w")
    assert balance_of(deployment, creator, "earnings") == 1000
    with deployment.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(withdrawals)).scalar() == 0
