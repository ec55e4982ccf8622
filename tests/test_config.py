"""Deployment files: the shipped ones load; a bad one stops with one line naming file and key."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from gateway.config import DEFAULT_CONFIG, load_settings
from gateway.errors import ConfigError

EXAMPLES = sorted((Path(__file__).resolve().parent.parent / "config" / "examples").glob("*.toml"))


def test_the_embedded_default():
    settings = load_settings(DEFAULT_CONFIG)
    assert settings.default_currency == "EUR" and settings.database_url.startswith("sqlite:")
    assert "sandbox" in settings.rails
    assert settings.policies["EUR"].fee == Decimal("0.10") and isinstance(settings.policies["EUR"].fee, Decimal)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_examples_load(path):
    assert load_settings(path).currencies


def test_classic_flattr_example():
    settings = load_settings(next(p for p in EXAMPLES if p.name == "classic-flattr.toml"))
    assert settings.policies["EUR"].minimum_budget == 200
    assert settings.unspent_account == "charity" and settings.give_to_receive and not settings.weighted_points


def test_community_example():
    settings = load_settings(next(p for p in EXAMPLES if p.name == "community.toml"))
    kinds = {unit.kind for unit in settings.currencies}
    assert kinds == {"mutual_credit", "demurrage", "time"} and settings.weighted_points


def test_environment_overrides_the_database(monkeypatch):
    monkeypatch.setenv("GATEWAY_DATABASE_URL", "sqlite:///elsewhere.sqlite3")
    assert load_settings(DEFAULT_CONFIG).database_url == "sqlite:///elsewhere.sqlite3"


GOOD = DEFAULT_CONFIG.read_text()
LETS = '\n[currencies.LETS]\nkind = "mutual_credit"\nminimum_budget = "5"\n'
WOE = '\n[currencies.WOE]\nkind = "demurrage"\nrate = 0.01\nfund = "fund"\nminimum_budget = "2.00"\n'


@pytest.mark.parametrize(
    "text, message",
    [
        (GOOD.replace("fee = 0.10", "fee = 1.5"), "platform.fee: input should be less than 1"),
        (GOOD.replace('period = "month"', 'period = "fortnight"'), "platform.period: input should be 'month' or 'week'"),
        (GOOD.replace('default_currency = "EUR"', 'default_currency = "CHF"'), "platform.default_currency: 'CHF' is not among"),
        (GOOD.replace('unspent = "return"', 'unspent = "burn"'), "platform.unspent: expected 'return' or 'account:<handle>'"),
        (GOOD.replace('minimum_budget = "2.00"', 'minimum_budget = "2.001"', 1), "currencies.EUR.minimum_budget:"),
        (GOOD.replace("[rails.sandbox]", "[rails.carrier-pigeon]"), "rails.carrier-pigeon: no such rail"),
        (GOOD.replace("weighted_points = true", "weighted_points = maybe"), "not valid TOML"),
        (GOOD + "\n[surprise]\nx = 1\n", "surprise: extra inputs are not permitted"),
        (GOOD.replace("Flattr gateway", "Flattr caf\u00e9").encode("latin-1"), "not UTF-8 text (line 9: byte 0xe9)"),
        (
            GOOD.replace("[rails.sandbox]", '[rails.sandbox]\nfailure_suffix = "x"'),
            "rails.sandbox.failure_suffix: expected a whole",
        ),
        (
            GOOD.replace("[rails.sandbox]", "[rails.sandbox]\nfailure_suffix = true"),
            "rails.sandbox.failure_suffix: expected a whole",
        ),
        (GOOD.replace("[rails.sandbox]", "[rails.sandbox]\nfailure_sufix = 12"), "rails.sandbox.failure_sufix: unknown option"),
        (GOOD.replace('currencies = ["EUR", "USD", "GBP"]', 'currencies = "EUR"'), "rails.sandbox.currencies: expected a list"),
        (
            GOOD.replace("weighted_points = true", 'weighted_points = "yes"'),
            "platform.weighted_points: input should be a valid boolean",
        ),
        (
            GOOD.replace("weighted_points = true", "weighted_points = 1"),
            "platform.weighted_points: input should be a valid boolean",
        ),
        (GOOD.replace("max_points = 5", 'max_points = "5"'), "platform.max_points: input should be a valid integer"),
        (GOOD.replace("max_points = 5", "max_points = 5.0"), "platform.max_points: input should be a valid integer"),
        (
            GOOD.replace("max_points = 5", "max_points = 5\nsettle_batch = true"),
            "platform.settle_batch: input should be a valid integer",
        ),
        (GOOD.replace("fee = 0.10", "fee = true"), 'platform.fee: expected a number such as 0.10 or "0.10", got true'),
        (GOOD.replace("fee = 0.10", 'fee = "nan"'), "platform.fee: expected a number"),
        (
            GOOD.replace('minimum_budget = "2.00"', "minimum_budget = true", 1),
            "currencies.EUR.minimum_budget: expected an amount",
        ),
        (GOOD.replace('name = "Flattr', "name = 5 # "), "platform.name: input should be a valid string, got 5"),
        (GOOD.replace('providers = ["ecb"]', 'providers = "ecb"'), "rates.providers: input should be a valid list"),
        (GOOD + 'date = "2026-13-01"\n', "rates.date: expected a date such as 2026-10-30"),
        (GOOD + LETS + "decimals = 40\n", "currencies.LETS.decimals: expected a whole number from 0 to 12, got 40"),
        (GOOD + LETS + "decimals = 13\n", "currencies.LETS.decimals: expected a whole number from 0 to 12"),
        (GOOD + LETS + "decimals = true\n", "currencies.LETS.decimals: expected a whole number"),
        (GOOD + LETS + "name = 5\n", "currencies.LETS.name: expected a string"),
        (GOOD + LETS + 'credit_limit = "NaN"\n', "currencies.LETS.credit_limit: 'NaN' is not a finite number"),
        (GOOD + WOE + "decimals = 40\n", "currencies.WOE.decimals: expected a whole number from 0 to 12, got 40"),
        (GOOD + WOE.replace("rate = 0.01", "rate = true"), "currencies.WOE.rate: expected a number"),
    ],
)
def test_a_bad_file_names_the_key(tmp_path, text, message):
    path = tmp_path / "deploy.toml"
    path.write_bytes(text if isinstance(text, bytes) else text.encode("utf-8"))
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    line = str(error.value)
    assert line.startswith(f"{path}: ") and message in line and "\n" not in line


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the deployment file"):
        load_settings(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    "text",
    [
        GOOD.replace('minimum_budget = "2.00"', "minimum_budget = 2.00").replace(
            'minimum_withdrawal = "1.00"', "minimum_withdrawal = 1"
        ),
        GOOD.replace("fee = 0.10", 'fee = "0.10"') + "date = 2026-10-30\n",
        GOOD.replace("fee = 0.10", "fee = 0") + 'date = "2026-10-30"\n' + LETS + "decimals = 12\n" + WOE + "decimals = 0\n",
        GOOD.replace("[rails.sandbox]", "[rails.sandbox]\nfailure_suffix = 7"),
    ],
)
def test_toml_numbers_strings_and_dates_where_they_mean_the_same(tmp_path, text):
    """Amounts as strings or numbers, rates as TOML numbers or strings, dates as TOML dates or strings."""
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    settings = load_settings(path)
    assert settings.policies["EUR"].minimum_budget == 200 and isinstance(settings.policies["EUR"].fee, Decimal)


def test_twelve_decimals_keep_an_amount_exact(tmp_path):
    path = tmp_path / "deploy.toml"
    path.write_text(GOOD + LETS.replace('"5"', '"5.000000000001"') + "decimals = 12\n")
    settings = load_settings(path)
    unit = settings.currencies.get("LETS")
    assert settings.policies["LETS"].minimum_budget == 5_000_000_000_001
    assert unit.parse("999.999999999999") == 10**15 - 1 and unit.format(10**15 - 1) == "999.999999999999 LETS"
