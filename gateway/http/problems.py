"""RFC 9457 problem details: every error the API returns has this shape.

``type`` is the error's stable code (``already_flattred``, ``no_means``...),
the same word the CLI prints, so clients switch on it.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from gateway.errors import GatewayError

PROBLEM_JSON = "application/problem+json"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    402: "Payment required",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    415: "Unsupported media type",
    422: "Unprocessable content",
    429: "Too many requests",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
}


def problem(status: int, code: str, detail: str, headers: dict[str, str] | None = None, **extra: Any) -> web.Response:
    body = {"type": code, "title": TITLES.get(status, "Error"), "status": status, "detail": detail, **extra}
    return web.Response(status=status, text=json.dumps(body, default=str), content_type=PROBLEM_JSON, headers=headers)


def from_error(error: GatewayError) -> web.Response:
    extra = {key: value for key, value in error.details.items() if key not in ("type", "title", "status", "detail")}
    if "field" in extra and "errors" not in extra:
        extra["errors"] = [{"field": extra.pop("field"), "message": error.message}]
    return problem(error.status, error.code, error.message, **extra)
