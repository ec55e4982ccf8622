"""What one more flattr would mean to a funder this period: their budget, and how many points already share it.

The confirmation page of the flattr button (``gateway.web.button``) says it
before the funder clicks, so that a flattr is a choice made knowingly: the
budget is shared among the period's flattrs by their points, so each new one
makes the others' shares smaller.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.core.means import budget_targets, means_of, means_suffice
from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import flattrs
from gateway.usecases.calendar import current_period
from gateway.usecases.participants import person


@dataclass(frozen=True)
class Outlook:
    period: str
    budgets: dict[str, int]  # currency -> minor units given this period (the ones set, else the minimum)
    budget_set: bool  # False: none was set, so the preferred currency's minimum is given
    points_given: int  # every point the funder gave this period, to every thing
    points_here: int  # the points the funder gave this thing this period (0: not flattred yet)
    max_points: int  # a thing takes at most this many points from one funder a period
    has_means: bool  # False: a flattr would be refused until the wallet is topped up


def outlook(deployment: Deployment, funder_id: int, thing_id: int) -> Outlook:
    period = current_period(deployment)
    settings = deployment.settings
    with reading(deployment.engine) as connection:
        funder = person(connection, funder_id)
        means = means_of(connection, [funder_id]).get(funder_id, [])
        explicit = {code: amount for source, code, amount, _ in means if source == "budget"}
        mine = (flattrs.c.period == period.id) & (flattrs.c.funder_id == funder_id)
        given = connection.execute(select(func.coalesce(func.sum(flattrs.c.points), 0)).where(mine)).scalar()
        here = connection.execute(select(flattrs.c.points).where(mine, flattrs.c.thing_id == thing_id)).scalar()
    targets = budget_targets(settings, explicit, funder.preferred_currency)
    return Outlook(
        period=period.id,
        budgets=targets,
        budget_set=any(code in settings.currencies for code in explicit),
        points_given=int(given or 0),
        points_here=int(here or 0),
        max_points=settings.max_points,
        has_means=means_suffice(settings, funder.preferred_currency, means),
    )
