"""The pages' small framework: a page is a function of a ``Page``, declared on a ``Site`` with its method and path.

What every page gets without asking (``_serve``): the signed-in person (a
browser's session only: a token signs no page in) and their profile; the
page's language (``language.negotiate``); its forms' CSRF token; the flash
message a redirect left; for a POST, its form, whose CSRF token is checked
before the page runs (``csrf.check``), and whose fields are text a database
can keep (``Page.text``). A page answers with ``Page.render`` (a template),
``Page.redirect`` (a 303 after a POST, with a flash message) or
``Page.form_error`` (the form again, saying in the page's language what was
wrong, with the error's status).

``pages_middleware`` is the middleware of every page's answer: the headers (a
Content-Security-Policy with no inline script or style, ``frame-ancestors
'none'``, ``Vary``), and an HTML page for whatever goes wrong, never a
problem+json and never a traceback. The JSON API is left as it is.
"""

from __future__ import annotations

import asyncio
import keyword
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web
from aiohttp.typedefs import Handler
from multidict import MultiDictProxy

from gateway.deployment import Deployment
from gateway.errors import GatewayError, ValidationError
from gateway.formatting import day, moment, money
from gateway.http.access import route_of
from gateway.http.keys import DEPLOYMENT, PAGE_ROUTE, PRINCIPAL, RATE_HEADERS, is_page
from gateway.i18n import N_, translate
from gateway.rules import LANGUAGES, text_problem
from gateway.usecases.identity import profile
from gateway.usecases.identity.principal import Principal
from gateway.web import csrf
from gateway.web.demo import banner
from gateway.web.language import LANGUAGE_COOKIE, VARY, negotiate
from gateway.web.messages import FLASHES, Said, describe
from gateway.web.render import render

log = logging.getLogger("gateway.web")
T = TypeVar("T")
PageHandler = Callable[["Page"], Awaitable[web.StreamResponse]]

LANGUAGE: web.RequestKey[str] = web.RequestKey("page_language")  # the language a page was negotiated in
# Origins besides this site's that a page's form may lead to (``Page.send_form_to``): ``form-action`` holds for redirects.
FORM_TARGETS: web.RequestKey[tuple[str, ...]] = web.RequestKey("form_targets")
FLASH_COOKIE = "fgw_flash"  # a key of messages.FLASHES, for the page a redirect leads to
FLASH_AGE = 120  # seconds: the next page shows it, and no later one
LANGUAGE_NAMES = {"en": "English", "fr": "Français"}  # each in its own language, never translated
MAX_FIELD = 10_000  # characters: longer than any field of any form
STRIPE_API = {"https://js.stripe.com": "https://api.stripe.com"}  # Stripe.js's API by its origin (a mock serves its own)


def content_security_policy(deployment: Deployment, form_targets: tuple[str, ...] = ()) -> str:
    """Scripts, styles and everything else from this site only (Stripe.js's origin too where configured); no frame may
    hold a page, and forms post only here (and are redirected only to ``form_targets`` besides)."""
    stripe = deployment.settings.http.stripe_js_origin
    extra = f" {stripe}" if stripe else ""
    parts = [
        "default-src 'self'",
        f"script-src 'self'{extra}",
        "style-src 'self'",
        "img-src 'self' data:",
        "frame-ancestors 'none'",
        " ".join(["form-action 'self'", *form_targets]),
        "base-uri 'none'",
    ]
    if stripe:
        parts.append(f"frame-src 'self'{extra}")
        parts.append(f"connect-src 'self'{extra} {STRIPE_API.get(stripe, stripe)}")  # Stripe.js calls Stripe's API
    return "; ".join(parts)


@dataclass(frozen=True)
class Formats:
    """Amounts and dates for the page's reader (``gateway.formatting``), as templates call them: ``fmt.money(...)``."""

    deployment: Deployment
    language: str

    def money(self, minor: int, code: str) -> str:
        return money(self.deployment.currencies.get(code), minor, self.language)

    def day(self, value: Any) -> str:
        return day(value, self.language)

    def moment(self, value: Any) -> str:
        return moment(value, self.language)


