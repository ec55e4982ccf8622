"""Money leaves only to an owner who can be reached and, above a line, who proves it; destinations change the same way."""

from __future__ import annotations

from datetime import timedelta

import pyotp
import pytest
from moneyed import Money
from sqlalchemy import select

from gateway.errors import EmailNotVerified, InvalidCredentials, TotpNotEnabled, TotpRequired, ValidationError
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.schema import mail_queue, withdrawals
from gateway.usecases.destinations import destinations_of, set_destination
from gateway.usecases.identity.tokens import create_access_token
from gateway.usecases.identity.totp import begin_totp, confirm_totp
from gateway.usecases.participants import register_participant
from gateway.usecases.withdraw import withdraw
from tests.support import PASSWORD, config, payable
from tests.test_money_flows import balance_of, earnings


def eur(amount):
    return Money(amount, "EUR")


@pytest.fixture
def guarded(deployment_factory):
    data = config()
    data["currencies"]["EUR"]["totp_withdrawal_above"] = "50.00"
    return deployment_factory(data)


def switch_totp_on(deployment, person) -> pyotp.TOTP:
    secret, _ = begin_totp(deployment, person)
    totp = pyotp.TOTP(secret)
    confirm_totp(deployment, person, totp.at(deployment.clock.now()))
    deployment.clock.set(deployment.clock.now() + timedelta(seconds=30))  # the confirming code is used: the next step
    return totp


async def test_no_withdrawal_without_a_verified_address(guarded):
    unverified = register_participant(guarded, "artist")
    earnings(guarded, unverified, "10.00")
    with pytest.raises(EmailNotVerified):
        await withdraw(guarded, unverified, eur("4.00"), "sandbox", key="w")
    assert balance_of(guarded, unverified, "earnings") == 1000 and not balance_of(guarded, unverified, "payout")


async def test_above_the_line_a_withdrawal_needs_two_factor_and_a_fresh_code(guarded):
    artist = payable(guarded, "artist")
    earnings(guarded, artist, "200.00")
    assert (await withdraw(guarded, artist, eur("50.00"), "sandbox", key="at-the-line")).status == "succeeded"
    with pytest.raises(TotpNotEnabled):
        await withdraw(guarded, artist, eur("50.01"), "sandbox", key="above")
    totp = switch_totp_on(guarded, artist)
    with pytest.raises(TotpRequired):
        await withdraw(guarded, artist, eur("60.00"), "sandbox", key="no-code")
    with pytest.raises(ValidationError):
        await withdraw(guarded, artist, eur("60.00"), "sandbox", key="wrong", totp_code="000000")
    code = totp.at(guarded.clock.now())
    done = await withdraw(guarded, artist, eur("60.00"), "sandbox", key="right", totp_code=code)
    assert done.status == "succeeded"
    with pytest.raises(ValidationError):  # a code works once
        await withdraw(guarded, artist, eur("60.00"), "sandbox", key="again", totp_code=code)
    assert balance_of(guarded, artist, "earnings") == 20000 - 5000 - 6000


async def test_a_destination_changes_with_the_password_and_code_and_a_notice(guarded):
    artist = payable(guarded, "artist")
    with pytest.raises(InvalidCredentials):
        set_destination(guarded, artist, "sandbox", "artist-bank-1", "not the password")
    first = set_destination(guarded, artist, "sandbox", "  artist-bank-1  ", PASSWORD)
    assert first.destination == "artist-bank-1"
    earnings(guarded, artist, "10.00")
    paid = await withdraw(guarded, artist, eur("4.00"), "sandbox", key="w1")

    totp = switch_totp_on(guarded, artist)
    with pytest.raises(TotpRequired):
        set_destination(guarded, artist, "sandbox", "artist-bank-2", PASSWORD)
    set_destination(guarded, artist, "sandbox", "artist-bank-2", PASSWORD, totp.at(guarded.clock.now()))
    assert [(d.rail, d.destination) for d in destinations_of(guarded, artist)] == [("sandbox", "artist-bank-2")]
    with guarded.engine.connect() as connection:
        kept = connection.execute(select(withdrawals.c.destination).where(withdrawals.c.id == paid.id)).scalar_one()
        notices = connection.execute(
            select(mail_queue.c.to_address, mail_queue.c.subject).where(mail_queue.c.kind == "payout_destination")
        ).all()
    assert kept == "artist-bank-1"  # a withdrawal keeps the destination it was asked with
    assert notices == [("artist@example.org", "Your payout destination was changed")] * 2


async def test_destinations_over_http(guarded, aiohttp_client):
    client = await aiohttp_client(create_app(guarded, limiter=MemoryLimiter()))
    artist = payable(guarded, "artist")
    _, token = create_access_token(guarded, artist, "t", ["read", "money"])
    auth = {"Authorization": f"Bearer {token}"}
    wrong = await client.put(
        "/api/v1/me/payout-destinations/sandbox", json={"destination": "x", "password": "nope"}, headers=auth
    )
    assert wrong.status == 401
    made = await client.put(
        "/api/v1/me/payout-destinations/sandbox", json={"destination": "artist-bank", "password": PASSWORD}, headers=auth
    )
    assert made.status == 200, await made.text()
    listed = await (await client.get("/api/v1/me/payout-destinations", headers=auth)).json()
    assert [(i["rail"], i["destination"]) for i in listed["items"]] == [("sandbox", "artist-bank")]
    unknown = await client.put(
        "/api/v1/me/payout-destinations/nowhere", json={"destination": "x", "password": PASSWORD}, headers=auth
    )
    assert unknown.status == 422
    unverified = register_participant(guarded, "fan")
    _, other = create_access_token(guarded, unverified, "t", ["read", "money"])
    refused = await client.put(
        "/api/v1/me/payout-destinations/sandbox",
        json={"destination": "x", "password": PASSWORD},
        headers={"Authorization": f"Bearer {other}"},
    )
    assert refused.status == 403 and (await refused.json())["type"].endswith("email_not_verified")
