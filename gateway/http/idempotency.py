"""``Idempotency-Key`` for POSTs that move money: the first response, replayed.

The key is scoped to the caller. The same key and body return the stored
response; the same key with another body is a 422. The use cases underneath
are themselves idempotent under a key derived from this one, so two
concurrent first requests still move money once and answer alike.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from aiohttp import web
from sqlalchemy import select

from ..errors import GatewayError, IdempotencyKeyReused, ValidationError
from ..storage.engine import reading, run_in_transaction
from ..storage.schema import http_idempotency
from ..storage.upsert import insert_ignore
from .problems import from_error

if TYPE_CHECKING:
    from .api import Call, Endpoint

HEADER = "Idempotency-Key"


async def idempotent(call: Call, endpoint: Endpoint, raw: bytes, respond: Callable[[], Awaitable[web.Response]]) -> web.Response:
    key = call.request.headers.get(HEADER, "")
    if not 1 <= len(key) <= 200 or not key.isprintable():
        raise ValidationError(f"send an {HEADER} header of 1 to 200 characters", field=HEADER)
    caller = f"p{call.me}"
    digest = request_hash(endpoint.method, call.request.path, raw)
    stored = await call.run(_stored, call.deployment.engine, caller, key)
    if stored is not None:
        if stored.request_hash != digest:
            raise IdempotencyKeyReused(f"the {HEADER} {key!r} was already used for another request")
        return _replay(stored)
    # The use case's own key: the caller's, digested, so that any header the API takes fits its 200 characters.
    call.idempotency_key = f"http:{caller}:{hashlib.sha256(key.encode()).hexdigest()}"
    try:
        response = await respond()
    except GatewayError as error:
        if error.status >= 500:
            raise
        response = from_error(error)
    if response.status < 500:
        await call.run(_store, call.deployment, caller, key, digest, response)
        stored = await call.run(_stored, call.deployment.engine, caller, key)
        if stored is not None and stored.request_hash == digest:
            return _replay(stored)  # a concurrent twin stored first: answer as it did
    return response


def request_hash(method: str, path: str, raw: bytes) -> str:
    return hashlib.sha256(method.encode() + b" " + path.encode() + b"\n" + raw).hexdigest()


def _stored(engine, caller: str, key: str):
    with reading(engine) as connection:
        return connection.execute(
            select(http_idempotency).where(http_idempotency.c.caller == caller, http_idempotency.c.key == key)
        ).first()


def _store(deployment, caller: str, key: str, digest: str, response: web.Response) -> None:
    row = dict(
        caller=caller, key=key, request_hash=digest, status=response.status,
        body=json.dumps({"content_type": response.content_type, "text": response.text or ""}),
        created_at=deployment.clock.now(),
    )
    run_in_transaction(deployment.engine, lambda c: insert_ignore(c, http_idempotency, row, ["caller", "key"]))


def _replay(stored) -> web.Response:
    body = json.loads(stored.body)
    if stored.status == 204:
        return web.Response(status=204)
    return web.Response(status=stored.status, text=body["text"], content_type=body["content_type"])
