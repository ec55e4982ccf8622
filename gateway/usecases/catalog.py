"""Discovery: things listed by language, category, tag and text, sorted three ways."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from sqlalchemy import Connection, Row, func, literal, or_, select, update

from ..accounts import participant_id
from ..deployment import Deployment
from ..errors import Conflict, Forbidden, NotFound, NotTheCreatorsSite, OwnThing, ValidationError
from ..funding import means_of
from ..periods import period_containing
from ..storage.engine import reading, run_in_transaction
from ..storage.schema import flattrs, participants, receipts, thing_tags, things
from ..urls import check_thing_url, under_one_of
from .common import person
from .flattr import Flattr, check_means, check_points, flattr
from .registry import clean_tags, register_thing, set_tags

Sort = Literal["new", "popular", "funders"]
MAX_ID = 2**63 - 1  # the largest id (or score) a cursor may hold: a BIGINT


@dataclass(frozen=True)
class ThingView:
    id: int
    owner: str
    url: str
    title: str
    description: str
    language: str | None
    category: str | None
    tags: list[str]
    hidden: bool
    created_at: datetime
    score: int  # what the list was sorted by: flattrs this period, funders ever, or 0


@dataclass(frozen=True)
class Filters:
    owner: str | None = None
    language: str | None = None
    category: str | None = None
    tag: str | None = None
    text: str | None = None


def create_thing(deployment: Deployment, owner_id: int, url: str, title: str, description: str = "",
                 language: str | None = None, category: str | None = None, tags: Sequence[str] = ()) -> ThingView:
    thing = register_thing(deployment, owner_id, url, title, language, category, description, tags)
    return get_thing(deployment, thing.id, viewer=owner_id)


def update_thing(deployment: Deployment, owner_id: int, thing_id: int, changes: dict) -> ThingView:
    """Change a thing's title, description, language, category, tags or hidden flag."""
    allowed = {"title", "description", "language", "category", "hidden", "tags"}
    if set(changes) - allowed:
        raise ValidationError(f"cannot change {sorted(set(changes) - allowed)[0]!r}")
    tags = clean_tags(changes.pop("tags") or []) if "tags" in changes else None  # null clears them
    if "title" in changes and not 1 <= len(changes["title"] or "") <= 300:
        raise ValidationError("a thing's title is 1 to 300 characters", field="title")
    if "hidden" in changes and not isinstance(changes["hidden"], bool):
        raise ValidationError("hidden is true or false", field="hidden")
    if "description" in changes:
        changes["description"] = changes["description"] or ""  # null clears it

    def work(connection: Connection) -> None:
        _owned(connection, owner_id, thing_id)
        if changes:
            connection.execute(update(things).where(things.c.id == thing_id).values(**changes))
        if tags is not None:
            set_tags(connection, thing_id, tags)

    run_in_transaction(deployment.engine, work)
    return get_thing(deployment, thing_id, viewer=owner_id)


def _owned(connection: Connection, owner_id: int, thing_id: int) -> None:
    owner = connection.execute(select(things.c.owner_id).where(things.c.id == thing_id)).scalar()
    if owner is None:
        raise NotFound(f"no thing #{thing_id}")
    if owner != owner_id:
        raise Forbidden("only its owner may change a thing")


def get_thing(deployment: Deployment, thing_id: int, viewer: int | None = None) -> ThingView:
    views = _find(deployment, things.c.id == thing_id, viewer)
    if not views:
        raise NotFound(f"no thing #{thing_id}")
    return views[0]


def thing_by_url(deployment: Deployment, url: str, viewer: int | None = None) -> ThingView:
    views = _find(deployment, things.c.url == url, viewer)
    if not views:
        raise NotFound(f"no thing is registered at {url}")
    return views[0]


def select_things():
    return select(things, participants.c.handle.label("owner")).join(participants, participants.c.id == things.c.owner_id)


def _find(deployment: Deployment, where, viewer: int | None) -> list[ThingView]:
    """The things ``where`` picks that ``viewer`` may see (a hidden thing only its owner)."""
    with reading(deployment.engine) as connection:
        rows = [row for row in connection.execute(select_things().where(where)) if not row.hidden or row.owner_id == viewer]
        return _views(connection, rows)


def _views(connection: Connection, rows: list[Row]) -> list[ThingView]:
    """Rows of ``select_things`` (with a ``score`` column where the list was sorted by one), with their tags."""
    tags: dict[int, list[str]] = {}
    if rows:
        for thing_id, tag in connection.execute(
            select(thing_tags.c.thing_id, thing_tags.c.tag).where(thing_tags.c.thing_id.in_([r.id for r in rows])).order_by(thing_tags.c.tag)
        ):
            tags.setdefault(thing_id, []).append(tag)
    return [
        ThingView(row.id, row.owner, row.url, row.title, row.description, row.language, row.category,
                  tags.get(row.id, []), row.hidden, row.created_at, getattr(row, "score", 0))
        for row in rows
    ]


