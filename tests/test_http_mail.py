"""Sign-up over HTTP tells nobody whose address it is, and no request sends mail: the worker does, after."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from gateway.http.app import create_app
from gateway.http.mailing import MAIL_WORKER
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.engine import reading
from gateway.storage.schema import participants
from gateway.usecases.mail_queue import deliver_due, queue_counts
from tests.http_support import mails_to, wait_for_mail

PASSWORD = "correct horse battery"


@pytest.fixture
async def client(deployment, aiohttp_client):
    return await aiohttp_client(create_app(deployment, limiter=MemoryLimiter()))


async def quiet(client) -> None:
    """Stop the server's mail worker (as at shutdown), so that what a request left is seen as it left it."""
    await asyncio.to_thread(client.app[MAIL_WORKER].stop)


def people(deployment) -> int:
    with reading(deployment.engine) as connection:
        return connection.execute(select(func.count()).select_from(participants)).scalar()


async def sign_up(client, handle, address, language="en"):
    return await client.post(
        "/api/v1/accounts", json={"handle": handle, "email": address, "password": PASSWORD, "language": language}
    )


async def test_a_free_and_a_taken_address_get_the_same_answer(client, deployment, outbox):
    await quiet(client)
    free = await sign_up(client, "fan", "fan@example.org", language="fr")
    taken = await sign_up(client, "intruder", "Fan@Example.org")
    assert free.status == taken.status == 202
    assert (
        await free.json()
        == await taken.json()
        == {
            "status": "check_your_mail",
            "detail": "check your mail: a message to this address says what to do next",
        }
    )
    # Nothing was sent during the requests: both mails wait in the queue.
    assert not outbox.exists() and queue_counts(deployment)["queued"] == 2
    assert people(deployment) == 1  # the taken address made no account

    assert deliver_due(deployment).sent == 2
    verify, attempt = mails_to(outbox, "fan@example.org")
    assert verify["Subject"] == "Confirmez votre adresse e-mail" and "verify-email?token=" in verify.get_content()
    assert attempt["Subject"] == "Quelqu'un a tenté de s'inscrire avec votre adresse"  # the owner's language
    assert "token=" not in attempt.get_content()


async def test_a_taken_handle_is_still_a_409(client, outbox):
    assert (await sign_up(client, "fan", "fan@example.org")).status == 202
    refused = await sign_up(client, "FAN", "someone@example.org")
    assert refused.status == 409 and "the handle 'fan' is taken" in (await refused.json())["detail"]


async def test_a_password_reset_is_queued_by_the_request_and_sent_by_the_worker(client, deployment, outbox):
    assert (await sign_up(client, "fan", "fan@example.org")).status == 202
    await wait_for_mail(outbox, "fan@example.org")  # the live worker sent the verification link
    await quiet(client)
    assert (await client.post("/api/v1/password-reset", json={"email": "fan@example.org"})).status == 204
    assert len(mails_to(outbox, "fan@example.org")) == 1 and queue_counts(deployment)["queued"] == 1
    deliver_due(deployment)
    assert "reset-password?token=" in mails_to(outbox, "fan@example.org")[1].get_content()


async def test_the_openapi_document_says_what_sign_up_answers(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    operation = spec["paths"]["/api/v1/accounts"]["post"]
    assert "202" in operation["responses"] and "201" not in operation["responses"]
    assert "whether or not the address has an account" in operation["summary"]
    schema = spec["components"]["schemas"]["SignUpAccepted"]
    assert "nobody learns whose address it is" in " ".join(schema["description"].split())
    assert set(schema["properties"]) == {"status", "detail"}
