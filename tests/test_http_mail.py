"""Sign-up over HTTP tells nobody whose address it is, and no request sends mail: the worker does, after."""

from __future__ import annotations

import asyncio
import re

import pytest
from sqlalchemy import func, select

from gateway.http.app import create_app
from gateway.http.mailing import MAIL_WORKER
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.engine import reading
from gateway.storage.schema import participants
from gateway.usecases.mail_queue import deliver_due, queue_counts
from tests.http_support import mails_to, wait_for_mail
from tests.http_support import sign_up as member_signed_up

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


def link_in(letter) -> str:
    return re.search(r"token=([A-Za-z0-9_\-]+)", letter.get_content()).group(1)


async def account(client, outbox, handle, language="en") -> None:
    """An account, as a person makes one: sign up, then open the link the worker mailed."""
    address = f"{handle}@example.org"
    before = len(mails_to(outbox, address))
    assert (await sign_up(client, handle, address, language)).status == 202
    letter = await wait_for_mail(outbox, address, count=before + 1)
    opened = await client.post("/api/v1/email-verification", json={"token": link_in(letter)})
    assert opened.status == 204, await opened.text()


async def signed_in(client, handle) -> dict[str, str]:
    """A session cookie for ``handle`` in the client's jar; the headers its writes need."""
    session = await client.post("/api/v1/session", json={"login": handle, "password": PASSWORD})
    assert session.status == 201, await session.text()
    return {"X-CSRF-Token": (await session.json())["csrf_token"]}


async def test_a_free_and_a_taken_address_get_the_same_answer(client, deployment, outbox):
    await account(client, outbox, "fan", language="fr")
    await quiet(client)
    free = await sign_up(client, "newcomer", "newcomer@example.org", language="fr")
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
    assert len(mails_to(outbox, "fan@example.org")) == 1 and queue_counts(deployment)["queued"] == 2
    assert people(deployment) == 1  # neither made an account: the free address's waits for its link

    assert deliver_due(deployment).sent == 2
    [verify] = mails_to(outbox, "newcomer@example.org")
    assert verify["Subject"] == "Confirmez votre adresse e-mail" and "verify?token=" in verify.get_content()
    attempt = mails_to(outbox, "fan@example.org")[-1]
    assert attempt["Subject"] == "Quelqu'un a tenté de s'inscrire avec votre adresse"  # the owner's language
    assert "token=" not in attempt.get_content()


async def test_the_same_sign_up_twice_gets_the_same_answers_for_a_free_and_a_taken_address(client, deployment, outbox):
    await account(client, outbox, "owner")
    free = [await sign_up(client, "fan", "fan@example.org") for _ in range(2)]
    taken = [await sign_up(client, "intruder", "owner@example.org") for _ in range(2)]
    assert [answer.status for answer in free + taken] == [202] * 4
    assert len({await answer.text() for answer in free + taken}) == 1
    assert people(deployment) == 1


async def test_signing_in_before_the_link_is_opened_is_refused_as_for_an_unknown_login(client, outbox):
    await account(client, outbox, "owner")
    await sign_up(client, "fan", "fan@example.org")  # a free address
    await sign_up(client, "intruder", "owner@example.org")  # a taken one
    refused = [
        await client.post("/api/v1/session", json={"login": login, "password": PASSWORD})
        for login in ("fan", "fan@example.org", "intruder", "nobody")
    ]
    assert [answer.status for answer in refused] == [401] * 4
    assert len({await answer.text() for answer in refused}) == 1
    opened = await client.post(
        "/api/v1/email-verification", json={"token": link_in(await wait_for_mail(outbox, "fan@example.org"))}
    )
    assert opened.status == 204
    assert (await client.post("/api/v1/session", json={"login": "fan", "password": PASSWORD})).status == 201


