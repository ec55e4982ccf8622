"""The rails a creator can be paid out through, as their withdrawal page offers them.

Each enabled rail that pays out in some currency, with where it pays this
creator. A rail that needs a destination (``needs_destination``: a PayPal
address, a Connect account) and has none would only fail at the provider,
after the money was reserved and given back: ``withdraw_to_destination``
says so first, in the form, and moves nothing.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from moneyed import Money

from gateway.deployment import Deployment
from gateway.errors import ValidationError
from gateway.usecases.destinations import destinations_of
from gateway.usecases.withdraw import Withdrawal, withdraw


@dataclass(frozen=True)
class PayoutRail:
    name: str
    currencies: list[str]  # the deployment's currencies it pays out in
    destination: str | None  # where it pays this creator, if they said
    needs_destination: bool  # no payout without one
    onboards: bool  # the provider makes the creator an account (Stripe Connect) instead of taking an address


def payout_rails(deployment: Deployment, participant_id: int) -> list[PayoutRail]:
    """The rails that pay out in at least one of the deployment's currencies, by name."""
    kept = {found.rail: found.destination for found in destinations_of(deployment, participant_id)}
    found = []
    for name, rail in sorted(deployment.rails.items()):
        codes = [unit.code for unit in deployment.currencies if rail.pays(unit.code)]
        if codes:
            needs = bool(getattr(rail, "needs_destination", False))
            onboards = getattr(rail, "onboarding_link", None) is not None
            found.append(PayoutRail(name, codes, kept.get(name), needs, onboards))
    return found


async def withdraw_to_destination(
    deployment: Deployment,
    creator_id: int,
    amount: Money,
    rail_name: str,
    key: str,
    payout_currency: str | None = None,
    totp_code: str | None = None,
) -> Withdrawal:
    """``withdraw``, refused first where the rail needs a destination the creator has not given."""
    rail = deployment.rail(rail_name)
    if getattr(rail, "needs_destination", False):
        kept = {found.rail for found in await asyncio.to_thread(destinations_of, deployment, creator_id)}
        if rail_name not in kept:
            raise ValidationError(f"the rail {rail_name!r} has no destination to pay you at: set one first", field="destination")
    return await withdraw(deployment, creator_id, amount, rail_name, key, payout_currency, totp_code)
