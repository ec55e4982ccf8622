"""Things' titles by id, for pages that list what another use case names only by id (a funder's subscriptions)."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import select

from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import things


def titles_of(deployment: Deployment, thing_ids: Collection[int]) -> dict[int, str]:
    if not thing_ids:
        return {}
    with reading(deployment.engine) as connection:
        rows = connection.execute(select(things.c.id, things.c.title).where(things.c.id.in_(sorted(set(thing_ids)))))
        return {row.id: row.title for row in rows}
