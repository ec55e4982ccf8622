"""Things: what creators register (a post, a comic, a project, a song), their tags, and reading one back."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    delete,
    insert,
    select,
    update,
)

from gateway.deployment import Deployment
from gateway.errors import Forbidden, NotFound, UrlTaken, ValidationError
from gateway.rules import check_tags, check_title
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.rows import insert_row
from gateway.storage.schema import participants, thing_tags, things
from gateway.urls import check_thing_url
from gateway.usecases.participants import person

CHANGEABLE = frozenset({"title", "description", "language", "category", "hidden", "tags"})


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
    score: int  # what the list was sorted by: flattrs this period, funders ever, people who flattred it (small), or 0


@dataclass(frozen=True)
class Thing:
    id: int
    owner_id: int
    url: str
    title: str


def register_thing(
    deployment: Deployment,
    owner_id: int,
    url: str,
    title: str,
    language: str | None = None,
    category: str | None = None,
    description: str = "",
    tags: Sequence[str] = (),
) -> Thing:
    """A new thing with its tags, in one transaction."""
    check_thing_url(url)
    check_title(title)
    cleaned = check_tags(tags)

    def work(connection: Connection) -> Thing:
        person(connection, owner_id)
        if connection.execute(select(things.c.id).where(things.c.url == url)).first():
            raise UrlTaken(f"{url} is already registered", field="url")
        values = dict(
            owner_id=owner_id,
            url=url,
            title=title,
            language=language,
            category=category,
            description=description,
            created_at=deployment.clock.now(),
        )
        thing_id = insert_row(connection, things, **values)
        set_tags(connection, thing_id, cleaned)
        return Thing(thing_id, owner_id, url, title)

    return run_in_transaction(deployment.engine, work)


def create_thing(
    deployment: Deployment,
    owner_id: int,
    url: str,
    title: str,
    description: str = "",
    language: str | None = None,
    category: str | None = None,
    tags: Sequence[str] = (),
) -> ThingView:
    thing = register_thing(deployment, owner_id, url, title, language, category, description, tags)
    return get_thing(deployment, thing.id, viewer=owner_id)


def update_thing(deployment: Deployment, owner_id: int, thing_id: int, changes: dict[str, Any]) -> ThingView:
    """Change a thing's title, description, language, category, tags or hidden flag."""
    if set(changes) - CHANGEABLE:
        raise ValidationError(f"cannot change {sorted(set(changes) - CHANGEABLE)[0]!r}")
    tags = check_tags(changes.pop("tags") or []) if "tags" in changes else None  # null clears them
    if "title" in changes:
        check_title(changes["title"])
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
    """The thing is the caller's. A hidden thing of someone else's is missing, to them: its id betrays nothing."""
    found = connection.execute(select(things.c.owner_id, things.c.hidden).where(things.c.id == thing_id)).first()
    if found is None or (found.hidden and found.owner_id != owner_id):
        raise NotFound(f"no thing #{thing_id}")
    if found.owner_id != owner_id:
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


def select_things() -> Select[Any]:
    return select(things, participants.c.handle.label("owner")).join(participants, participants.c.id == things.c.owner_id)


def _find(deployment: Deployment, where: ColumnElement[bool], viewer: int | None) -> list[ThingView]:
    """The things ``where`` picks that ``viewer`` may see (a hidden thing only its owner)."""
    with reading(deployment.engine) as connection:
        rows = [row for row in connection.execute(select_things().where(where)) if not row.hidden or row.owner_id == viewer]
        return views(connection, rows)


def views(connection: Connection, rows: list[Row[Any]]) -> list[ThingView]:
    """Rows of ``select_things`` (with a ``score`` column where the list was sorted by one), with their tags."""
    tags: dict[int, list[str]] = {}
    if rows:
        for thing_id, tag in connection.execute(
            select(thing_tags.c.thing_id, thing_tags.c.tag)
            .where(thing_tags.c.thing_id.in_([r.id for r in rows]))
            .order_by(thing_tags.c.tag)
        ):
            tags.setdefault(thing_id, []).append(tag)
    return [
        ThingView(
            row.id,
            row.owner,
            row.url,
            row.title,
            row.description,
            row.language,
            row.category,
            tags.get(row.id, []),
            row.hidden,
            row.created_at,
            getattr(row, "score", 0),
        )
        for row in rows
    ]


def set_tags(connection: Connection, thing_id: int, tags: list[str]) -> None:
    """Replace a thing's tags (as ``check_tags`` made them)."""
    connection.execute(delete(thing_tags).where(thing_tags.c.thing_id == thing_id))
    if tags:
        connection.execute(insert(thing_tags), [{"thing_id": thing_id, "tag": tag} for tag in tags])
