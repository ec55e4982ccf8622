"""A creator's public profile: what anyone may read of a person by their handle, for their page and their feed."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from gateway.deployment import Deployment
from gateway.errors import NotFound
from gateway.storage.engine import reading
from gateway.storage.schema import participants, things


@dataclass(frozen=True)
class CreatorProfile:
    handle: str
    joined: datetime
    things: int  # their visible things: a hidden one is not counted, since it is not shown
    latest: datetime | None  # when the newest visible one was registered (a feed's "updated"); None without any


def creator_profile(deployment: Deployment, handle: str) -> CreatorProfile:
    """The person ``handle`` names; anything else (nobody, a system account such as a fund) is not found.

    A frozen person's profile stays readable: their things were registered
    in good faith, and links to the page should not break.
    """
    visible = (things.c.owner_id == participants.c.id) & things.c.hidden.is_(False)
    counted = select(func.count()).where(visible).correlate(participants).scalar_subquery()
    latest = select(func.max(things.c.created_at)).where(visible).correlate(participants).scalar_subquery()
    query = select(participants.c.handle, participants.c.created_at, counted.label("things"), latest.label("latest")).where(
        participants.c.handle == handle, participants.c.kind == "person"
    )
    with reading(deployment.engine) as connection:
        row = connection.execute(query).first()
    if row is None:
        raise NotFound(f"no creator {handle!r}")
    return CreatorProfile(row.handle, row.created_at, row.things, row.latest)
