"""The amounts a request may move: more than nothing, and less than any column's limit."""

from __future__ import annotations

from moneyed import Money

from currencies import CurrencyUnit
from gateway.deployment import Deployment
from gateway.errors import ValidationError

MAX_MINOR = 10**15  # per movement: far above any real one, far below the columns' 2**63


def positive_amount(deployment: Deployment, amount: Money) -> tuple[CurrencyUnit, int]:
    unit = deployment.currencies.get(amount.currency.code)
    minor = unit.to_minor(amount)
    if minor <= 0:
        raise ValidationError(f"the amount must be more than zero, got {unit.format(minor)}")
    if minor > MAX_MINOR:
        raise ValidationError(f"the amount must be at most {unit.format(MAX_MINOR)}")
    return unit, minor
