"""Flattr's auto-submit links, so that old Flattr buttons keep working: ``/submit/auto?user_id=…&url=…&title=…``.

The parameters are Flattr's (``user_id`` was the creator's user name: here,
their handle; ``language`` may be written ``en_GB``; ``tags`` are separated
by commas). A GET never registers nor flattrs anything: a thing already
registered at ``url`` leads to its confirmation page; an address under one
of the creator's sites (``auto_submit_sites``) gets a page that asks, whose
POST registers the thing for the creator and flattrs it
(``usecases.auto_submit``, which checks the sites again); any other address
is refused, or anybody could register anybody's page for a creator of their
choosing. After the flattr, back to the thing's address, now registered.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from gateway.errors import AlreadyFlattred, GatewayError, NotFound, NotTheCreatorsSite, ValidationError
from gateway.i18n import N_
from gateway.rules import CATEGORY_MAX, CONTENT_LANGUAGE, DESCRIPTION_MAX, HANDLE_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX
from gateway.urls import MAX_URL
from gateway.usecases.auto_submit import auto_submit, creator_takes
from gateway.usecases.things import thing_by_url
from gateway.web.button import ascii_address, origin_of, refusal, sign_in_link
from gateway.web.messages import Said
from gateway.web.page import Page, Site, error_page

pages = Site()

NOT_THEIRS = Said(N_("This creator does not take things from this address: only from the sites they list as theirs."))
NO_CREATOR = Said(N_("There is no creator by this name here."))
INCOMPLETE = Said(N_("This link lacks the address or the title of what to flattr."))


@dataclass(frozen=True)
class Submission:
    """What an auto-submit link names, cut to what a thing can hold (Flattr's links were not always tidy)."""

    user_id: str
    url: str
    title: str
    description: str
    language: str
    tags: str
    category: str

    @classmethod
    def of(cls, fields: Mapping[str, Any]) -> Submission:
        def text(name: str, most: int) -> str:
            value = fields.get(name, "")
            return value.strip()[:most] if isinstance(value, str) else ""

        language = text("language", 16).replace("_", "-")
        return cls(
            user_id=text("user_id", HANDLE_MAX),
            url=text("url", MAX_URL),
            title=text("title", TITLE_MAX),
            description=text("description", DESCRIPTION_MAX),
            language=language if re.fullmatch(CONTENT_LANGUAGE, language) else "",
            tags=text("tags", TAGS_MAX * (TAG_MAX + 1)),
            category=text("category", CATEGORY_MAX),
        )

    def tag_list(self) -> list[str]:
        return [tag.strip() for tag in self.tags.split(",") if tag.strip()][:TAGS_MAX]

    def query(self) -> str:
        return urlencode({name: value for name, value in asdict(self).items() if value})


def _refused(page: Page, error: GatewayError) -> web.Response:
    if isinstance(error, NotTheCreatorsSite):
        return error_page(page, 403, NOT_THEIRS)
    if isinstance(error, NotFound):
        return error_page(page, 404, NO_CREATOR)
    return error_page(page, error.status, refusal(error))


def _ask(page: Page, submission: Submission, error: GatewayError | None = None) -> web.Response:
    origin = origin_of(submission.url)
    if origin:
        page.send_form_to(origin)
    here = "/submit/auto?" + submission.query()
    context: dict[str, Any] = {
        "submission": submission,
        "fields": asdict(submission),
        "signin": sign_in_link(here),
        "signup": "/signup?next=" + quote(here, safe=""),
    }
    if error is None:
        return page.render("submit.html", here=here, **context)
    return page.render("submit.html", status=error.status, here=here, error=page.say(refusal(error)), error_field=None, **context)


@pages.page("GET", "/submit/auto")
async def submit_form(page: Page) -> web.StreamResponse:
    submission = Submission.of(page.request.query)
    if not submission.url or not submission.title:
        return error_page(page, 422, INCOMPLETE)
    try:
        thing = await page.run(thing_by_url, page.deployment, submission.url)
    except NotFound:
        pass
    else:
        return page.redirect(f"/flattr/{thing.id}")
    try:
        await page.run(creator_takes, page.deployment, submission.user_id, submission.url)
    except (NotFound, ValidationError, NotTheCreatorsSite) as error:
        return _refused(page, error)
    return _ask(page, submission)


@pages.page("POST", "/submit/auto")
async def submit_post(page: Page) -> web.StreamResponse:
    """Register (if nobody has) and flattr, through the use case that checks the creator's sites again."""
    submission = Submission.of(page.form or {})
    if page.principal is None:
        return page.redirect(sign_in_link("/submit/auto?" + submission.query()), "sign_in_first")
    if not submission.url or not submission.title:
        return error_page(page, 422, INCOMPLETE)
    try:
        thing, _ = await page.run(
            auto_submit,
            page.deployment,
            page.me,
            submission.user_id,
            submission.url,
            submission.title,
            submission.description,
            submission.language or None,
            submission.category or None,
            submission.tag_list(),
        )
    except AlreadyFlattred:
        thing = await page.run(thing_by_url, page.deployment, submission.url)
    except (NotFound, NotTheCreatorsSite) as error:
        return _refused(page, error)
    except GatewayError as error:
        return _ask(page, submission, error)
    return page.redirect(ascii_address(thing.url))
