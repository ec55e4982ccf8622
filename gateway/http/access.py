"""Each request's id, and the access log: one JSON line a request, naming its route and never its content.

The id is the client's ``X-Request-Id`` if it is short and plain ASCII,
else a fresh random one; the answer carries it back in ``X-Request-Id``, and
every log record written while the request is served carries it too
(``gateway.logs.REQUEST_ID``), in the threads that run its use cases as well.

An access line holds the method, the route's template (``/api/v1/things/{thing_id}``,
not the path that was sent), the status and the time taken: no header, no
cookie, no query string, no body, so no token or password can reach it.
"""

from __future__ import annotations

import asyncio
import logging
from time import perf_counter

from aiohttp import web
from aiohttp.typedefs import Handler

from gateway.logs import REQUEST_ID, request_id_from

REQUEST_ID_HEADER = "X-Request-Id"
CLIENT_GONE = 499  # the status of a request whose client went away before its answer (as nginx logs it)
UNMATCHED = "unmatched"  # the route of a path no route matched: what was sent may hold anything
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})  # any other an unmatched request sent: "other"

access_log = logging.getLogger("gateway.access")


@web.middleware
async def request_ids(request: web.Request, handler: Handler) -> web.StreamResponse:
    """The outermost middleware: the id is set before anything else runs, and the access line written after.

    The id is not unset at the end: aiohttp serves each request in a task
    of its own, whose context goes with it, and an error that escapes to
    aiohttp's own answer (``gateway.http.runner``) is logged under it still.
    """
    request_id = request_id_from(request.headers.get(REQUEST_ID_HEADER))
    REQUEST_ID.set(request_id)
    started = perf_counter()
    status = 500  # what aiohttp answers to an exception that gets past every middleware
    try:
        response = await handler(request)
    except web.HTTPException as error:  # a redirect, or an error another middleware let through
        error.headers[REQUEST_ID_HEADER] = request_id
        status = error.status
        raise
    except asyncio.CancelledError:
        status = CLIENT_GONE
        raise
    else:
        status = response.status
        if not response.prepared:
            response.headers[REQUEST_ID_HEADER] = request_id
        return response
    finally:
        _log_access(request, status, perf_counter() - started)


def route_of(request: web.Request) -> str:
    """The template of the route that matched (``/api/v1/things/{thing_id}``), or ``unmatched``: never the path sent."""
    resource = request.match_info.route.resource
    return resource.canonical if resource is not None else UNMATCHED


def _log_access(request: web.Request, status: int, seconds: float) -> None:
    route = route_of(request)
    method = request.method if route != UNMATCHED or request.method in METHODS else "other"
    access_log.info(
        "%s %s %d",
        method,
        route,
        status,
        extra={"fields": {"method": method, "route": route, "status": status, "ms": round(seconds * 1000, 3)}},
    )
