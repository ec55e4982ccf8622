"""A small declarative layer over aiohttp's router.

Each endpoint is declared once, with its body, query and response models,
who may call it and with which scope; the same declarations serve the
requests and generate the OpenAPI document, so the two cannot drift.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import pydantic
from aiohttp import web
from pydantic import BaseModel

from gateway.deployment import Deployment
from gateway.errors import BadRequest, Forbidden, RateLimited, Unauthorized, UnsupportedMediaType, ValidationError
from gateway.http.idempotency import idempotent
from gateway.http.keys import BATCHES, DEPLOYMENT, LIMITER, PRINCIPAL, RATE_HEADERS
from gateway.http.problems import problem
from gateway.http.ratelimit import RULES, Verdict
from gateway.rules import MAX_DEPTH, text_problem
from gateway.usecases.identity.principal import Principal

T = TypeVar("T")
Item = TypeVar("Item")
Handler = Callable[["Call"], Awaitable[Any]]  # a route: what it answers, a model or a response
Access = Literal["public", "user", "operator"]
MAX_BODY = 64 * 1024


@dataclass
class Call:
    """What a handler gets: the caller, the checked input, and the deployment."""

    request: web.Request
    deployment: Deployment
    principal: Principal | None
    body: Any
    query: Any
    path: dict[str, Any]
    idempotency_key: str | None = None

    @property
    def caller(self) -> Principal:
        """Who calls: a route that is not public has one (``_authorize``)."""
        if self.principal is None:
            raise Unauthorized("sign in or send a token")
        return self.principal

    @property
    def key(self) -> str:
        """The caller's ``Idempotency-Key``, which an idempotent route cannot be called without."""
        if self.idempotency_key is None:
            raise BadRequest("send an Idempotency-Key header")
        return self.idempotency_key

    @property
    def me(self) -> int:
        return self.caller.participant_id

    async def batched(self, work: Callable[[Deployment, list[Item]], Sequence[Any]], item: Item) -> Any:
        """The use case ``work`` for ``item``, in one batch with the calls that arrive meanwhile (a group commit)."""
        return await self.request.app[BATCHES].submit(work, item)

    async def raw_body(self) -> bytes:
        """The body's bytes as they came, whatever their type, for a route that checks a signature over them (a webhook)."""
        raw = await _read_bytes(self.request)
        if len(raw) > MAX_BODY:
            raise BadRequest(f"the body is over {MAX_BODY} bytes")
        return raw

    async def run(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """Run blocking use-case code (database, rails) off the event loop."""
        return await asyncio.to_thread(function, *args, **kwargs)


@dataclass(frozen=True)
class Endpoint:
    method: str
    path: str
    handler: Handler
    summary: str
    tag: str
    access: Access = "user"
    scope: str | None = None
    body: type[BaseModel] | None = None
    query: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    idempotent: bool = False
    rate: str | None = None
    errors: tuple[str, ...] = ()

    @property
    def operation_id(self) -> str:
        return self.handler.__name__

    def path_params(self) -> list[str]:
        return [part[1:-1] for part in self.path.split("/") if part.startswith("{")]


@dataclass
class Api:
    prefix: str = "/api/v1"
    endpoints: list[Endpoint] = field(default_factory=list)

    def route(self, method: str, path: str, summary: str, tag: str, **options: Any) -> Callable[[Handler], Handler]:
        def register(handler: Handler) -> Handler:
            self.endpoints.append(Endpoint(method, self.prefix + path, handler, summary, tag, **options))
            return handler

        return register

    def install(self, app: web.Application) -> None:
        for endpoint in self.endpoints:
            app.router.add_route(endpoint.method, _routed(endpoint.path), _serve(endpoint))


def _serve(endpoint: Endpoint) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        principal = request.get(PRINCIPAL)
        _authorize(endpoint, principal)
        headers = await _rate_limit(request, endpoint, principal)
        call = Call(
            request=request,
            deployment=request.app[DEPLOYMENT],
            principal=principal,
            body=None,
            query=_parse_query(endpoint, request),
            path=_parse_path(endpoint, request),
        )
        data = _json_of(await _read_body(request)) if endpoint.body else None
        if endpoint.body:
            call.body = _validated(endpoint.body, data, "body")
        if endpoint.idempotent:
            response = await idempotent(call, endpoint, data, lambda: _respond(endpoint, call))
        else:
            response = await _respond(endpoint, call)
        response.headers.update(headers)
        return response

    handle.__name__ = endpoint.operation_id
    return handle


async def _respond(endpoint: Endpoint, call: Call) -> web.Response:
    result = await endpoint.handler(call)
    if result is None:
        return web.Response(status=204)
    if isinstance(result, web.Response):  # a handler that sets cookies builds its own
        return result
    return web.Response(status=endpoint.status, text=result.model_dump_json(), content_type="application/json")


def _authorize(endpoint: Endpoint, principal: Principal | None) -> None:
    if endpoint.access == "public":
        return
    if principal is None:
        raise Unauthorized("sign in, or send a personal access token as 'Authorization: Bearer'")
    if endpoint.access == "operator" and principal.role != "operator":
        raise Forbidden("this needs the operator role")
    if endpoint.scope and endpoint.scope not in principal.scopes:
        raise Forbidden(f"this token lacks the scope {endpoint.scope!r}", scope=endpoint.scope)


async def _rate_limit(request: web.Request, endpoint: Endpoint, principal: Principal | None) -> dict[str, str]:
    """Count the request against its rule; its ``RateLimit-*`` headers go on every answer, errors too."""
    if not endpoint.rate:
        return {}
    rule = RULES[endpoint.rate]
    # Signing up and in count by address whoever asks: holding accounts must not buy more attempts.
    signed_in = principal is not None and endpoint.access != "public"
    who = f"p{principal.participant_id}" if principal is not None and signed_in else f"ip{request.remote}"
    return enforce(request, await request.app[LIMITER].hit(f"{endpoint.rate}:{who}", rule))


def enforce(request: web.Request, verdict: Verdict, why: str = "too many requests") -> dict[str, str]:
    """The verdict's headers, on this answer whatever it is; a 429 if it is a refusal."""
    request[RATE_HEADERS] = verdict.headers()
    if not verdict.allowed:
        raise RateLimited(f"{why}; try again in {request[RATE_HEADERS]['Retry-After']} s")
    return request[RATE_HEADERS]


def _routed(path: str) -> str:
    """The path as the router matches it: an id is 1 to 18 ASCII digits, so ``/things/auto`` is no thing's id."""
    return re.sub(r"\{(\w+_id)\}", r"{\1:[0-9]{1,18}}", path)


def _parse_path(endpoint: Endpoint, request: web.Request) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name in endpoint.path_params():
        raw = request.match_info[name]
        _refuse_bad_text(raw, "path", name)
        values[name] = int(raw) if name.endswith("_id") else raw  # the router took digits only (_routed)
    return values


def _parse_query(endpoint: Endpoint, request: web.Request) -> Any:
    if endpoint.query is None:
        return None
    return _validated(endpoint.query, dict(request.query), "query")


async def _read_body(request: web.Request) -> bytes:
    if request.content_type != "application/json":
        raise UnsupportedMediaType("send the body as application/json")
    return await _read_bytes(request)


async def _read_bytes(request: web.Request) -> bytes:
    if request.content_length is not None and request.content_length > MAX_BODY:
        raise BadRequest(f"the body is over {MAX_BODY} bytes")
    try:
        return await request.content.read(MAX_BODY + 1)
    except web.RequestPayloadError:  # broken chunks or content encoding; its message may quote the body: not passed on
        raise BadRequest("the body could not be read: its chunks or its content encoding are broken") from None


def _json_of(raw: bytes) -> Any:
    """The body's JSON. Nesting too deep for the parser (a RecursionError) is bad JSON as any other."""
    if len(raw) > MAX_BODY:
        raise BadRequest(f"the body is over {MAX_BODY} bytes")
    try:
        return json.loads(raw or b"null")
    except (ValueError, UnicodeDecodeError, RecursionError):
        raise BadRequest("the body is not valid JSON") from None


def _validated(model: type[BaseModel], data: Any, where: str) -> Any:
    """``data`` as ``model`` says, once every text in it is text a database can keep (``rules.text_problem``)."""
    _refuse_bad_texts(data, where)
    try:
        return model.model_validate(data)
    except pydantic.ValidationError as error:
        errors = [
            {"field": ".".join(str(part) for part in item["loc"]) or where, "message": item["msg"]}
            for item in error.errors(include_url=False)
        ]
        first = errors[0]
        raise ValidationError(f"{where}: {first['field']}: {first['message']}", errors=errors) from None


def _refuse_bad_texts(data: Any, where: str) -> None:
    """Every string of ``data`` (keys too), walked without recursion, nested at most ``MAX_DEPTH`` deep."""
    pending: list[tuple[str, Any, int]] = [("", data, 0)]
    while pending:
        field, value, depth = pending.pop()
        if depth > MAX_DEPTH:
            raise BadRequest(f"the {where} nests deeper than {MAX_DEPTH} levels")
        if isinstance(value, str):
            _refuse_bad_text(value, where, field)
        elif isinstance(value, dict):
            for key, item in value.items():
                name = f"{field}.{key}" if field else str(key)
                _refuse_bad_text(str(key), where, name)
                pending.append((name, item, depth + 1))
        elif isinstance(value, list):
            pending += [(f"{field}.{index}" if field else str(index), item, depth + 1) for index, item in enumerate(value)]


def _refuse_bad_text(text: str, where: str, field: str) -> None:
    problem = text_problem(text, field or where)
    if problem is not None:
        raise ValidationError(f"{where}: {field or where}: {problem}", errors=[{"field": field or where, "message": problem}])


__all__ = ["Api", "Call", "Endpoint", "problem"]
