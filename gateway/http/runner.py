"""The server under the application: what it answers to a request that never reaches a middleware.

aiohttp's parser refuses some requests before the application sees them: a
line or a header longer than it reads (an ``Authorization`` header over
8,190 bytes), too many headers, a request line or chunking it cannot read.
Its ``RequestHandler.handle_error`` then logs the parser's message with a
traceback, and answers it in ``text/plain``; that message quotes the
offending line, so a client's token went to the log and back on the wire.
Our handler answers these as problem+json (400 ``bad_request``) and logs
only the kind of error, never a byte of the request. An exception that gets
past every middleware (a bug) is a 500 ``internal_error`` in the same shape,
and a body that cannot be read is logged by the name of its error alone.

``GatewayRunner`` runs an application on this handler: ``gateway serve``
does, for the API and for the metrics port, and so do the tests that start
a server of their own.
"""

from __future__ import annotations

import logging
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError, LineTooLong
from aiohttp.web_request import BaseRequest

from gateway.errors import BadRequest
from gateway.http.access import REQUEST_ID_HEADER
from gateway.http.app import ALWAYS_HEADERS, SERVER
from gateway.http.problems import problem
from gateway.logs import REQUEST_ID, new_request_id

log = logging.getLogger("gateway.http")

KEEPALIVE_SECONDS = 75.0  # what ``web.run_app`` kept an idle connection open for; aiohttp's handler alone keeps it an hour


class ProblemHandler(web.RequestHandler):
    """aiohttp's protocol handler, but for its own answers: problem+json, and nothing of the request in the log."""

    __slots__ = ()

    def handle_error(
        self, request: BaseRequest, status: int = 500, exc: BaseException | None = None, message: str | None = None
    ) -> web.StreamResponse:
        """Answer an error aiohttp caught itself: ``message`` (the parser's, quoting the request) is never used."""
        request_id = REQUEST_ID.get()
        if request_id is None:  # the parser refused the request: no middleware ran, so none was given
            request_id = new_request_id()
            REQUEST_ID.set(request_id)  # this request's own task: its context goes with it
        if status >= 500:
            log.error("an error got past every middleware", exc_info=exc)  # our code's traceback, as problems() logs one
            response = problem(500, "internal_error", "something went wrong on our side; nothing was changed twice")
        else:
            # The kind of error only: its message and traceback quote the line the parser refused.
            log.info("refused a request the HTTP parser could not read (%s)", type(exc).__name__ if exc else "unknown")
            response = problem(400, BadRequest.code, _why(exc))
        if request.writer.output_size > 0:  # a response was under way: there is no answering now (as aiohttp does)
            raise ConnectionError("a response was sent already; the connection is closed instead")
        response.headers["Server"] = SERVER
        response.headers.update(ALWAYS_HEADERS)
        response.headers[REQUEST_ID_HEADER] = request_id
        response.force_close()  # the parser is lost in this connection's bytes: nothing after them can be read
        return response

    def log_exception(self, *args: Any, **kw: Any) -> None:
        """aiohttp's other logs of an exception: one whose message may quote the request's body is named, not shown.

        A body that cannot be read (broken chunks, a content encoding that
        does not decode) fails as aiohttp reads what is left of it after the
        answer; the parser's message may quote the bytes.
        """
        error = kw.get("exc_info")
        if isinstance(error, (web.RequestPayloadError, HttpProcessingError)):
            cause = error.__cause__ or error
            log.info("closed a connection whose request body could not be read (%s)", type(cause).__name__)
            return
        super().log_exception(*args, **kw)


def _why(error: BaseException | None) -> str:
    if isinstance(error, LineTooLong):
        return "a line of the request (its first line or a header) is longer than this server reads"
    return "the request is not HTTP that this server reads (its first line, its headers or its chunks)"


class ProblemServer(web.Server):
    """aiohttp's low-level server, making our ``ProblemHandler`` for each connection."""

    def __call__(self) -> web.RequestHandler:
        return ProblemHandler(self, loop=self._loop, **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An ``AppRunner`` whose server is a ``ProblemServer``; no aiohttp access log (``gateway.http.access`` writes ours)."""

    def __init__(self, app: web.Application, **kwargs: Any) -> None:
        kwargs.setdefault("keepalive_timeout", KEEPALIVE_SECONDS)
        super().__init__(app, access_log=None, **kwargs)

    async def _make_server(self) -> web.Server:
        made = await super()._make_server()  # the application started, and aiohttp's server with its settings
        return ProblemServer(
            made.request_handler,
            request_factory=made.request_factory,
            handler_cancellation=made.handler_cancellation,
            loop=made._loop,
            **made._kwargs,
        )
