"""The allocation engine: worked examples, and properties over many currencies."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from moneyed import Money

from gateway.core.allocation import allocate, allocate_minor, fee_of, split
from gateway.core.demurrage import demurrage_charges
from gateway.core.periods import parse_period

TEN_PERCENT = Decimal("0.10")


def test_ten_euros_four_flattrs():
    result = allocate(Money("10.00", "EUR"), TEN_PERCENT, [(1, 1), (2, 1), (3, 1), (4, 1)])
    assert result.fee == Money("1.00", "EUR")
    assert list(result.shares.values()) == [Money("2.25", "EUR")] * 4


def test_weighted_points_one_one_two():
    result = allocate(Money("10.00", "EUR"), TEN_PERCENT, [("a", 1), ("b", 1), ("c", 2)])
    assert result.shares == {"a": Money("2.25", "EUR"), "b": Money("2.25", "EUR"), "c": Money("4.50", "EUR")}


def test_five_cents_among_three_rotates_between_periods():
    orders = set()
    seen_short = set()
    for month in ("2026-10", "2026-11", "2026-12"):
        seed = parse_period(month, "month").ordinal
        shares = allocate(Money("0.05", "EUR"), Decimal(0), [(1, 1), (2, 1), (3, 1)], seed).shares
        assert sorted(shares.values()) == [Money("0.01", "EUR"), Money("0.02", "EUR"), Money("0.02", "EUR")]
        orders.add(tuple(shares.values()))
        seen_short.add(min(shares, key=shares.get))
    assert len(orders) == 3  # the order moves from period to period
    assert seen_short == {1, 2, 3}  # and over three periods, each thing is short once


def test_rotation_is_fair_over_n_periods():
    extra = {key: 0 for key in range(7)}
    for seed in range(7):
        for key, share in split(3, [(key, 1) for key in range(7)], seed).items():
            extra[key] += share
    assert set(extra.values()) == {3}


def test_result_does_not_depend_on_input_order():
    weights = [(5, 3), (1, 1), (9, 2)]
    assert split(101, weights, 4) == split(101, list(reversed(weights)), 4)


def test_fee_rounds_half_up():
    assert fee_of(5, TEN_PERCENT) == 1  # 0.5 -> 1
    assert fee_of(4, TEN_PERCENT) == 0


def test_minutes_split_exactly():
    result = allocate(Money(Decimal(90) / 60, _hour()), Decimal(0), [(1, 1), (2, 2)])
    assert sum(_hour_minutes(m) for m in result.shares.values()) == 90


def _hour():
    from currencies.kind import community_currency

    return community_currency("HOUR", 60, "hours")


def _hour_minutes(money: Money) -> int:
    from currencies.unit import minor_units

    return minor_units(money.amount, 60)


@pytest.mark.parametrize("bad", [[], [(1, 0)], [(1, -1)]])
def test_split_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        split(10, bad)


def test_split_refuses_negative_amount():
    with pytest.raises(ValueError):
        split(-1, [(1, 1)])


points = st.lists(st.integers(min_value=1, max_value=1000), min_size=1, max_size=40)


@settings(max_examples=400, deadline=None)
@given(
    amount=st.integers(min_value=0, max_value=10**12),
    weights=points,
    rate=st.decimals(min_value=0, max_value=Decimal("0.99"), places=4),
    seed=st.integers(min_value=0, max_value=10**6),
    per_major=st.sampled_from([1, 100, 1000, 60]),  # JPY, EUR, KWD, minutes
)
def test_split_is_exact_and_fair(amount, weights, rate, seed, per_major):
    result = allocate_minor(amount, rate, list(enumerate(weights)), seed)
    assert result.fee + sum(result.shares.values()) == amount
    assert 0 <= result.fee <= amount
    total = sum(weights)
    for key, weight in enumerate(weights):
        exact = Decimal(result.distributed) * weight / total
        assert abs(result.shares[key] - exact) < 1, (key, result.shares[key], exact)
    # The same inputs always give the same answer.
    assert allocate_minor(amount, rate, list(enumerate(weights)), seed) == result


@settings(max_examples=200, deadline=None)
@given(
    code=st.sampled_from(["JPY", "EUR", "KWD"]),
    minor=st.integers(min_value=0, max_value=10**9),
    weights=points,
    seed=st.integers(min_value=0, max_value=1000),
)
def test_money_allocation_adds_up_in_each_currency(code, minor, weights, seed):
    currency = Money(0, code).currency
    budget = Money(Decimal(minor) / currency.sub_unit, code)
    result = allocate(budget, TEN_PERCENT, list(enumerate(weights)), seed)
    assert result.fee + sum(result.shares.values(), Money(0, code)) == budget


@settings(max_examples=200, deadline=None)
@given(
    holdings=st.dictionaries(st.integers(1, 10**6), st.integers(0, 10**9), max_size=30),
    rate=st.sampled_from([Decimal("0.01"), Decimal("0.02"), Decimal("0.005")]),
    seed=st.integers(0, 1000),
)
def test_demurrage_makes_and_loses_nothing(holdings, rate, seed):
    charges = demurrage_charges(holdings, rate, seed)
    total = sum(balance for balance in holdings.values() if balance > 0)
    assert sum(charges.values()) == fee_of(total, rate) if total else not charges
    for account, charge in charges.items():
        assert 0 < charge <= holdings[account]
