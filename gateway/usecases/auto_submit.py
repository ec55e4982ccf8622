"""Auto-submit: a funder flattrs a URL, and the thing is registered for its creator on the first flattr."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Row

from gateway.core.accounts import participant_id
from gateway.core.means import means_of
from gateway.deployment import Deployment
from gateway.errors import Conflict, NotFound, NotTheCreatorsSite, OwnThing
from gateway.storage.engine import reading
from gateway.urls import check_thing_url, under_one_of
from gateway.usecases.flattr import Flattr, check_means, check_points, flattr
from gateway.usecases.participants import person
from gateway.usecases.things import ThingView, create_thing, thing_by_url


def auto_submit(
    deployment: Deployment,
    funder_id: int,
    owner: str,
    url: str,
    title: str,
    description: str = "",
    language: str | None = None,
    category: str | None = None,
    tags: Sequence[str] = (),
    points: int = 1,
) -> tuple[ThingView, Flattr]:
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
        creator = _creator_taking(connection, owner, url)
        if creator.id == funder_id:
            raise OwnThing("you cannot flattr your own thing")
        check_means(deployment.settings, funder.preferred_currency, means_of(connection, [funder_id]).get(funder_id, ()))
    return int(creator.id)


def creator_takes(deployment: Deployment, owner: str, url: str) -> str:
    """``owner``'s handle, if they take auto-submitted things at ``url``: what a page checks before offering to flattr it."""
    check_thing_url(url)
    with reading(deployment.engine) as connection:
        return str(_creator_taking(connection, owner, url).handle)


def _creator_taking(connection: Connection, owner: str, url: str) -> Row[Any]:
    creator = person(connection, participant_id(connection, owner))
    if not under_one_of(url, creator.auto_submit_sites or []):
        raise NotTheCreatorsSite(
            f"{owner!r} does not take auto-submitted things at {url}: a creator lists the sites that are theirs"
        )
    return creator
