"""The aiohttp application: middlewares, routes, the OpenAPI document and its page."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor

import pydantic
from aiohttp import web
from aiohttp.typedefs import Handler

from gateway import __version__
from gateway.deployment import Deployment
from gateway.errors import CsrfFailed, GatewayError, InvalidCredentials
from gateway.http import docs, mailing, openapi
from gateway.http.access import request_ids, route_of
from gateway.http.api import Api
from gateway.http.batching import Batches
from gateway.http.keys import (
    BATCHES,
    DEPLOYMENT,
    LIMITER,
    PRINCIPAL,
    RATE_HEADERS,
    SESSION_COOKIE,
    SETTLER,
    is_page,
)
from gateway.http.metrics import metrics, metrics_page
from gateway.http.problems import from_error, problem
from gateway.http.rail_metrics import measured
from gateway.http.ratelimit import Limiter, limiter_for
from gateway.http.routes import install_routes
from gateway.security import same
from gateway.usecases.batches import one_item_may_be_at_fault
from gateway.usecases.database import not_ready
from gateway.usecases.identity.sessions import authenticate_session
from gateway.usecases.identity.tokens import authenticate_tokens
from gateway.usecases.settlement.background import BackgroundSettlement
from gateway.web import install_pages, pages_middleware

log = logging.getLogger("gateway.http")

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@web.middleware
async def problems(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Every error becomes problem+json; nothing leaks a stack trace."""
    try:
        return await handler(request)
    except GatewayError as error:
        response = from_error(error)
        response.headers.update(request.get(RATE_HEADERS) or {})
        return response
    except web.HTTPException as error:
        if error.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "request_too_large"}.get(error.status, "http_error")
        return problem(error.status, code, error.reason, headers={k: v for k, v in error.headers.items() if k == "Allow"})
    except pydantic.ValidationError:
        log.exception("a response did not match its schema")
        return problem(500, "internal_error", "the server made a response it should not have")
    except asyncio.CancelledError:
        raise
    except Exception:
        log.exception("unhandled error on %s %s", request.method, route_of(request))  # the template: a path may hold anything
        return problem(500, "internal_error", "something went wrong on our side; nothing was changed twice")


