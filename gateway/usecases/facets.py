"""What the things can be filtered by: the languages, categories and tags the visible things have, most used first.

The discovery pages offer them as links, so that nobody has to guess a
category's spelling; each list is cut to its most used values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, Connection, func, select

from gateway.deployment import Deployment
from gateway.storage.engine import reading
from gateway.storage.schema import thing_tags, things

FACET_MAX = 20  # values a list offers: the most used ones; the search box finds the rest


@dataclass(frozen=True)
class Facets:
    languages: list[str]
    categories: list[str]
    tags: list[str]


def facets(deployment: Deployment, limit: int = FACET_MAX) -> Facets:
    """The values visible things use, each list most used first (then alphabetically); hidden things count for none."""
    with reading(deployment.engine) as connection:
        return Facets(
            _most_used(connection, things.c.language, limit),
            _most_used(connection, things.c.category, limit),
            _most_used(connection, thing_tags.c.tag, limit),
        )


def _most_used(connection: Connection, column: Column[Any], limit: int) -> list[str]:
    uses = func.count().label("uses")
    query = select(column, uses).select_from(things).where(things.c.hidden.is_(False), column.is_not(None), column != "")
    if column.table is thing_tags:
        query = query.join(thing_tags, thing_tags.c.thing_id == things.c.id)
    rows = connection.execute(query.group_by(column).order_by(uses.desc(), column).limit(limit))
    return [row[0] for row in rows]
