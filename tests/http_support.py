"""Driving the API as a client would: sign up, read the mail, sign in, make a token."""

from __future__ import annotations

import asyncio
import email
import email.policy
import re
import uuid
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

from aiohttp.test_utils import TestClient

from gateway.usecases.identity.principal import OPERATOR, SCOPES
from gateway.usecases.identity.roles import set_role
from gateway.usecases.identity.tokens import create_access_token
from gateway.usecases.participants import register_participant


@dataclass
class User:
    id: int
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def mails_to(outbox: Path, to: str) -> list[EmailMessage]:
    """Every message mailed to ``to``, oldest first (the outbox names each file by its mail's id)."""
    found = []
    for path in sorted(outbox.glob("*.eml")):
        message = email.message_from_bytes(path.read_bytes(), policy=email.policy.default)
        if message["To"] == to:
            found.append(message)
    return found


def newest_mail(outbox: Path, to: str) -> EmailMessage:
    """The newest message mailed to ``to``, with its headers and body decoded."""
    found = mails_to(outbox, to)
    if not found:
        raise AssertionError(f"no mail to {to}")
    return found[-1]


async def wait_for_mail(outbox: Path, to: str, count: int = 1, timeout: float = 30.0) -> EmailMessage:
    """The ``count``-th message to ``to``, once the server's mail worker has sent it (at most ``timeout`` seconds)."""
    deadline = asyncio.get_running_loop().time() + timeout
    while len(found := mails_to(outbox, to)) < count:
        assert asyncio.get_running_loop().time() < deadline, f"{len(found)} mail(s) to {to} after {timeout} s, not {count}"
        await asyncio.sleep(0.01)
    return found[count - 1]


def mailed_token(outbox: Path, to: str) -> str:
    """The newest token mailed to ``to``."""
    body = newest_mail(outbox, to).get_content()
    return re.search(r"token=([A-Za-z0-9_\-]+)", body).group(1)


def member(deployment, handle: str, currency: str = "EUR", role: str = "member") -> User:
    """A person made through the use cases, as the CLI makes one, with a token of every scope its role allows.

    Quicker than ``sign_up`` (no password to hash), for tests about something else than signing in.
    """
    participant = register_participant(deployment, handle, currency)
    scopes = list(SCOPES)
    if role != "member":
        set_role(deployment, participant, role)
        scopes.append(OPERATOR)
    _, token = create_access_token(deployment, participant, "tests", scopes)
    return User(participant, handle, token)


async def top_up(client: TestClient, user: User, amount: str = "5.00", currency: str = "EUR") -> None:
    """Put money in ``user``'s wallet through the sandbox rail (enough to flattr, by default)."""
    response = await client.post(
        "/api/v1/me/top-ups",
        json={"amount": {"amount": amount, "currency": currency}},
        headers={**user.auth, "Idempotency-Key": uuid.uuid4().hex},
    )
    assert response.status == 201, await response.text()


async def sign_up(
    client: TestClient, outbox: Path, handle: str, currency: str = "EUR", scopes=("read", "flattr", "money", "things", "account")
) -> User:
    address = f"{handle}@example.org"
    response = await client.post(
        "/api/v1/accounts",
        json={
            "handle": handle,
            "email": address,
            "password": "correct horse battery",
            "preferred_currency": currency,
        },
    )
    assert response.status == 202, await response.text()
    letter = await wait_for_mail(outbox, address)
    token = re.search(r"token=([A-Za-z0-9_\-]+)", letter.get_content()).group(1)
    verified = await client.post("/api/v1/email-verification", json={"token": token})
    assert verified.status == 204, await verified.text()
    session = await client.post("/api/v1/session", json={"login": handle, "password": "correct horse battery"})
    assert session.status == 201, await session.text()
    csrf = (await session.json())["csrf_token"]
    me = await client.get("/api/v1/me")  # the profile: the sign-up's answer has none
    assert me.status == 200, await me.text()
    created = await client.post(
        "/api/v1/me/tokens", json={"name": "tests", "scopes": list(scopes)}, headers={"X-CSRF-Token": csrf}
    )
    assert created.status == 201, await created.text()
    token = (await created.json())["token"]
    client.session.cookie_jar.clear()  # from here on, the token speaks
    return User((await me.json())["id"], handle, token)


async def operator(client: TestClient, outbox: Path, deployment, handle: str = "op") -> User:
    user = await sign_up(client, outbox, handle)
    set_role(deployment, user.id, "operator")
    session = await client.post("/api/v1/session", json={"login": handle, "password": "correct horse battery"})
    csrf = (await session.json())["csrf_token"]
    created = await client.post(
        "/api/v1/me/tokens", json={"name": "ops", "scopes": ["read", "operator"]}, headers={"X-CSRF-Token": csrf}
    )
    assert created.status == 201, await created.text()
    client.session.cookie_jar.clear()
    return User(user.id, handle, (await created.json())["token"])


async def settle_and_wait(
    client: TestClient, operator_: User, period: str | None = None, key: str | None = None, timeout: float = 60.0
) -> dict:
    """Start settling ``period`` (by default the last that ended), poll its status until it is closed, and return its report."""
    response = await client.post(
        "/api/v1/operator/settle",
        json={"period": period} if period else {},
        headers={**operator_.auth, "Idempotency-Key": key or uuid.uuid4().hex},
    )
    assert response.status == 202, await response.text()
    status = await response.json()
    deadline = asyncio.get_running_loop().time() + timeout
    while status["status"] != "closed":
        assert status["running"] or status["error"] is None, status
        assert asyncio.get_running_loop().time() < deadline, f"still not closed after {timeout} s: {status}"
        await asyncio.sleep(0.02)
        polled = await client.get(f"/api/v1/operator/periods/{status['period']}", headers=operator_.auth)
        assert polled.status == 200, await polled.text()
        status = await polled.json()
    report = await client.get(status["report"], headers=operator_.auth)
    assert report.status == 200, await report.text()
    return await report.json()
