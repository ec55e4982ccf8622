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
    ],
)
def test_a_bad_file_names_the_key(tmp_path, text, message):
    path = tmp_path / "deploy.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as error:
        load_settings(path)
    line = str(error.value)
    assert line.startswith(f"{path}: ") and message in line and "\n" not in line


def test_a_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="cannot read the deployment file"):
        load_settings(tmp_path / "nope.toml")
