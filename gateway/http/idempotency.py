"""``Idempotency-Key`` for POSTs that move money: the first answer, given again.

The key is scoped to the caller. The same key and body give back the kept
answer; the same key with another body (another once parsed: whitespace and
key order do not count) is a 422. The use cases underneath
are themselves idempotent under a key derived from this one
(``core.keys.client``), so two concurrent first requests still move money
once and answer alike.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from gateway.core import keys
from gateway.core.digest import digest
from gateway.errors import GatewayError, IdempotencyKeyReused, ValidationError
from gateway.http.problems import from_error
from gateway.rules import IDEMPOTENCY_KEY_MAX
from gateway.usecases.idempotency import Answer, answer_to, keep_answer

if TYPE_CHECKING:
    from gateway.http.api import Call, Endpoint

HEADER = "Idempotency-Key"


async def idempotent(call: Call, endpoint: Endpoint, body: Any, respond: Callable[[], Awaitable[web.Response]]) -> web.Response:
    """The kept answer to this caller's key, else ``respond``'s, kept.

    Requests are compared as Stripe compares parameters: by what they say
    (the parsed body, keys in any order, any whitespace), not by their bytes.
    """
    key = call.request.headers.get(HEADER, "")
    if not 1 <= len(key) <= IDEMPOTENCY_KEY_MAX or not key.isprintable():
        raise ValidationError(f"send an {HEADER} header of 1 to {IDEMPOTENCY_KEY_MAX} characters", field=HEADER)
    caller = f"p{call.me}"
    request = digest({"method": endpoint.method, "path": call.request.path, "body": body})
    kept = await call.run(answer_to, call.deployment, caller, key)
    if kept is not None:
        if kept.request_hash != request:
            raise IdempotencyKeyReused(f"the {HEADER} {key!r} was already used for another request")
        return _again(kept)
    call.idempotency_key = keys.client(caller, key)
    try:
        response = await respond()
    except GatewayError as error:
        if error.status >= 500:
            raise
        response = from_error(error)
    if response.status < 500:
        answer = Answer(request, response.status, response.content_type, response.text or "")
        kept = await call.run(keep_answer, call.deployment, caller, key, answer)
        if kept.request_hash == request:
            return _again(kept)  # ours, or a concurrent twin's that was kept first: answer as it did
    return response


def _again(answer: Answer) -> web.Response:
    if answer.status == 204:
        return web.Response(status=204)
    return web.Response(status=answer.status, text=answer.text, content_type=answer.content_type)
