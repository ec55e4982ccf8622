"""The rules an operator runs the deployment under, per currency: minimums, the fee, and the rate from the default currency.

One reading for the JSON API's ``GET /operator/currencies`` and the
operator's page, so that both say the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from currencies import Rate
from gateway.deployment import Deployment
from gateway.errors import GatewayError


@dataclass(frozen=True)
class CurrencyRules:
    code: str
    kind: str
    minor_per_major: int
    minimum_budget: int  # minor units
    minimum_withdrawal: int  # minor units
    fee: Decimal  # the share settlement keeps of each budget (0.10: a tenth)
    rate_from_default: Rate | None  # None: no rate is known today (the default currency itself has 1)


def currency_rules(deployment: Deployment) -> list[CurrencyRules]:
    """Each enabled currency's rules, in the order the deployment lists them; rates as of the deployment's today."""
    settings = deployment.settings
    today = deployment.clock.now().date()
    found = []
    for unit in settings.currencies:
        policy = settings.policies[unit.code]
        try:
            rate: Rate | None = deployment.rates.rate(settings.default_currency, unit.code, today)
        except GatewayError:  # no provider knows it: said as such, not an error of the page
            rate = None
        found.append(
            CurrencyRules(
                unit.code, unit.kind, unit.minor_per_major, policy.minimum_budget, policy.minimum_withdrawal, policy.fee, rate
            )
        )
    return found
