"""Things: register, update, hide, get, list, look up by URL, public counts."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr

from gateway.http.api import Api, Call
from gateway.http.schemas import Model, decode_cursor, encode_cursor
from gateway.rules import CATEGORY_MAX, CONTENT_LANGUAGE, DESCRIPTION_MAX, HANDLE_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX, anchored
from gateway.urls import MAX_URL
from gateway.usecases.discovery import Filters, list_things, thing_counts
from gateway.usecases.things import (
    ThingView,
    create_thing,
    get_thing,
    thing_by_url,
    update_thing,
)

router = Api()
TAG = "things"


class NewThing(Model):
    url: StrictStr = Field(max_length=MAX_URL, examples=["https://example.org/comic/42"])
    title: StrictStr = Field(min_length=1, max_length=TITLE_MAX)
    description: StrictStr = Field(default="", max_length=DESCRIPTION_MAX)
    language: StrictStr | None = Field(default=None, pattern=anchored(CONTENT_LANGUAGE))
    category: StrictStr | None = Field(default=None, max_length=CATEGORY_MAX)
    tags: list[StrictStr] = Field(default_factory=list, max_length=TAGS_MAX)


class ThingChanges(Model):
    title: StrictStr | None = Field(default=None, min_length=1, max_length=TITLE_MAX)
    description: StrictStr | None = Field(default=None, max_length=DESCRIPTION_MAX)
    language: StrictStr | None = Field(default=None, pattern=anchored(CONTENT_LANGUAGE))
    category: StrictStr | None = Field(default=None, max_length=CATEGORY_MAX)
    tags: list[StrictStr] | None = Field(default=None, max_length=TAGS_MAX)
    hidden: StrictBool | None = None


class ThingOut(BaseModel):
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

    @classmethod
    def of(cls, view: ThingView) -> ThingOut:
        return cls(**{name: getattr(view, name) for name in cls.model_fields})


class ThingPage(BaseModel):
    items: list[ThingOut]
    next_cursor: str | None


class ThingQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    owner: str | None = Field(default=None, max_length=HANDLE_MAX)
    language: str | None = Field(default=None, max_length=16)
    category: str | None = Field(default=None, max_length=CATEGORY_MAX)
    tag: str | None = Field(default=None, max_length=TAG_MAX)
    q: str | None = Field(default=None, max_length=200, description="text to find in titles and descriptions")
    sort: Literal["new", "popular", "funders"] = "new"
    cursor: str | None = Field(default=None, max_length=200)
    limit: int = Field(default=50, ge=1, le=200)


class UrlQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")
    url: str = Field(max_length=MAX_URL)


class Counts(BaseModel):
    thing_id: int
    flattrs_this_period: int
    funders_ever: int


def _viewer(call: Call) -> int | None:
    return call.principal.participant_id if call.principal else None


@router.route("POST", "/things", "Register a thing", TAG, scope="things", body=NewThing, response=ThingOut, status=201)
async def register(call: Call) -> ThingOut:
    body: NewThing = call.body
    view = await call.run(
        create_thing, call.deployment, call.me, body.url, body.title, body.description, body.language, body.category, body.tags
    )
    return ThingOut.of(view)


@router.route("GET", "/things", "List things, filtered and sorted", TAG, access="public", query=ThingQuery, response=ThingPage)
async def list_(call: Call) -> ThingPage:
    query: ThingQuery = call.query
    filters = Filters(query.owner, query.language, query.category, query.tag, query.q)
    views, following = await call.run(
        list_things, call.deployment, filters, query.sort, decode_cursor(query.cursor), query.limit, _viewer(call)
    )
    return ThingPage(items=[ThingOut.of(v) for v in views], next_cursor=encode_cursor(following) if following else None)


@router.route(
    "GET", "/things/lookup", "Find the thing registered at a URL", TAG, access="public", query=UrlQuery, response=ThingOut
)
async def lookup(call: Call) -> ThingOut:
    return ThingOut.of(await call.run(thing_by_url, call.deployment, call.query.url, _viewer(call)))


@router.route("GET", "/things/{thing_id}", "Get a thing", TAG, access="public", response=ThingOut)
async def get(call: Call) -> ThingOut:
    return ThingOut.of(await call.run(get_thing, call.deployment, call.path["thing_id"], _viewer(call)))


@router.route(
    "PATCH", "/things/{thing_id}", "Change or hide one of my things", TAG, scope="things", body=ThingChanges, response=ThingOut
)
async def change(call: Call) -> ThingOut:
    changes = call.body.model_dump(exclude_unset=True)
    return ThingOut.of(await call.run(update_thing, call.deployment, call.me, call.path["thing_id"], changes))


@router.route("GET", "/things/{thing_id}/counts", "A thing's public counts", TAG, access="public", response=Counts)
async def counts(call: Call) -> Counts:
    result = await call.run(thing_counts, call.deployment, call.path["thing_id"], _viewer(call))
    return Counts(thing_id=result.thing_id, flattrs_this_period=result.flattrs_this_period, funders_ever=result.funders_ever)