async def test_sign_ups_in_between_do_not_advance_the_next_accounts_id(client, outbox):
    first = await member_signed_up(client, outbox, "first")
    await sign_up(client, "probe", "free@example.org")
    await sign_up(client, "probe", "first@example.org")
    second = await member_signed_up(client, outbox, "second")
    assert second.id == first.id + 1


async def test_a_new_address_gets_the_same_answer_free_or_taken_and_changes_once_its_link_is_opened(client, outbox):
    await account(client, outbox, "fan")
    await account(client, outbox, "other")
    csrf = await signed_in(client, "fan")
    # The password again: a session alone cannot move where password resets go.
    alone = await client.patch("/api/v1/me", json={"email": "new@example.org"}, headers=csrf)
    assert alone.status == 401
    wrong = await client.patch("/api/v1/me", json={"email": "new@example.org", "password": "not it"}, headers=csrf)
    assert wrong.status == 401
    taken = await client.patch("/api/v1/me", json={"email": "other@example.org", "password": PASSWORD}, headers=csrf)
    free = await client.patch("/api/v1/me", json={"email": "new@example.org", "password": PASSWORD}, headers=csrf)
    assert taken.status == free.status == 200
    assert await taken.json() == await free.json()
    assert (await free.json())["email"] == "fan@example.org"  # the old address stays until the link is opened
    attempt = await wait_for_mail(outbox, "other@example.org", count=2)  # after its own verification
    assert attempt["Subject"] == "Someone tried to use your address for another account"
    token = link_in(await wait_for_mail(outbox, "new@example.org"))
    opened = await client.post("/api/v1/email-verification", json={"token": token}, headers=csrf)  # the cookie's write
    assert opened.status == 204, await opened.text()
    me = await (await client.get("/api/v1/me")).json()
    assert (me["email"], me["email_verified"]) == ("new@example.org", True)


async def test_a_link_opened_after_its_handle_was_taken_is_a_409_and_makes_nothing(client, deployment, outbox):
    await sign_up(client, "fan", "late@example.org")
    late = link_in(await wait_for_mail(outbox, "late@example.org"))
    await account(client, outbox, "fan")  # another address, the same handle: whoever opens a link first
    refused = await client.post("/api/v1/email-verification", json={"token": late})
    assert refused.status == 409
    problem = await refused.json()
    assert problem["type"] == "conflict" and "the handle 'fan' was taken" in problem["detail"]
    assert people(deployment) == 1
    assert (await client.post("/api/v1/session", json={"login": "late@example.org", "password": PASSWORD})).status == 401


async def test_a_taken_handle_is_still_a_409(client, outbox):
    await account(client, outbox, "fan")
    refused = await sign_up(client, "FAN", "someone@example.org")
    assert refused.status == 409 and "the handle 'fan' is taken" in (await refused.json())["detail"]


async def test_a_password_reset_is_queued_by_the_request_and_sent_by_the_worker(client, deployment, outbox):
    await account(client, outbox, "fan")  # the live worker sent the link that made it
    await quiet(client)
    assert (await client.post("/api/v1/password-reset", json={"email": "fan@example.org"})).status == 204
    assert len(mails_to(outbox, "fan@example.org")) == 1 and queue_counts(deployment)["queued"] == 1
    deliver_due(deployment)
    assert "reset/confirm?token=" in mails_to(outbox, "fan@example.org")[1].get_content()


async def test_the_openapi_document_says_what_sign_up_answers(client):
    spec = await (await client.get("/api/v1/openapi.json")).json()
    operation = spec["paths"]["/api/v1/accounts"]["post"]
    assert "202" in operation["responses"] and "201" not in operation["responses"]
    assert "whether or not the address has an account" in operation["summary"]
    schema = spec["components"]["schemas"]["SignUpAccepted"]
    assert "nobody learns whose address it is" in " ".join(schema["description"].split())
    assert set(schema["properties"]) == {"status", "detail"}
    change = spec["paths"]["/api/v1/me"]["patch"]["summary"]
    assert "whether or not the address has an account" in change and "link" in change