@web.middleware
async def identify(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Who is calling: a bearer token, or a session cookie (whose writes need the CSRF header).

    A page's form cannot send a header: it carries the token in a field, which
    every page checks before it runs (``gateway.web.page``).
    """
    deployment = request.app[DEPLOYMENT]
    principal = None
    authorization = request.headers.get("Authorization", "")
    if authorization:
        scheme, _, token = authorization.partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token or not (token.isascii() and token.isprintable()):
            raise InvalidCredentials("send 'Authorization: Bearer <token>'")  # a token is printable ASCII, always
        principal = await request.app[BATCHES].submit(authenticate_tokens, token)
        if principal is None:
            raise InvalidCredentials("this token is unknown, revoked or expired")
    elif SESSION_COOKIE in request.cookies:
        principal = await asyncio.to_thread(authenticate_session, deployment, request.cookies[SESSION_COOKIE])
        if principal is not None and request.method not in SAFE_METHODS and not is_page(request):
            sent = request.headers.get(CSRF_HEADER, "")
            if not same(sent, principal.csrf_token or ""):
                raise CsrfFailed(f"a signed-in browser must send the {CSRF_HEADER} header it got at sign-in")
    request[PRINCIPAL] = principal
    return await handler(request)


SERVER = "flattr-gateway"  # the Server header: no name of a library or its version to look up flaws for
# On every answer unless a route says otherwise; on aiohttp's own answers too (``gateway.http.runner``).
ALWAYS_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=63072000; includeSubDomains"  # two years: browsers then refuse plain HTTP to this host
# The docs page: its own inline style, links, nothing else; and no other site may frame it.
DOCS_POLICY = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"


@web.middleware
async def security_headers(request: web.Request, handler: Handler) -> web.StreamResponse:
    """On every answer, problems included (this middleware is the outermost)."""
    response = await handler(request)
    response.headers["Server"] = SERVER
    for name, value in ALWAYS_HEADERS.items():
        response.headers.setdefault(name, value)
    if request.app[DEPLOYMENT].settings.http.secure_cookies:  # served as https
        response.headers.setdefault("Strict-Transport-Security", HSTS)
    return response


async def healthz(request: web.Request) -> web.Response:
    """The process lives and its event loop answers: for a supervisor deciding whether to restart it."""
    return web.json_response({"status": "ok"})


async def readyz(request: web.Request) -> web.Response:
    """The process can serve: its database answers and is at this release's schema; for a proxy choosing backends."""
    why = await asyncio.to_thread(not_ready, request.app[DEPLOYMENT])
    if why is not None:
        return problem(503, "not_ready", why)
    return web.json_response({"status": "ready"})


def _database_threads(deployment: Deployment) -> int:
    """How many threads run the use cases (the database work) beside the event loop.

    SQLite writes one transaction at a time, and threads beyond that only
    fight over the interpreter lock: the benchmark serves most flattrs with
    one or two. PostgreSQL works on many connections at once.
    """
    configured = deployment.settings.http.threads
    if configured:
        return configured
    return 2 if deployment.single_writer else 16


def create_app(deployment: Deployment, limiter: Limiter | None = None) -> web.Application:
    # The request id outermost, so that everything after logs under it; the metrics next, to count every answer
    # as sent; then security headers, so problems get them too; problems turns what identify raises into problem+json,
    # but on a page (``gateway.web``), where ``pages_middleware`` answers with an HTML page and the pages' own headers.
    app = web.Application(
        middlewares=[request_ids, metrics().measure(), security_headers, problems, pages_middleware, identify],
        client_max_size=256 * 1024,
        # Room for the longest query the API takes (a 2,000-character URL, each character up to 12 bytes
        # percent-encoded); aiohttp refuses a longer line itself, before any middleware (``gateway.http.runner`` answers).
        handler_args={"max_line_size": 32 * 1024},
    )
    deployment.rails = measured(deployment.rails, metrics())  # each call to a provider counted and timed
    app[DEPLOYMENT] = deployment
    app[LIMITER] = limiter or limiter_for(deployment.settings.http.redis_url)
    app[SETTLER] = BackgroundSettlement(deployment, progress=metrics().settlement_progress)
    api = Api()
    install_routes(api)
    api.install(app)
    spec = openapi.document(api, deployment.settings.name, __version__, deployment.settings.max_points)
    spec_text = json.dumps(spec)

    async def openapi_json(request: web.Request) -> web.Response:
        return web.Response(text=spec_text, content_type="application/json")

    page = docs.render(spec)

    async def docs_page(request: web.Request) -> web.Response:
        return web.Response(text=page, content_type="text/html", headers={"Content-Security-Policy": DOCS_POLICY})

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get(api.prefix + "/openapi.json", openapi_json)
    app.router.add_get("/api/docs", docs_page)
    app.router.add_get("/metrics", metrics_page)  # an operator's token; or, with http.metrics_port, on that port to anyone
    install_pages(app)  # the web product: /, /signup, /signin, /account... (gateway/web)

    async def close_limiter(app: web.Application) -> None:
        await app[LIMITER].close()

    async def close_rails(app: web.Application) -> None:
        for rail in app[DEPLOYMENT].rails.values():
            await rail.close()

    app.on_cleanup.append(close_limiter)
    app.on_cleanup.append(close_rails)
    app.cleanup_ctx.append(_executor)
    app.cleanup_ctx.append(_settlement_thread)
    app.cleanup_ctx.append(mailing.mail_worker)  # the thread that sends the queued mail (gateway/http/mailing.py)
    return app


async def _executor(app: web.Application) -> AsyncIterator[None]:
    """The database threads, and the batches of the busiest calls that run on them."""
    deployment = app[DEPLOYMENT]
    threads = _database_threads(deployment)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="gateway-db")
    asyncio.get_running_loop().set_default_executor(pool)  # where Call.run's asyncio.to_thread runs
    # Each kind of batch may take a quarter of the threads on PostgreSQL: the other calls keep the rest.
    in_flight = 1 if deployment.single_writer else max(1, threads // 4)
    app[BATCHES] = Batches(deployment, in_flight=in_flight, alone_on=one_item_may_be_at_fault, sizes=metrics().batch_sizes)
    yield
    await app[BATCHES].close()
    pool.shutdown(wait=True)


async def _settlement_thread(app: web.Application) -> AsyncIterator[None]:
    """At shutdown, a settlement this process runs stops after its batch in flight (see ``BackgroundSettlement.close``).

    Waited for on a thread of its own: the loop's default executor may be
    another application's, already shut down (tests run two on one loop).
    """
    yield
    with ThreadPoolExecutor(1, thread_name_prefix="settle-close") as waiter:
        await asyncio.get_running_loop().run_in_executor(waiter, app[SETTLER].close)
