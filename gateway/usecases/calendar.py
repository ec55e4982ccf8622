"""The deployment's calendar: which period it is now, and reading a period's id in the deployment's length."""

from __future__ import annotations

from gateway.core.periods import Period, parse_period, period_containing
from gateway.deployment import Deployment


def current_period(deployment: Deployment) -> Period:
    """The period that flattrs made now count in."""
    return period_containing(deployment.clock.now(), deployment.settings.period)


def period(deployment: Deployment, text: str) -> Period:
    """A period id (``2026-11``, or ``2026-W48`` on a weekly deployment), checked."""
    return parse_period(text, deployment.settings.period)
