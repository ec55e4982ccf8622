"""What the creator's forms say of the use cases' errors: closer words than ``messages.describe``'s, per form.

Each form has its own table, because one field name means another thing on
another form (``destination`` is the text typed on the destinations page,
and the missing one on the withdrawal page). What a table does not name is
said by ``describe``, as on every other page.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from gateway.errors import (
    BelowMinimum,
    Conflict,
    CurrencyNotEnabled,
    EarningsHeld,
    EmailNotVerified,
    GatewayError,
    IdempotencyKeyReused,
    InvalidCredentials,
    PaymentRequired,
    RailNotEnabled,
    TotpNotEnabled,
    ValidationError,
)
from gateway.http.keys import RATE_HEADERS
from gateway.i18n import N_
from gateway.rules import CATEGORY_MAX, DESCRIPTION_MAX, TAG_MAX, TAGS_MAX, TITLE_MAX
from gateway.urls import MAX_SITE, MAX_SITES, MAX_URL
from gateway.web.messages import Said, describe
from gateway.web.page import Page

Table = dict[tuple[type[GatewayError], str | None], Said]

THINGS: Table = {
    (ValidationError, "url"): Said(
        N_("An address starts with http:// or https://, has no space, and is at most %(max)s characters."), {"max": MAX_URL}
    ),
    (Conflict, "url"): Said(N_("A thing is already registered at this address.")),
    (ValidationError, "title"): Said(N_("A title is 1 to %(max)s characters."), {"max": TITLE_MAX}),
    (ValidationError, "description"): Said(N_("A description is at most %(max)s characters."), {"max": DESCRIPTION_MAX}),
    (ValidationError, "language"): Said(N_("A language is a code such as “en”, “fr” or “pt-BR”.")),
    (ValidationError, "category"): Said(N_("A category is at most %(max)s characters."), {"max": CATEGORY_MAX}),
    (ValidationError, "tags"): Said(
        N_("At most %(count)s tags, each at most %(max)s characters."), {"count": TAGS_MAX, "max": TAG_MAX}
    ),
    (ValidationError, "auto_submit_sites"): Said(
        N_("At most %(count)s sites, each an http:// or https:// address of at most %(max)s characters, with no “?”."),
        {"count": MAX_SITES, "max": MAX_SITE},
    ),
}

WITHDRAW: Table = {
    (ValidationError, "amount"): Said(N_("Write an amount such as 12.50, more than zero.")),
    (BelowMinimum, None): Said(N_("This is less than the smallest withdrawal in this currency."), field="amount"),
    (EarningsHeld, None): Said(
        N_("Part of these earnings is held against a chargeback until %(date)s: withdraw less, or wait until then."),
        field="amount",
    ),
    (PaymentRequired, None): Said(N_("This is more than your earnings in this currency."), field="amount"),
    (ValidationError, "destination"): Said(N_("This rail has nowhere to pay you yet: set your payout destination first.")),
    (CurrencyNotEnabled, None): Said(N_("This rail does not pay out in the currency chosen."), field="payout_currency"),
    (RailNotEnabled, None): Said(N_("This rail is not offered here.")),
    (TotpNotEnabled, None): Said(N_("A withdrawal this large needs two-factor sign-in: switch it on first, or withdraw less.")),
    (EmailNotVerified, None): Said(N_("Confirm your e-mail address first: open the link we mailed you.")),
    (IdempotencyKeyReused, None): Said(N_("This form was already sent with other values: reload the page.")),
}

DESTINATIONS: Table = {
    (ValidationError, "destination"): Said(N_("A destination is 1 to %(max)s characters."), {"max": 200}),
    (InvalidCredentials, None): Said(N_("This password is wrong."), field="password"),
    (RailNotEnabled, None): Said(N_("This rail is not offered here.")),
    (EmailNotVerified, None): Said(N_("Confirm your e-mail address first: open the link we mailed you.")),
}


def said_of(error: GatewayError, table: Table, retry_after: str | None = None, **params: object) -> Said:
    """What the form says of ``error``: the table's words for its class and field, else ``describe``'s."""
    field = error.details.get("field")
    for kind in type(error).__mro__:
        for key in ((kind, field), (kind, None)) if isinstance(field, str) else ((kind, None),):
            said = table.get(key)
            if said is not None:
                return Said(said.message, {**said.params, **params}, said.field or (field if isinstance(field, str) else None))
    return describe(error, retry_after)


def form_error(
    page: Page, template: str, error: GatewayError, table: Table, params: dict[str, object], **context: Any
) -> web.Response:
    """The form again, with what was wrong said in the page's language (``Page.form_error``, with the form's table)."""
    said = said_of(error, table, (page.request.get(RATE_HEADERS) or {}).get("Retry-After"), **params)
    return page.render(template, status=error.status, error=page.say(said), error_field=said.field, **context)
