"""Discovery: things listed by language, category, tag and text, sorted four ways (new, popular this period, funders
ever, new and small), and their public counts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Select, func, literal, or_, select

from gateway.deployment import Deployment
from gateway.errors import ValidationError
from gateway.storage.engine import reading
from gateway.storage.schema import flattrs, participants, receipts, thing_tags, things
from gateway.storage.text import contains_folded
from gateway.usecases.calendar import current_period
from gateway.usecases.things import ThingView, get_thing, select_things, views

Sort = Literal["new", "popular", "funders", "small"]
MAX_ID = 2**63 - 1  # the largest id (or score) a cursor may hold: a BIGINT

SMALL_FUNDERS = 3
"""A thing is "small" while fewer people than this have ever flattred it (in any period, this one too).

"New and small" lists what is new and has not found its funders yet, so that a
newcomer's money does not go only to the already famous. Counted from the
flattrs, not from the receipts of settled periods: a thing that many flattr
this month leaves the list now, not after the month's settlement.
"""
NEW_FOR = timedelta(days=30)
"""How long a thing counts as new after it was registered: about a period, time to be found by its first funders."""


@dataclass(frozen=True)
class Filters:
    owner: str | None = None
    language: str | None = None
    category: str | None = None
    tag: str | None = None
    text: str | None = None


def list_things(
    deployment: Deployment,
    filters: Filters,
    sort: Sort = "new",
    after: list[Any] | None = None,
    limit: int = 50,
    viewer: int | None = None,
) -> tuple[list[ThingView], list[Any] | None]:
    """A page of things and the position to continue after (None on the last page).

    The position is ``[sort, id, score]``, as ``after`` takes it back; one made for another sort,
    or not by this function, is refused rather than skipping or repeating things.
    """
    position = _position(after, sort)
    score = _score_column(deployment, sort)
    query = (
        select_things()
        .add_columns(score.label("score"))
        .where(or_(things.c.hidden.is_(False), things.c.owner_id == (viewer or -1)))
    )
    newest_first = sort in ("new", "small")
    if sort == "small":
        query = query.where(things.c.created_at >= deployment.clock.now() - NEW_FOR, score < SMALL_FUNDERS)
    order = [things.c.id.desc()] if newest_first else [score.desc(), things.c.id.desc()]
    if position:
        last_id, last_score = position
        query = (
            query.where(things.c.id < last_id)
            if newest_first
            else query.where(or_(score < last_score, (score == last_score) & (things.c.id < last_id)))
        )
    with reading(deployment.engine) as connection:
        rows = connection.execute(_filtered(query, filters, connection).order_by(*order).limit(limit + 1)).all()
        page = views(connection, list(rows[:limit]))
    following = [sort, page[-1].id, page[-1].score] if len(rows) > limit else None
    return page, following


def _position(after: list[Any] | None, sort: Sort) -> tuple[int, int] | None:
    if after is None:
        return None
    if not (
        isinstance(after, list)
        and len(after) == 3
        and after[0] == sort
        and all(type(value) is int and 0 <= value <= MAX_ID for value in after[1:])
    ):
        raise ValidationError(f"this cursor was not made by this API for sort={sort}", field="cursor")
    return after[1], after[2]


def _score_column(deployment: Deployment, sort: Sort) -> ColumnElement[int]:
    if sort == "popular":
        current = current_period(deployment).id
        return (
            select(func.count())
            .where(flattrs.c.thing_id == things.c.id, flattrs.c.period == current)
            .correlate(things)
            .scalar_subquery()
        )
    if sort == "funders":
        return (
            select(func.count(func.distinct(receipts.c.funder_id)))
            .where(receipts.c.thing_id == things.c.id)
            .correlate(things)
            .scalar_subquery()
        )
    if sort == "small":
        return (
            select(func.count(func.distinct(flattrs.c.funder_id)))
            .where(flattrs.c.thing_id == things.c.id)
            .correlate(things)
            .scalar_subquery()
        )
    return literal(0)


def _filtered(query: Select[Any], filters: Filters, connection: Connection) -> Select[Any]:
    if filters.owner:
        query = query.where(participants.c.handle == filters.owner)
    if filters.language:
        query = query.where(things.c.language == filters.language)
    if filters.category:
        query = query.where(things.c.category == filters.category)
    if filters.tag:
        tagged = select(thing_tags.c.thing_id).where(thing_tags.c.tag == filters.tag.lower())
        query = query.where(things.c.id.in_(tagged))
    if filters.text:
        query = query.where(
            or_(
                contains_folded(connection, things.c.title, filters.text),
                contains_folded(connection, things.c.description, filters.text),
            )
        )
    return query


@dataclass(frozen=True)
class ThingCounts:
    thing_id: int
    flattrs_this_period: int
    funders_ever: int


def thing_counts(deployment: Deployment, thing_id: int, viewer: int | None = None) -> ThingCounts:
    get_thing(deployment, thing_id, viewer)  # a hidden thing's counts are its owner's to see
    current = current_period(deployment).id
    with reading(deployment.engine) as connection:
        clicks = connection.execute(
            select(func.count()).where(flattrs.c.thing_id == thing_id, flattrs.c.period == current)
        ).scalar()
        funders = connection.execute(
            select(func.count(func.distinct(receipts.c.funder_id))).where(receipts.c.thing_id == thing_id)
        ).scalar()
    return ThingCounts(thing_id, clicks or 0, funders or 0)
