"""The web product: HTML pages over the use cases the JSON API calls, in English and French.

An edge beside ``gateway/http``: pages call use cases, never SQL. Templates
are Jinja2 (``templates/``), the catalogs Babel's (``gateway/locale``, read by
``gateway.i18n``), the one stylesheet is in ``static/``. No page needs
JavaScript. ``install_pages`` mounts every page on the application that
``gateway.http.app.create_app`` makes, whose middleware ``pages_middleware``
(in ``gateway.web.page``) gives each its headers and its error pages.

Adding pages: a module with ``pages = Site()`` and handlers declared with
``@pages.page("GET", "/path")`` (``signed_in=True`` for the signed-in only),
each a function of a ``Page`` that calls use cases through ``page.run`` and
answers ``page.render("x.html", ...)``, ``page.redirect(...)`` after a POST,
or ``page.form_error(...)``; its Site added to ``SITES``. A template extends
``base.html``, writes every text as ``_("...")`` (then ``make messages`` and
the French), takes form fields from ``_forms.html`` and puts
``csrf(csrf_field, csrf_token)`` in each form (a POST without it is refused
before the handler runs), and shows amounts with ``fmt.money(minor, code)``.
"""

from __future__ import annotations

from aiohttp import web

from gateway.i18n import load_all as load_catalogs
from gateway.web import (
    account,
    button,
    creator,
    demo,
    discovery,
    funder,
    home,
    operator,
    operator_accounts,
    operator_rails,
    operator_refunds,
    operator_settlement,
    payouts,
    receipts,
    security,
    submit,
    top_up,
    transparency,
)
from gateway.web.page import Site, pages_middleware
from gateway.web.render import STATIC_PREFIX
from gateway.web.render import load_all as load_templates

SITES: tuple[Site, ...] = (  # a new module of pages adds its Site here
    home.pages,
    account.pages,
    security.pages,
    discovery.pages,
    button.pages,
    submit.pages,
    funder.pages,
    top_up.pages,
    receipts.pages,
    creator.pages,
    payouts.pages,
    operator.pages,
    operator_settlement.pages,
    operator_accounts.pages,
    operator_rails.pages,
    operator_refunds.pages,
    transparency.pages,
)


def install_pages(app: web.Application) -> None:
    """Mount the pages and their assets; the catalogs, templates and assets are read now, so a broken one stops start-up."""
    load_catalogs()
    load_templates()
    app.on_startup.append(demo.note_demo)  # the demo banner, on a demo's database only
    for site in SITES:
        site.install(app)
    app.router.add_get(STATIC_PREFIX + "{name}", home.static_file, name="static")


__all__ = ["install_pages", "pages_middleware"]
