"""Signing up participants and registering things."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, delete, insert, select

from ..accounts import EXCHANGE, PLATFORM
from ..deployment import Deployment
from ..errors import Conflict, ValidationError
from ..storage.engine import run_in_transaction
from ..storage.schema import participants, thing_tags, things
from ..urls import check_thing_url
from .common import person

HANDLE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
RESERVED_HANDLES = frozenset({PLATFORM, EXCHANGE})  # owners of the platform's own ledger accounts
MAX_TAGS = 10


@dataclass(frozen=True)
class Thing:
    id: int
    owner_id: int
    url: str
    title: str


def register_participant(
    deployment: Deployment, handle: str, preferred_currency: str | None = None, language: str = "en"
) -> int:
    return run_in_transaction(deployment.engine, lambda c: add_person(c, deployment, handle, preferred_currency, language))


def add_person(
    connection: Connection, deployment: Deployment, handle: str, preferred_currency: str | None = None, language: str = "en"
) -> int:
    """A new person, inside the caller's transaction (sign-up adds its credentials in the same one)."""
    if not HANDLE.fullmatch(handle or "") or handle.startswith("rail:"):
        raise ValidationError("a handle is 1 to 64 letters, digits, '_', '.' or '-'", field="handle")
    if handle.lower() in RESERVED_HANDLES:
        raise ValidationError(f"the handle {handle!r} is reserved", field="handle")
    if preferred_currency is not None:
        deployment.currencies.get(preferred_currency)
    if connection.execute(select(participants.c.id).where(participants.c.handle == handle)).first():
        raise Conflict(f"the handle {handle!r} is taken", field="handle")
    values = dict(
        handle=handle, kind="person", preferred_currency=preferred_currency, language=language,
        created_at=deployment.clock.now(),
    )
    return connection.execute(insert(participants).values(**values)).inserted_primary_key[0]


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
    if not title or len(title) > 300:
        raise ValidationError("a thing's title is 1 to 300 characters", field="title")
    cleaned = clean_tags(tags)

    def work(connection: Connection) -> Thing:
        person(connection, owner_id)
        if connection.execute(select(things.c.id).where(things.c.url == url)).first():
            raise Conflict(f"{url} is already registered", field="url")
        values = dict(
            owner_id=owner_id, url=url, title=title, language=language, category=category,
            description=description, created_at=deployment.clock.now(),
        )
        thing_id = connection.execute(insert(things).values(**values)).inserted_primary_key[0]
        set_tags(connection, thing_id, cleaned)
        return Thing(thing_id, owner_id, url, title)

    return run_in_transaction(deployment.engine, work)


def clean_tags(tags: Sequence[str]) -> list[str]:
    cleaned = sorted({tag.strip().lower() for tag in tags if tag.strip()})
    if len(cleaned) > MAX_TAGS or any(len(tag) > 40 for tag in cleaned):
        raise ValidationError(f"at most {MAX_TAGS} tags of at most 40 characters", field="tags")
    return cleaned


def set_tags(connection: Connection, thing_id: int, tags: list[str]) -> None:
    connection.execute(delete(thing_tags).where(thing_tags.c.thing_id == thing_id))
    if tags:
        connection.execute(insert(thing_tags), [{"thing_id": thing_id, "tag": tag} for tag in tags])