@dataclass
class Page:
    request: web.Request
    deployment: Deployment
    principal: Principal | None  # a signed-in browser (its session); None for anyone else
    account: profile.Profile | None  # the signed-in person's profile
    language: str
    csrf_token: str
    form: MultiDictProxy[Any] | None = None  # a POST's fields
    flash: str | None = None  # the text a redirect left to show
    headers: dict[str, str] = field(default_factory=dict)  # more headers for the answer

    @property
    def me(self) -> int:
        assert self.principal is not None, "a page for the signed-in only (Site.page(..., signed_in=True))"
        return self.principal.participant_id

    def _(self, message: str, **params: object) -> str:
        """``message`` in the page's language."""
        return translate(self.language, message, params or None)

    def say(self, said: Said) -> str:
        return translate(self.language, said.message, said.params or None)

    def text(self, name: str) -> str:
        """A field of the posted form, as text a database can keep (a 422 naming the field otherwise); "" if absent."""
        value = self.form.get(name, "") if self.form is not None else ""
        if not isinstance(value, str):
            raise ValidationError(f"{name}: a text was expected", field=name)
        problem = text_problem(value, name)
        if problem is not None or len(value) > MAX_FIELD:
            raise ValidationError(f"{name}: {problem or 'too long'}", field=name)
        return value

    def value(self, name: str) -> str:
        """A field to show again in its form: its text, or "" where ``text`` would refuse it."""
        try:
            return self.text(name)
        except ValidationError:
            return ""

    def texts(self, name: str) -> list[str]:
        """Every value of a field that may repeat (check boxes)."""
        values = self.form.getall(name, []) if self.form is not None else []
        return [value for value in values if isinstance(value, str) and text_problem(value, name) is None]

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run a use case (the database, blocking) off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)

    def context(self, **more: Any) -> dict[str, Any]:
        """What every template is given, and the page's own."""
        here = self.request.path_qs if self.request.method == "GET" else self.request.path
        return {
            "lang": self.language,
            "languages": [(code, LANGUAGE_NAMES[code]) for code in LANGUAGES],
            "site_name": self.deployment.settings.name,
            "account": self.account,
            "csrf_field": csrf.FIELD,
            "csrf_token": self.csrf_token,
            "flash": self.flash,
            "here": here,
            "path": self.request.path,
            "fmt": Formats(self.deployment, self.language),
            "error": None,
            "error_field": None,
            "switcher": True,
            "demo": banner(self.request.app),  # every page of a demo deployment says so (base.html)
            **more,
        }

    def render(self, template: str, status: int = 200, **context: Any) -> web.Response:
        text = render(self.language, template, self.context(**context))
        return web.Response(status=status, text=text, content_type="text/html", charset="utf-8", headers=self.headers)

    def form_error(self, template: str, error: GatewayError, **context: Any) -> web.Response:
        """The form again, with what was wrong in the page's language, and the error's status (a 422, a 409...)."""
        said = describe(error, (self.request.get(RATE_HEADERS) or {}).get("Retry-After"))
        return self.render(template, status=error.status, error=self.say(said), error_field=said.field, **context)

    def send_form_to(self, origin: str) -> None:
        """Let this page's form be redirected to ``origin`` (an ``http(s)://host[:port]``): browsers hold a redirect
        after a post to ``form-action`` too."""
        assert re.fullmatch(r"https?://[a-z0-9.\-]+(:[0-9]{1,5})?", origin), origin
        self.request[FORM_TARGETS] = (origin,)

    def redirect(self, location: str, flash: str | None = None) -> web.Response:
        """A 303 to ``location`` (a path of this site, or an address the page vouches for), leaving ``flash`` (a key of ``FLASHES``) for it to show."""
        response = web.Response(status=303, headers={"Location": location, **self.headers})
        if flash is not None:
            assert flash in FLASHES, flash
            response.set_cookie(
                FLASH_COOKIE,
                flash,
                max_age=FLASH_AGE,
                httponly=True,
                samesite="Lax",
                secure=self.deployment.settings.http.secure_cookies,
                path="/",
            )
        return response


def local_path(target: str, default: str = "/") -> str:
    """``target`` if it is a path of this site (so a form cannot send its reader elsewhere), else ``default``."""
    if re.fullmatch(r"/(?![/\\])[^\s\\]*", target or ""):
        return target
    return default


