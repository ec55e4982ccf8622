"""A creator's own things, hidden ones too, each with its public counts: their dashboard's list."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import flattrs, receipts, things
from gateway.usecases.calendar import current_period
from gateway.usecases.things import ThingView, select_things, views


@dataclass(frozen=True)
class OwnThing:
    thing: ThingView
    flattrs_this_period: int
    funders_ever: int


def things_of(deployment: Deployment, owner_id: int) -> list[OwnThing]:
    """The owner's things, newest first, with the counts anyone sees on each (``discovery.thing_counts``), in three queries."""
    current = current_period(deployment).id
    with reading(deployment.engine) as connection:
        rows = list(connection.execute(select_things().where(things.c.owner_id == owner_id).order_by(things.c.id.desc())))
        found = views(connection, rows)
        ids = [view.id for view in found]
        clicks = {
            thing_id: count
            for thing_id, count in connection.execute(
                select(flattrs.c.thing_id, func.count())
                .where(flattrs.c.thing_id.in_(ids), flattrs.c.period == current)
                .group_by(flattrs.c.thing_id)
            )
        }
        funders = {
            thing_id: count
            for thing_id, count in connection.execute(
                select(receipts.c.thing_id, func.count(func.distinct(receipts.c.funder_id)))
                .where(receipts.c.thing_id.in_(ids))
                .group_by(receipts.c.thing_id)
            )
        }
    return [OwnThing(view, int(clicks.get(view.id, 0)), int(funders.get(view.id, 0))) for view in found]
