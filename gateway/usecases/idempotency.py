"""The first answer to each client request made under an ``Idempotency-Key``, kept to be given again.

The HTTP layer decides what to keep and how to answer; this keeps the
records. A key is the caller's own: two callers may use the same one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlalchemy import select

from gateway.deployment import Deployment
from gateway.storage.engine import reading, run_in_transaction
from gateway.storage.schema import http_idempotency
from gateway.storage.upsert import insert_ignore


@dataclass(frozen=True)
class Answer:
    request_hash: str  # the digest of the request it answered: the same key with another request is refused
    status: int
    content_type: str
    text: str


def answer_to(deployment: Deployment, caller: str, key: str) -> Answer | None:
    """The answer kept for ``caller``'s ``key``, if there is one."""
    with reading(deployment.engine) as connection:
        row = connection.execute(
            select(http_idempotency).where(http_idempotency.c.caller == caller, http_idempotency.c.key == key)
        ).first()
    if row is None:
        return None
    body = json.loads(row.body)
    return Answer(row.request_hash, row.status, body["content_type"], body["text"])


def keep_answer(deployment: Deployment, caller: str, key: str, answer: Answer) -> Answer:
    """Keep ``answer`` unless one is kept already (a concurrent twin's); returns the one kept."""
    row = dict(
        caller=caller,
        key=key,
        request_hash=answer.request_hash,
        status=answer.status,
        body=json.dumps({"content_type": answer.content_type, "text": answer.text}),
        created_at=deployment.clock.now(),
    )
    run_in_transaction(deployment.engine, lambda c: insert_ignore(c, http_idempotency, row, ["caller", "key"]))
    return answer_to(deployment, caller, key) or answer