def list_things(deployment: Deployment, filters: Filters, sort: Sort = "new", after: list | None = None,
                limit: int = 50, viewer: int | None = None) -> tuple[list[ThingView], list | None]:
    """A page of things and the position to continue after (None on the last page).

    The position is ``[sort, id, score]``, as ``after`` takes it back; one made for another sort,
    or not by this function, is refused rather than skipping or repeating things.
    """
    position = _position(after, sort)
    score = _score_column(deployment, sort)
    query = select_things().add_columns(score.label("score")).where(or_(things.c.hidden.is_(False), things.c.owner_id == (viewer or -1)))
    order = [score.desc(), things.c.id.desc()] if sort != "new" else [things.c.id.desc()]
    if position:
        last_id, last_score = position
        query = query.where(things.c.id < last_id) if sort == "new" else query.where(
            or_(score < last_score, (score == last_score) & (things.c.id < last_id))
        )
    with reading(deployment.engine) as connection:
        rows = connection.execute(_filtered(query, filters, connection).order_by(*order).limit(limit + 1)).all()
        page = _views(connection, rows[:limit])
    following = [sort, page[-1].id, page[-1].score] if len(rows) > limit else None
    return page, following


def _position(after, sort: Sort) -> tuple[int, int] | None:
    if after is None:
        return None
    if not (isinstance(after, list) and len(after) == 3 and after[0] == sort
            and all(type(value) is int and 0 <= value <= MAX_ID for value in after[1:])):
        raise ValidationError(f"this cursor was not made by this API for sort={sort}", field="cursor")
    return after[1], after[2]


def _score_column(deployment: Deployment, sort: Sort):
    if sort == "popular":
        current = period_containing(deployment.clock.now(), deployment.settings.period).id
        return (
            select(func.count()).where(flattrs.c.thing_id == things.c.id, flattrs.c.period == current)
            .correlate(things).scalar_subquery()
        )
    if sort == "funders":
        return (
            select(func.count(func.distinct(receipts.c.funder_id))).where(receipts.c.thing_id == things.c.id)
            .correlate(things).scalar_subquery()
        )
    return literal(0)


def _filtered(query, filters: Filters, connection: Connection):
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
        # The text as written: its % and _ are not wildcards.
        escaped = filters.text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        pattern, lower = f"%{escaped}%", _lower(connection)
        query = query.where(or_(lower(things.c.title).like(pattern, escape="\\"),
                                lower(things.c.description).like(pattern, escape="\\")))
    return query


def _lower(connection: Connection):
    """SQL's lower(), folding every letter as Python does; SQLite's own folds only A to Z ("Été" stays "Été").

    On SQLite that is ``gateway_lower``, which every connection gets when it opens (``storage.engine``).
    """
    return func.gateway_lower if connection.dialect.name == "sqlite" else func.lower


@dataclass(frozen=True)
class ThingCounts:
    thing_id: int
    flattrs_this_period: int
    funders_ever: int


def thing_counts(deployment: Deployment, thing_id: int, viewer: int | None = None) -> ThingCounts:
    get_thing(deployment, thing_id, viewer)  # a hidden thing's counts are its owner's to see
    current = period_containing(deployment.clock.now(), deployment.settings.period).id
    with reading(deployment.engine) as connection:
        clicks = connection.execute(
            select(func.count()).where(flattrs.c.thing_id == thing_id, flattrs.c.period == current)
        ).scalar()
        funders = connection.execute(
            select(func.count(func.distinct(receipts.c.funder_id))).where(receipts.c.thing_id == thing_id)
        ).scalar()
    return ThingCounts(thing_id, clicks, funders)


def auto_submit(deployment: Deployment, funder_id: int, owner: str, url: str, title: str, description: str = "",
                language: str | None = None, category: str | None = None, tags: list[str] = (),
                points: int = 1) -> tuple[ThingView, Flattr]:
    """Flattr the thing at ``url``, registering it first for the creator ``owner`` if nobody has.

    Only at an address under one of the sites the creator lists
    (``auto_submit_sites``): else a funder could register anybody's page for
    a creator of their choosing, and the first claim would keep it. A thing is registered only for a flattr that will be taken, so a funder who cannot flattr it
    (no means, their own, no such creator) leaves nothing behind. Funders who flattr a new URL at
    the same moment all flattr the one thing the first of them registered.
    """
    try:
        view = thing_by_url(deployment, url)
    except NotFound:
        owner_id = _first_flattr_allowed(deployment, funder_id, owner, url, points)
        try:
            view = create_thing(deployment, owner_id, url, title, description, language, category, tags)
        except Conflict:  # registered meanwhile, or hidden by its owner (then: not found)
            view = thing_by_url(deployment, url)
    return view, flattr(deployment, funder_id, view.id, points)


def _first_flattr_allowed(deployment: Deployment, funder_id: int, owner: str, url: str, points: int) -> int:
    """The owner's id, once the checks ``flattr`` makes would pass for a new thing of theirs at ``url``."""
    check_points(deployment.settings, points)
    check_thing_url(url)
    with reading(deployment.engine) as connection:
        funder = person(connection, funder_id)
        creator = person(connection, participant_id(connection, owner))
        if creator.id == funder_id:
            raise OwnThing("you cannot flattr your own thing")
        if not under_one_of(url, creator.auto_submit_sites or []):
            raise NotTheCreatorsSite(
                f"{owner!r} does not take auto-submitted things at {url}: a creator lists the sites that are theirs"
            )
        check_means(deployment.settings, funder.preferred_currency, means_of(connection, [funder_id]).get(funder_id, ()))
    return creator.id
