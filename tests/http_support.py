"""Driving the API as a client would: sign up, read the mail, sign in, make a token."""

from __future__ import annotations

import email
import re
from dataclasses import dataclass
from pathlib import Path

from aiohttp.test_utils import TestClient

from gateway.usecases.accounts import set_role


@dataclass
class User:
    id: int
    handle: str
    token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


def mailed_token(outbox: Path, to: str) -> str:
    """The newest token mailed to ``to``."""
    for path in sorted(outbox.glob("*.eml"), reverse=True):
        message = email.message_from_bytes(path.read_bytes())
        if message["To"] == to:
            body = message.get_payload(decode=True).decode()
            return re.search(r"token=([A-Za-z0-9_\-]+)", body).group(1)
    raise AssertionError(f"no mail to {to}")


async def sign_up(client: TestClient, outbox: Path, handle: str, currency: str = "EUR",
                  scopes=("read", "flattr", "money", "things", "account")) -> User:
    address = f"{handle}@example.org"
    response = await client.post("/api/v1/accounts", json={
        "handle": handle, "email": address, "password": "correct horse battery", "preferred_currency": currency,
    })
    assert response.status == 201, await response.text()
    profile = await response.json()
    verified = await client.post("/api/v1/email-verification", json={"token": mailed_token(outbox, address)})
    assert verified.status == 204, await verified.text()
    session = await client.post("/api/v1/session", json={"login": handle, "password": "correct horse battery"})
    assert session.status == 201, await session.text()
    csrf = (await session.json())["csrf_token"]
    created = await client.post("/api/v1/me/tokens", json={"name": "tests", "scopes": list(scopes)},
                                headers={"X-CSRF-Token": csrf})
    assert created.status == 201, await created.text()
    token = (await created.json())["token"]
    client.session.cookie_jar.clear()  # from here on, the token speaks
    return User(profile["id"], handle, token)


async def operator(client: TestClient, outbox: Path, deployment, handle: str = "op") -> User:
    user = await sign_up(client, outbox, handle)
    set_role(deployment, user.id, "operator")
    session = await client.post("/api/v1/session", json={"login": handle, "password": "correct horse battery"})
    csrf = (await session.json())["csrf_token"]
    created = await client.post("/api/v1/me/tokens", json={"name": "ops", "scopes": ["read", "operator"]},
                                headers={"X-CSRF-Token": csrf})
    assert created.status == 201, await created.text()
    client.session.cookie_jar.clear()
    return User(user.id, handle, (await created.json())["token"])
