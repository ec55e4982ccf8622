"""Currency kinds, parsing and formatting, exchange rates."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from currencies import StaticRates, convert, load_kinds
from currencies.ecb import EcbRates
from gateway.config import settings_from_dict
from gateway.errors import ConfigError, CurrencyNotEnabled, ValidationError
from tests.support import config

SETTINGS = settings_from_dict(config())


def unit(code):
    return SETTINGS.currencies.get(code)


def test_built_in_kinds_come_through_entry_points():
    assert {"fiat", "mutual_credit", "time", "demurrage"} <= set(load_kinds())


@pytest.mark.parametrize("code, text, minor", [("JPY", "300", 300), ("EUR", "2.25", 225), ("KWD", "1.005", 1005)])
def test_fiat_minor_units(code, text, minor):
    assert unit(code).parse(text) == minor
    assert unit(code).format_amount(minor) == text
    assert unit(code).to_minor(unit(code).from_minor(minor)) == minor


@pytest.mark.parametrize(
    "code, text",
    [
        ("JPY", "1.5"),
        ("EUR", "1.005"),
        ("EUR", "5.000000000000000000000000000001"),  # past Decimal's 28 digits: not rounded away before the check
        ("EUR", "1e3"),
        ("EUR", "abc"),
        ("EUR", "NaN"),
        ("EUR", ""),
    ],
)
def test_amounts_finer_than_the_minor_unit_or_not_numbers_are_refused(code, text):
    with pytest.raises(ValidationError):
        unit(code).parse(text)


def test_hours_are_counted_in_minutes():
    hours = unit("HOUR")
    assert hours.parse("1:30") == 90 == hours.parse("1.5")
    assert hours.format_amount(90) == "1:30" and hours.format_amount(-5) == "-0:05"
    assert all(hours.to_minor(hours.from_minor(m)) == m for m in range(-200, 200))
    with pytest.raises(ValidationError):
        hours.parse("0.01")  # not a whole minute


def test_mutual_credit_and_time_may_go_below_zero_to_their_limit():
    assert unit("LETS").wallet_floor == -10000
    assert unit("HOUR").wallet_floor == -600
    assert unit("EUR").wallet_floor == 0


def test_demurrage_rules():
    assert unit("WOE").demurrage.rate == Decimal("0.01") and unit("WOE").demurrage.every_months == 1
    assert unit("CHI").demurrage.every_months == 3


def test_unknown_currency_is_not_enabled():
    with pytest.raises(CurrencyNotEnabled):
        SETTINGS.currencies.get("XYZ")


@pytest.mark.parametrize(
    "change, message",
    [
        ({"kind": "fiat"}, "not an ISO 4217"),
        ({"kind": "gold"}, "unknown kind 'gold'"),
        ({"kind": "demurrage", "rate": "1.5", "fund": "f"}, "between 0 and 1"),
        ({"kind": "demurrage", "rate": "0.01"}, "fund: required"),
        ({"kind": "mutual_credit", "credit_limit": "-1"}, "credit_limit: must be >= 0"),
        ({"kind": "mutual_credit", "colour": "red"}, "colour: unknown option"),
    ],
)
def test_bad_currency_options_name_the_key(change, message):
    data = config()
    data["currencies"]["XYZ"] = {"minimum_budget": "1", **change}
    with pytest.raises(ConfigError, match=message) as error:
        settings_from_dict(data, source="deploy.toml")
    assert str(error.value).startswith("deploy.toml: currencies.XYZ")


def test_static_rates_and_their_inverse():
    rates = StaticRates({("EUR", "USD"): Decimal("1.25")}, date(2026, 10, 30))
    assert rates.rate("EUR", "USD", date(2026, 11, 2)).value == Decimal("1.25")
    assert rates.rate("USD", "EUR", date(2026, 11, 2)).value == Decimal("0.8")
    with pytest.raises(ValidationError):
        rates.rate("EUR", "GBP", date(2026, 11, 2))


def test_ecb_rates_offline_carry_their_publication_date():
    ecb = EcbRates()
    rate = ecb.rate("EUR", "USD", date(2026, 11, 1))  # a Sunday: Friday's rate
    assert rate.on == date(2026, 10, 30) and rate.value == Decimal("1.1172")
    cross = ecb.rate("USD", "GBP", date(2026, 10, 30))
    assert cross.value == Decimal("0.8338") / Decimal("1.1172")
    with pytest.raises(ValidationError):
        ecb.rate("EUR", "LETS", date(2026, 10, 30))


def test_conversion_rounds_down_to_the_target_minor_unit():
    rate = StaticRates({("EUR", "JPY"): Decimal("175.68")}).rate("EUR", "JPY", date(2026, 10, 30))
    assert convert(199, unit("EUR"), unit("JPY"), rate) == 349  # 1.99 x 175.68 = 349.60
    assert convert(1, unit("EUR"), unit("JPY"), rate) == 1