def route_name(path: str) -> str:
    """A page's route name: ``page:`` and its path's words (``/reset/confirm`` is ``page:reset-confirm``)."""
    words = [word + "_" if keyword.iskeyword(word) else word for word in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", path)]
    return PAGE_ROUTE + ("-".join(words) or "home")  # aiohttp refuses a keyword in a name (``/top-ups/{id}/return``)


@dataclass
class Site:
    """The pages of a module, installed on the application (``gateway.web.install_pages``)."""

    routes: list[tuple[str, str, PageHandler, bool]] = field(default_factory=list)

    def page(self, method: str, path: str, *, signed_in: bool = False) -> Callable[[PageHandler], PageHandler]:
        """Declare a page; ``signed_in``: for a signed-in person only (anyone else is sent to sign in)."""

        def register(handler: PageHandler) -> PageHandler:
            self.routes.append((method, path, handler, signed_in))
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for method, path, handler, signed_in in self.routes:
            app.router.add_route(method, path, _serve(handler, signed_in), name=route_name(path))


async def _page_of(request: web.Request, form: MultiDictProxy[Any] | None = None) -> tuple[Page, bool]:
    """The ``Page`` of a request, and whether its CSRF token is new (its cookie is then to be set)."""
    deployment = request.app[DEPLOYMENT]
    principal = request.get(PRINCIPAL)
    if principal is not None and principal.via != "session":
        principal = None  # a token is for programs: pages are a browser's, signed in by its session
    account = await asyncio.to_thread(profile.profile, deployment, principal.participant_id) if principal else None
    chosen = request.cookies.get(LANGUAGE_COOKIE)
    language = negotiate(account.language if account else None, chosen, request.headers.get("Accept-Language"))
    request[LANGUAGE] = language
    token, new = csrf.form_token(request, deployment, principal)
    flash_key = request.cookies.get(FLASH_COOKIE) if request.method == "GET" else None
    flash = translate(language, FLASHES[flash_key]) if flash_key in FLASHES else None
    return Page(request, deployment, principal, account, language, token, form, flash), new


def _serve(handler: PageHandler, signed_in: bool) -> Handler:
    async def handle(request: web.Request) -> web.StreamResponse:
        form = await request.post() if request.method == "POST" else None
        page, new_token = await _page_of(request, form)
        if signed_in and page.principal is None:
            response: web.StreamResponse = page.redirect("/signin", "sign_in_first")
        else:
            try:
                if request.method == "POST":
                    sent = page.text(csrf.FIELD) if form is not None else ""
                    csrf.check(request, page.deployment, page.principal, sent)
                response = await handler(page)
            except GatewayError as error:  # what the page did not show in its form: a page of its own
                response = error_page(page, error.status, describe(error))
        if new_token:
            csrf.set_cookie(response, page.deployment, page.csrf_token)
        if page.flash is not None and FLASH_COOKIE not in response.cookies:
            response.del_cookie(FLASH_COOKIE, path="/")  # shown once
        response.headers.update(request.get(RATE_HEADERS) or {})
        return response

    handle.__name__ = handler.__name__
    return handle


def error_page(page: Page, status: int, said: Said, switcher: bool = True) -> web.Response:
    """A page saying what went wrong; ``switcher``: with the language switcher (whose form needs the right token)."""
    title = page._(TITLES.get(status, TITLES[500 if status >= 500 else 400]))
    return page.render("error.html", status=status, title=title, message=page.say(said), switcher=switcher)


TITLES = {
    400: N_("This request cannot be read"),
    401: N_("Sign in first"),
    403: N_("Refused"),
    404: N_("Not found"),
    405: N_("Not found"),
    409: N_("Something changed meanwhile"),
    413: N_("Too large"),
    422: N_("This cannot be accepted"),
    429: N_("Too many attempts"),
    500: N_("Something went wrong"),
}
NO_PAGE = Said(N_("There is no page at this address."))
BROKEN = Said(N_("Something went wrong on our side. Nothing was done twice; try again in a moment."))


@web.middleware
async def pages_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every page's headers, and an HTML page for what goes wrong on one (or at an address with no page, for a browser)."""
    if not is_page(request):
        unmatched = request.match_info.http_exception
        if unmatched is not None and _wants_html(request):
            return _headed(request, await _fallback(request, unmatched.status, NO_PAGE))
        return await handler(request)
    try:
        response = await handler(request)
    except GatewayError as error:  # before the page ran (who is calling): said in a page all the same
        response = await _fallback(request, error.status, describe(error))
    except web.HTTPException as error:
        if error.status < 400:
            raise
        response = await _fallback(request, error.status, NO_PAGE if error.status in (404, 405) else BROKEN)
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on the page %s %s", request.method, route_of(request))
        response = await _fallback(request, 500, BROKEN)
    return _headed(request, response)


async def _fallback(request: web.Request, status: int, said: Said) -> web.StreamResponse:
    """An error page made without the database: its language from the cookie or the browser's, no account.

    Who is calling may not be known here, so neither is the token the
    language switcher's form would need: this page has none.
    """
    deployment = request.app[DEPLOYMENT]
    language = request.get(LANGUAGE) or negotiate(
        None, request.cookies.get(LANGUAGE_COOKIE), request.headers.get("Accept-Language")
    )
    token, new = csrf.form_token(request, deployment, None)
    page = Page(request, deployment, None, None, language, token)
    response = error_page(page, status, said, switcher=False)
    if new:
        csrf.set_cookie(response, deployment, token)
    return response


def _headed(request: web.Request, response: web.StreamResponse) -> web.StreamResponse:
    response.headers["Content-Security-Policy"] = content_security_policy(request.app[DEPLOYMENT], request.get(FORM_TARGETS, ()))
    response.headers["X-Frame-Options"] = "DENY"
    response.headers["Vary"] = VARY
    return response


def _wants_html(request: web.Request) -> bool:
    return not request.path.startswith("/api/") and "text/html" in request.headers.get("Accept", "")
