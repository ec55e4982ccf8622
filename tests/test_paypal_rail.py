"""The PayPal rail against the fake PayPal over real HTTP on 127.0.0.1, alone and through the use cases.

Top-ups approved at PayPal and captured once with PayPal's fee; a capture
whose answer was lost (a 500, a timeout) captured once when asked again;
payouts with each item outcome, a payout returned after it was paid, and one
whose answer was lost found again; signed webhooks through the API; PayPal's
own minor units; the credentials read from the environment or a secrets file
and never shown. The deployments are built as in production, from a
``[rails.paypal]`` table, on SQLite and PostgreSQL. No test waits on the
clock: a timeout is a call the fake holds until the test releases it.

Withdrawals to PayPal need the creator's address (``withdrawals.destination``),
which ``withdraw()`` does not take yet: ``withdrawal_to`` records the
withdrawal as ``withdraw()`` does, with the address, and the use case's
``refresh_withdrawal`` drives it from there.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
import pytest
from moneyed import Money
from sqlalchemy import select

from adapters import PaymentState, PayoutRequest, RefundRequest, TopUpRequest, load_rails
from adapters.paypal.rail import PayPalRail
from gateway.config import settings_from_dict
from gateway.core.accounts import Purpose, account
from gateway.core.ledger import Entry, Leg, post
from gateway.errors import ConfigError, RailRefused, RailUnavailable, WebhookRefused
from gateway.http.app import create_app
from gateway.http.ratelimit import MemoryLimiter
from gateway.storage.schema import participants, top_ups, withdrawals
from gateway.usecases.destinations import set_destination
from gateway.usecases.participants import register_participant
from gateway.usecases.rails_sync import sync
from gateway.usecases.refund import refund_top_up
from gateway.usecases.top_up import refresh_top_up, top_up
from gateway.usecases.webhooks import receive
from gateway.usecases.withdraw import Withdrawal, refresh_withdrawal, withdraw
from tests.http_support import member
from tests.support import PASSWORD, balance, config, ledger_holds, payable

if TYPE_CHECKING:
    from gateway.deployment import Deployment
    from tests.fakes.paypal import FakePayPal

pytest_plugins = ["tests.fakes.paypal"]  # the paypal_fake fixture

WEBHOOK_ID = "WH-4PY41263RT8812345"
HOOK = "/api/v1/rails/paypal/webhooks"
CURRENCIES = ["EUR", "USD", "JPY", "HUF", "TWD"]
CREATOR = "creator@example.com"
VARIABLES = ("PAYPAL_CLIENT_ID", "PAYPAL_SECRET", "PAYPAL_WEBHOOK_ID")


# --- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def no_paypal_environment(monkeypatch):
    """The credentials come only from where each test puts them."""
    for variable in VARIABLES:
        monkeypatch.delenv(variable, raising=False)


def write_secrets(path: Path, client_id: str, secret: str, webhook_id: str | None = WEBHOOK_ID) -> Path:
    lines = [f'PAYPAL_CLIENT_ID = "{client_id}"', f'PAYPAL_SECRET = "{secret}"']
    if webhook_id is not None:
        lines.append(f'PAYPAL_WEBHOOK_ID = "{webhook_id}"')
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    path.chmod(0o600)
    return path


@pytest.fixture
def secrets_file(tmp_path, paypal_fake) -> Path:
    return write_secrets(tmp_path / "paypal-secrets.toml", paypal_fake.client_id, paypal_fake.secret)


def paypal_config(fake: FakePayPal, secrets: Path, **options: Any) -> dict[str, Any]:
    """A deployment file's data with the PayPal rail enabled, and the currencies PayPal takes without decimals."""
    data = config()
    data["currencies"]["HUF"] = {"kind": "fiat", "minimum_budget": "1000", "minimum_withdrawal": "1000"}
    data["currencies"]["TWD"] = {"kind": "fiat", "minimum_budget": "100", "minimum_withdrawal": "100"}
    table = {"base_url": fake.url, "currencies": CURRENCIES, "secrets_file": str(secrets), "brand_name": "Flattr test"}
    data["rails"]["paypal"] = {**table, **options}
    return data


@pytest.fixture
async def paypal_deployments(deployment_factory, paypal_fake, secrets_file) -> AsyncIterator[Any]:
    """Deployments with the PayPal rail (on the test's database); their rails are closed at the end."""
    made: list[Deployment] = []

    def make(**options: Any) -> Deployment:
        deployment = deployment_factory(paypal_config(paypal_fake, secrets_file, **options))
        made.append(deployment)
        return deployment

    yield make
    for deployment in made:
        await deployment.rails["paypal"].close()


@pytest.fixture
def paypal_deployment(paypal_deployments) -> Deployment:
    return paypal_deployments()


@pytest.fixture
async def rail(paypal_fake, secrets_file) -> AsyncIterator[PayPalRail]:
    """The rail alone, built from its entry point as the deployment builds it."""
    options = {"base_url": paypal_fake.url, "currencies": CURRENCIES, "secrets_file": str(secrets_file)}
    built = load_rails({"paypal": options})["paypal"]
    assert isinstance(built, PayPalRail)
    yield built
    await built.close()


@pytest.fixture
async def client(paypal_deployment, aiohttp_client):
    return await aiohttp_client(create_app(paypal_deployment, limiter=MemoryLimiter()))


# --- helpers ----------------------------------------------------------------------------------


def participant(deployment: Deployment, handle: str) -> int:
    with deployment.engine.connect() as connection:
        return int(connection.execute(select(participants.c.id).where(participants.c.handle == handle)).scalar_one())


def row_of(deployment: Deployment, table: Any, row_id: int) -> Any:
    with deployment.engine.connect() as connection:
        return connection.execute(select(table).where(table.c.id == row_id)).one()


def money(amount: str, currency: str = "EUR") -> Money:
    return Money(amount, currency)


async def pending_top_up(deployment: Deployment, funder: int, amount: str = "10.00", currency: str = "EUR", key: str = "k"):
    started = await top_up(deployment, funder, money(amount, currency), "paypal", key=key)
    assert started.status == "requires_action", started
    return started


async def earnings(deployment: Deployment, handle: str = "artist", amount: str = "20.00") -> int:
    """A creator with ``amount`` of earnings, made as settlement makes them (topped up through the sandbox first)."""
    creator = payable(deployment, handle)
    await top_up(deployment, creator, money(amount), "sandbox", key=f"seed-{handle}")
    unit = deployment.currencies.get("EUR")
    minor = unit.to_minor(money(amount))
    with deployment.engine.begin() as connection:
        legs = (
            Leg(account(connection, creator, Purpose.WALLET, unit), -minor),
            Leg(account(connection, creator, Purpose.EARNINGS, unit), minor),
        )
        post(connection, Entry("settlement", legs), deployment.clock.now())
    return creator


async def withdrawal_to(
    deployment: Deployment, creator: int, amount: str = "5.00", destination: str | None = CREATOR, key: str = "w"
) -> Withdrawal:
    if destination is not None:
        set_destination(deployment, creator, "paypal", destination, PASSWORD)
    return await withdraw(deployment, creator, money(amount), "paypal", key=key)


def only_item(fake: FakePayPal) -> dict[str, Any]:
    (item,) = fake.payout_items.values()
    return item


def top_up_request(operation: str = "top_up:1", amount: str = "10.00", currency: str = "EUR") -> TopUpRequest:
    return TopUpRequest(operation, "fan", Decimal(amount), currency, "http://127.0.0.1:8080/top-ups/1/return")


# --- top-ups ----------------------------------------------------------------------------------


async def test_a_top_up_is_approved_at_paypal_then_captured_once_with_its_fee(paypal_deployment, paypal_fake):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan)
    order = paypal_fake.orders[pending.rail_reference]
    assert pending.next_action == {"type": "redirect", "url": f"{paypal_fake.url}/checkoutnow?token={order['id']}"}
    unit = order["purchase_units"][0]
    assert unit["custom_id"] == f"top_up:{pending.id}" and unit["amount"] == {"currency_code": "EUR", "value": "10.00"}
    assert order["application_context"]["brand_name"] == "Flattr test"
    assert (balance(paypal_deployment, fan, "wallet"), balance(paypal_deployment, fan, "incoming")) == (0, 1000)

    again = await refresh_top_up(paypal_deployment, pending.id)  # not approved yet: still waiting for the funder
    assert again.status == "requires_action" and again.next_action == pending.next_action
    assert paypal_fake.captures == {}

    paypal_fake.approve(order["id"])
    done = await refresh_top_up(paypal_deployment, pending.id)
    fee = paypal_fake.capture_fee(Decimal("10.00"), "EUR")
    assert (done.status, done.rail_reference, done.next_action, done.fee) == ("succeeded", order["id"], None, money(str(fee)))
    assert (balance(paypal_deployment, fan, "wallet"), balance(paypal_deployment, fan, "incoming")) == (1000, 0)
    platform = participant(paypal_deployment, "platform")
    assert balance(paypal_deployment, platform, "provider_fee") == -int(fee * 100)  # the platform pays PayPal's fee

    late = await refresh_top_up(paypal_deployment, pending.id)  # asked again: read, never captured twice
    assert late.status == "succeeded" and len(paypal_fake.captures) == 1 and paypal_fake.calls["capture"] == 1
    assert balance(paypal_deployment, fan, "wallet") == 1000
    ledger_holds(paypal_deployment)


async def test_the_funder_follows_the_approve_link_and_refreshes_over_http(client, paypal_deployment, paypal_fake):
    fan = member(paypal_deployment, "fan")
    response = await client.post(
        "/api/v1/me/top-ups",
        json={"amount": {"amount": "6.00", "currency": "EUR"}, "rail": "paypal"},
        headers={**fan.auth, "Idempotency-Key": "k"},
    )
    assert response.status == 201, await response.text()
    created = await response.json()
    assert created["status"] == "requires_action" and created["next_action"]["type"] == "redirect"

    async with (
        aiohttp.ClientSession() as browser,
        browser.get(created["next_action"]["url"], allow_redirects=False) as approval,
    ):
        back = approval.headers["Location"]
    base = paypal_deployment.settings.http.base_url.rstrip("/")
    assert approval.status == 302 and back.startswith(f"{base}/top-ups/{created['id']}/return?token=")

    answer = await client.post(f"/api/v1/me/top-ups/{created['id']}/refresh", json={}, headers=fan.auth)
    assert answer.status == 200 and (await answer.json())["status"] == "succeeded"
    assert balance(paypal_deployment, fan.id, "wallet") == 600
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize("after", [False, True], ids=["before-the-work", "after-the-work"])
async def test_a_capture_answering_500_is_unknown_and_asking_again_captures_once(paypal_deployment, paypal_fake, after):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan)
    paypal_fake.approve(pending.rail_reference)
    paypal_fake.fail_next("capture", after=after)
    unknown = await refresh_top_up(paypal_deployment, pending.id)
    assert unknown.status == "unknown" and unknown.rail_reference == pending.rail_reference
    assert "INTERNAL_SERVER_ERROR" in unknown.error and balance(paypal_deployment, fan, "wallet") == 0
    assert len(paypal_fake.captures) == (1 if after else 0)

    report = await sync(paypal_deployment)  # the janitor
    assert report.top_ups == {"succeeded": 1} and report.errors == []
    assert len(paypal_fake.captures) == 1
    assert balance(paypal_deployment, fan, "wallet") == 1000  # once
    assert (await refresh_top_up(paypal_deployment, pending.id)).status == "succeeded"
    assert balance(paypal_deployment, fan, "wallet") == 1000 and len(paypal_fake.captures) == 1
    ledger_holds(paypal_deployment)


async def test_a_capture_hanging_past_the_timeout_is_unknown_then_captured_once(paypal_deployments, paypal_fake):
    deployment = paypal_deployments(timeout=2)  # the one call held by the fake times out; the others take milliseconds
    fan = register_participant(deployment, "fan")
    pending = await pending_top_up(deployment, fan)
    paypal_fake.approve(pending.rail_reference)
    hang = paypal_fake.hang_next("capture")  # held before the work, until released: the client's timeout fires
    unknown = await refresh_top_up(deployment, pending.id)
    assert unknown.status == "unknown" and "no answer from PayPal" in unknown.error
    assert hang.arrived.is_set() and not hang.done.is_set()

    still = await sync(deployment)  # the first capture is still being answered: PayPal says so, and nothing is guessed
    assert still.top_ups == {"unknown": 1} and len(paypal_fake.captures) == 0

    hang.release()
    await hang.done.wait()  # PayPal finished the first capture
    report = await sync(deployment)
    assert report.top_ups == {"succeeded": 1}
    assert len(paypal_fake.captures) == 1 and balance(deployment, fan, "wallet") == 1000
    ledger_holds(deployment)


async def test_an_order_whose_answer_was_lost_is_found_under_the_same_request_id(paypal_deployment, paypal_fake):
    fan = register_participant(paypal_deployment, "fan")
    paypal_fake.fail_next("create_order", after=True)  # PayPal made the order; we heard a 500
    lost = await top_up(paypal_deployment, fan, money("10.00"), "paypal", key="k")
    assert (lost.status, lost.rail_reference) == ("unknown", None)
    assert len(paypal_fake.orders) == 1

    again = await refresh_top_up(paypal_deployment, lost.id)
    (order_id,) = paypal_fake.orders
    assert (again.status, again.rail_reference) == ("requires_action", order_id)
    assert again.next_action["url"].endswith(f"token={order_id}") and len(paypal_fake.orders) == 1
    ledger_holds(paypal_deployment)


async def test_a_pending_capture_is_processing_until_paypal_completes_it(paypal_deployment, paypal_fake):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan)
    paypal_fake.approve(pending.rail_reference, capture_status="PENDING")
    processing = await refresh_top_up(paypal_deployment, pending.id)
    assert processing.status == "processing" and balance(paypal_deployment, fan, "wallet") == 0
    (capture,) = paypal_fake.captures.values()
    capture["status"] = "COMPLETED"  # PayPal's review ended
    done = await refresh_top_up(paypal_deployment, pending.id)
    assert done.status == "succeeded" and done.fee == money("0.74") and balance(paypal_deployment, fan, "wallet") == 1000
    assert paypal_fake.calls["capture"] == 1
    ledger_holds(paypal_deployment)


async def test_a_declined_instrument_fails_the_top_up_clearly_and_is_never_captured_again(paypal_deployment, paypal_fake):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan)
    paypal_fake.approve(pending.rail_reference, instrument_declined=True)
    failed = await refresh_top_up(paypal_deployment, pending.id)
    assert failed.status == "failed" and "declined" in failed.error and "INSTRUMENT_DECLINED" in failed.error
    assert (balance(paypal_deployment, fan, "wallet"), balance(paypal_deployment, fan, "incoming")) == (0, 0)
    again = await refresh_top_up(paypal_deployment, pending.id)  # a late webhook, say: PayPal is not asked to capture
    assert again.status == "failed" and paypal_fake.calls["capture"] == 1
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize("gone", ["voided", "expired"])
async def test_an_order_voided_or_expired_at_paypal_fails_the_top_up(paypal_deployment, paypal_fake, gone):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan)
    if gone == "voided":
        paypal_fake.orders[pending.rail_reference]["status"] = "VOIDED"
    else:
        del paypal_fake.orders[pending.rail_reference]  # PayPal forgets an order never approved
    failed = await refresh_top_up(paypal_deployment, pending.id)
    assert failed.status == "failed" and failed.error
    assert (balance(paypal_deployment, fan, "wallet"), balance(paypal_deployment, fan, "incoming")) == (0, 0)
    ledger_holds(paypal_deployment)


async def test_a_top_up_refunded_by_the_operator_goes_back_through_paypal_once(paypal_deployment, paypal_fake):
    fan = register_participant(paypal_deployment, "fan")
    operator = register_participant(paypal_deployment, "operator")
    pending = await pending_top_up(paypal_deployment, fan)
    paypal_fake.approve(pending.rail_reference)
    await refresh_top_up(paypal_deployment, pending.id)

    part = await refund_top_up(paypal_deployment, operator, pending.id, money("4.00"), key="r1")
    (refund,) = paypal_fake.refunds.values()
    (capture,) = paypal_fake.captures.values()
    assert (part.status, part.rail_reference) == ("succeeded", refund["id"])
    assert refund["_capture_id"] == capture["id"] and refund["amount"] == {"currency_code": "EUR", "value": "4.00"}
    assert balance(paypal_deployment, fan, "wallet") == 600
    replayed = await refund_top_up(paypal_deployment, operator, pending.id, money("4.00"), key="r1")
    assert replayed.id == part.id and len(paypal_fake.refunds) == 1

    rest = await refund_top_up(paypal_deployment, operator, pending.id, None, key="r2")
    assert rest.status == "succeeded" and capture["status"] == "REFUNDED"
    assert row_of(paypal_deployment, top_ups, pending.id).status == "refunded"
    assert balance(paypal_deployment, fan, "wallet") == 0
    ledger_holds(paypal_deployment)


async def test_a_refund_paypal_will_not_make_fails_clearly(rail, paypal_fake):
    order = await rail.start_top_up(top_up_request())
    paypal_fake.approve(order.reference)
    paid = await rail.top_up_state(top_up_request(), order.reference)
    assert paid.state == PaymentState.SUCCEEDED
    too_much = await rail.refund(RefundRequest("refund:1", paid.reference, Decimal("11.00"), "EUR"))
    assert too_much.state == PaymentState.FAILED and "REFUND_AMOUNT_EXCEEDED" in too_much.error
    whole = await rail.refund(RefundRequest("refund:2", paid.reference, Decimal("10.00"), "EUR"))
    assert whole.state == PaymentState.SUCCEEDED
    assert (await rail.top_up_state(top_up_request(), paid.reference)).state == PaymentState.REFUNDED  # seen at PayPal


# --- PayPal's minor units ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "at_paypal"),
    [("1000", "HUF", "1000"), ("1000", "JPY", "1000"), ("300", "TWD", "300"), ("10.5", "EUR", "10.50")],
)
async def test_top_ups_go_to_paypal_at_its_decimals(paypal_deployment, paypal_fake, amount, currency, at_paypal):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan, amount, currency)
    order = paypal_fake.orders[pending.rail_reference]
    assert order["purchase_units"][0]["amount"] == {"currency_code": currency, "value": at_paypal}
    paypal_fake.approve(order["id"])
    done = await refresh_top_up(paypal_deployment, pending.id)
    fee = paypal_fake.capture_fee(Decimal(at_paypal), currency)
    assert done.status == "succeeded" and done.fee == money(str(fee), currency)
    unit = paypal_deployment.currencies.get(currency)
    assert balance(paypal_deployment, fan, "wallet", currency) == unit.to_minor(money(amount, currency))
    platform = participant(paypal_deployment, "platform")
    assert balance(paypal_deployment, platform, "provider_fee", currency) == -unit.to_minor(money(str(fee), currency))
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize(("amount", "currency"), [("10.50", "HUF"), ("300.40", "TWD")])
async def test_an_amount_paypal_cannot_represent_fails_clearly_before_anything_is_sent(
    paypal_deployment, paypal_fake, amount, currency
):
    fan = register_participant(paypal_deployment, "fan")
    refused = await top_up(paypal_deployment, fan, money(amount, currency), "paypal", key="k")
    assert refused.status == "failed"
    assert (
        refused.error
        == f"{Decimal(amount).normalize()} {currency} cannot be sent to PayPal: PayPal takes no decimals in {currency}"
    )
    assert paypal_fake.calls["create_order"] == 0 and paypal_fake.orders == {}
    assert (balance(paypal_deployment, fan, "wallet", currency), balance(paypal_deployment, fan, "incoming", currency)) == (0, 0)
    ledger_holds(paypal_deployment)


async def test_a_payout_paypal_cannot_represent_fails_before_anything_is_sent(rail, paypal_fake):
    outcome = await rail.start_payout(PayoutRequest("withdrawal:9", "artist", Decimal("10.50"), "HUF", CREATOR))
    assert outcome.state == PaymentState.FAILED and "no decimals in HUF" in outcome.error
    assert paypal_fake.calls["create_payout"] == 0


# --- payouts ----------------------------------------------------------------------------------


async def test_a_payout_paid_by_paypal_succeeds(paypal_deployment, paypal_fake):
    artist = await earnings(paypal_deployment)
    paid = await withdrawal_to(paypal_deployment, artist)
    (batch_id,) = paypal_fake.batches
    item = only_item(paypal_fake)
    assert (paid.status, paid.rail_reference) == ("succeeded", f"{batch_id}:paid")
    assert paypal_fake.batches[batch_id]["sender_batch_header"]["sender_batch_id"] == f"withdrawal:{paid.id}"
    assert item["payout_item"]["sender_item_id"] == f"withdrawal:{paid.id}"
    assert (item["payout_item"]["receiver"], item["payout_item"]["amount"]) == (CREATOR, {"currency": "EUR", "value": "5.00"})
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (1500, 0)
    again = await refresh_withdrawal(paypal_deployment, paid.id)
    assert again.status == "succeeded" and len(paypal_fake.batches) == 1
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize("outcome", ["failed", "blocked", "denied"])
async def test_a_payout_paypal_refuses_gives_the_earnings_back(paypal_deployment, paypal_fake, outcome):
    artist = await earnings(paypal_deployment)
    failed = await withdrawal_to(paypal_deployment, artist, destination=f"{outcome}@example.com")
    assert failed.status == "failed" and f"payout was {outcome}" in failed.error
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (2000, 0)
    ledger_holds(paypal_deployment)


async def test_an_unclaimed_payout_waits_and_comes_back_to_earnings_when_returned(paypal_deployment, paypal_fake):
    artist = await earnings(paypal_deployment)
    waiting = await withdrawal_to(paypal_deployment, artist, destination="unclaimed@example.com")
    assert waiting.status == "processing" and "no PayPal account yet" in waiting.error
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (1500, 500)

    paypal_fake.set_item_status(only_item(paypal_fake)["payout_item_id"], "RETURNED")  # thirty days on, never claimed
    report = await sync(paypal_deployment)
    assert report.withdrawals == {"failed": 1}
    back = row_of(paypal_deployment, withdrawals, waiting.id)
    assert back.status == "failed" and "returned" in back.error
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (2000, 0)
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize("status", ["RETURNED", "REVERSED", "REFUNDED"])
async def test_a_payout_that_comes_back_after_it_was_paid_is_refunded_to_earnings(paypal_deployment, paypal_fake, status):
    artist = await earnings(paypal_deployment)
    paid = await withdrawal_to(paypal_deployment, artist)
    assert paid.status == "succeeded" and balance(paypal_deployment, artist, "earnings") == 1500
    paypal_fake.set_item_status(only_item(paypal_fake)["payout_item_id"], status)
    back = await refresh_withdrawal(paypal_deployment, paid.id)
    assert back.status == "refunded" and status.lower() in back.error
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (2000, 0)
    assert (await refresh_withdrawal(paypal_deployment, paid.id)).status == "refunded"
    assert balance(paypal_deployment, artist, "earnings") == 2000  # once
    ledger_holds(paypal_deployment)


async def test_a_withdrawal_without_a_paypal_address_fails_and_nothing_is_sent(paypal_deployment, paypal_fake):
    artist = await earnings(paypal_deployment)
    failed = await withdraw(paypal_deployment, artist, money("5.00"), "paypal", key="w")  # withdraw() gives no address yet
    assert failed.status == "failed" and "no PayPal address" in failed.error
    assert paypal_fake.calls["create_payout"] == 0 and paypal_fake.batches == {}
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (2000, 0)
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize("forgotten", [False, True], ids=["request-id-replayed", "found-by-sender-batch-id"])
async def test_a_payout_whose_answer_was_lost_is_found_by_the_janitor_and_paid_once(paypal_deployment, paypal_fake, forgotten):
    artist = await earnings(paypal_deployment)
    paypal_fake.fail_next("create_payout", after=True)  # PayPal made the batch; we heard a 500
    lost = await withdrawal_to(paypal_deployment, artist)
    assert (lost.status, lost.rail_reference) == ("unknown", None) and len(paypal_fake.batches) == 1
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (1500, 500)
    if forgotten:  # days later: PayPal no longer replays the request id, only the sender_batch_id stands
        paypal_fake.forget_request_ids()

    report = await sync(paypal_deployment)
    assert report.withdrawals == {"succeeded": 1} and report.errors == []
    (batch_id,) = paypal_fake.batches  # paid once
    assert row_of(paypal_deployment, withdrawals, lost.id).rail_reference == f"{batch_id}:paid"
    assert (balance(paypal_deployment, artist, "earnings"), balance(paypal_deployment, artist, "payout")) == (1500, 0)
    ledger_holds(paypal_deployment)


@pytest.mark.parametrize(("days", "made"), [(2, True), (29, False), (45, False)])
async def test_past_paypals_window_a_payout_without_a_reference_is_unknown_and_never_sent_again(
    paypal_fake, secrets_file, days, made
):
    options = {"base_url": paypal_fake.url, "currencies": ["EUR"], "secrets_file": str(secrets_file)}
    rail = PayPalRail("paypal", options)
    request = PayoutRequest("withdrawal:3", "artist", Decimal("5.00"), "EUR", CREATOR, age=timedelta(days=days))
    try:
        outcome = await rail.payout_state(request, None)
    finally:
        await rail.close()
    if made:
        assert outcome.state == PaymentState.SUCCEEDED and len(paypal_fake.batches) == 1
    else:
        assert outcome.state == PaymentState.UNKNOWN and "withdrawal:3" in outcome.error
        assert paypal_fake.calls["create_payout"] == 0


async def test_a_batch_under_our_id_paying_someone_else_is_refused_not_taken_as_ours(rail, paypal_fake):
    await rail.start_payout(PayoutRequest("withdrawal:4", "artist", Decimal("5.00"), "EUR", "someone@example.com"))
    paypal_fake.forget_request_ids()  # another deployment's withdrawal:4, within the 30 days
    with pytest.raises(RailRefused, match="another deployment"):
        await rail.payout_state(PayoutRequest("withdrawal:4", "artist", Decimal("5.00"), "EUR", CREATOR), None)
    assert len(paypal_fake.batches) == 1


# --- webhooks ---------------------------------------------------------------------------------


async def test_a_signed_capture_completed_applies_once_and_a_tampered_one_is_refused(client, paypal_deployment, paypal_fake):
    fan = member(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan.id)
    paypal_fake.approve(pending.rail_reference)
    paypal_fake.fail_next("capture", after=True)  # captured at PayPal, the answer lost
    assert (await refresh_top_up(paypal_deployment, pending.id)).status == "unknown"
    (capture_id,) = paypal_fake.captures
    headers, body = paypal_fake.sign_event(WEBHOOK_ID, paypal_fake.event("PAYMENT.CAPTURE.COMPLETED", capture_id))

    tampered = body.replace(b'"value": "10.00"', b'"value": "1000.00"', 1)
    assert tampered != body
    forged = await client.post(HOOK, data=tampered, headers=headers)
    assert forged.status == 400 and (await forged.json())["type"].endswith("webhook_refused")
    unsigned = await client.post(HOOK, data=body, headers={"Content-Type": "application/json"})
    assert unsigned.status == 400 and (await unsigned.json())["type"].endswith("webhook_refused")
    assert balance(paypal_deployment, fan.id, "wallet") == 0

    applied = await client.post(HOOK, data=body, headers=headers)
    assert (applied.status, (await applied.json())["result"]) == (200, "applied")
    assert balance(paypal_deployment, fan.id, "wallet") == 1000 and len(paypal_fake.captures) == 1
    replayed = await client.post(HOOK, data=body, headers=headers)  # PayPal delivers it again
    assert (replayed.status, (await replayed.json())["result"]) == (200, "duplicate")
    assert balance(paypal_deployment, fan.id, "wallet") == 1000
    ledger_holds(paypal_deployment)


async def test_paypal_delivers_order_approved_and_the_top_up_is_captured(client, paypal_deployment, paypal_fake):
    fan = register_participant(paypal_deployment, "fan")
    pending = await pending_top_up(paypal_deployment, fan)
    paypal_fake.approve(pending.rail_reference)
    url = str(client.make_url(HOOK))
    status, _, _ = await paypal_fake.send_webhook(url, WEBHOOK_ID, "CHECKOUT.ORDER.APPROVED", resource_id=pending.rail_reference)
    assert status == 200
    assert row_of(paypal_deployment, top_ups, pending.id).status == "succeeded"
    assert balance(paypal_deployment, fan, "wallet") == 1000 and len(paypal_fake.captures) == 1
    ledger_holds(paypal_deployment)


async def test_payout_item_webhooks_ask_about_the_withdrawal(paypal_deployment, paypal_fake):
    artist = await earnings(paypal_deployment)
    waiting = await withdrawal_to(paypal_deployment, artist, destination="unclaimed@example.com")
    item = only_item(paypal_fake)
    paypal_fake.set_item_status(item["payout_item_id"], "RETURNED")
    headers, body = paypal_fake.sign_event(WEBHOOK_ID, paypal_fake.event("PAYMENT.PAYOUTS-ITEM.RETURNED", item["payout_item_id"]))
    assert await receive(paypal_deployment, "paypal", body, headers) == "applied"
    assert row_of(paypal_deployment, withdrawals, waiting.id).status == "failed"
    assert balance(paypal_deployment, artist, "earnings") == 2000
    ledger_holds(paypal_deployment)


async def test_events_name_the_payment_they_are_news_of(rail, paypal_fake):
    request = top_up_request("top_up:7")
    order = await rail.start_top_up(request)
    paypal_fake.approve(order.reference)
    await rail.top_up_state(request, order.reference)
    (capture_id,) = paypal_fake.captures
    refunded = await rail.refund(RefundRequest("refund:1", order.reference, Decimal("10.00"), "EUR"))
    payout = await rail.start_payout(PayoutRequest("withdrawal:5", "artist", Decimal("5.00"), "EUR", CREATOR))
    batch_id = payout.reference.removesuffix(":paid")
    item_id = only_item(paypal_fake)["payout_item_id"]

    async def parsed(event_type: str, resource_id: str | None = None, resource: dict[str, Any] | None = None):
        headers, body = paypal_fake.sign_event(WEBHOOK_ID, paypal_fake.event(event_type, resource_id, resource))
        return await rail.parse_webhook(body, headers)

    approved = await parsed("CHECKOUT.ORDER.APPROVED", order.reference)
    assert (approved.subject, approved.operation, approved.reference) == ("top_up", "top_up:7", order.reference)
    for event_type in ("PAYMENT.CAPTURE.COMPLETED", "PAYMENT.CAPTURE.DENIED", "PAYMENT.CAPTURE.REVERSED"):
        news = await parsed(event_type, capture_id)
        assert (news.type, news.subject, news.operation, news.reference) == (event_type, "top_up", "top_up:7", order.reference)
    refund_news = await parsed("PAYMENT.CAPTURE.REFUNDED", refunded.reference)  # the resource is the refund: its capture is asked
    assert (refund_news.subject, refund_news.operation, refund_news.reference) == ("top_up", "top_up:7", order.reference)
    item_news = await parsed("PAYMENT.PAYOUTS-ITEM.SUCCEEDED", item_id)
    assert (item_news.subject, item_news.operation, item_news.reference) == ("payout", "withdrawal:5", batch_id)
    batch_news = await parsed("PAYMENT.PAYOUTSBATCH.SUCCESS", batch_id)
    assert (batch_news.subject, batch_news.operation, batch_news.reference) == ("payout", "withdrawal:5", batch_id)
    dispute = {"dispute_id": "PP-D-1", "disputed_transactions": [{"seller_transaction_id": capture_id}], "status": "OPEN"}
    dispute_news = await parsed("CUSTOMER.DISPUTE.CREATED", resource=dispute)
    assert (dispute_news.subject, dispute_news.operation, dispute_news.reference) == ("top_up", "top_up:7", order.reference)
    assert await parsed("BILLING.SUBSCRIPTION.CREATED", resource={"id": "I-1"}) is None
    assert approved.id != item_news.id and approved.id.startswith("WH-")


async def test_a_webhook_is_refused_without_its_headers_another_webhook_id_or_a_configured_id(rail, paypal_fake, tmp_path):
    headers, body = paypal_fake.sign_event(WEBHOOK_ID, paypal_fake.event("CHECKOUT.ORDER.APPROVED", resource={"id": "O1"}))
    lacking = {key: value for key, value in headers.items() if key != "PAYPAL-TRANSMISSION-SIG"}
    with pytest.raises(WebhookRefused):
        await rail.parse_webhook(body, lacking)
    assert paypal_fake.calls["verify_webhook"] == 0  # not even asked
    elsewhere, other_body = paypal_fake.sign_event(
        "WH-ANOTHER", paypal_fake.event("CHECKOUT.ORDER.APPROVED", resource={"id": "O1"})
    )
    with pytest.raises(WebhookRefused, match="does not vouch"):
        await rail.parse_webhook(other_body, elsewhere)

    unconfigured = write_secrets(tmp_path / "no-webhook.toml", paypal_fake.client_id, paypal_fake.secret, webhook_id=None)
    blind = PayPalRail("paypal", {"base_url": paypal_fake.url, "secrets_file": str(unconfigured)})
    with pytest.raises(WebhookRefused, match="PAYPAL_WEBHOOK_ID"):
        await blind.parse_webhook(body, headers)
    await blind.close()


async def test_a_webhook_paypal_cannot_check_now_is_unknown_so_paypal_sends_it_again(rail, paypal_fake):
    headers, body = paypal_fake.sign_event(WEBHOOK_ID, paypal_fake.event("CHECKOUT.ORDER.APPROVED", resource={"id": "O1"}))
    paypal_fake.fail_next("verify_webhook", status=503)
    with pytest.raises(RailUnavailable):
        await rail.parse_webhook(body, headers)
    assert (await rail.parse_webhook(body, headers)).reference == "O1"


# --- options and credentials ------------------------------------------------------------------


def build(options: dict[str, Any]) -> PayPalRail:
    built = load_rails({"paypal": options})["paypal"]
    assert isinstance(built, PayPalRail)
    return built


async def test_credentials_from_the_environment(paypal_fake, monkeypatch):
    monkeypatch.setenv("PAYPAL_CLIENT_ID", paypal_fake.client_id)
    monkeypatch.setenv("PAYPAL_SECRET", paypal_fake.secret)
    monkeypatch.setenv("PAYPAL_WEBHOOK_ID", WEBHOOK_ID)
    rail = build({"base_url": paypal_fake.url, "currencies": ["EUR"]})
    try:
        assert (rail.client_id, rail.webhook_id) == (paypal_fake.client_id, WEBHOOK_ID)
        assert (await rail.start_top_up(top_up_request())).state == PaymentState.REQUIRES_ACTION
    finally:
        await rail.close()


async def test_credentials_from_the_secrets_file_before_the_environment(paypal_fake, secrets_file, monkeypatch):
    monkeypatch.setenv("PAYPAL_SECRET", "a-stale-secret-in-the-shell")
    rail = build({"base_url": paypal_fake.url, "currencies": ["EUR"], "secrets_file": str(secrets_file)})
    try:
        assert (await rail.start_top_up(top_up_request())).state == PaymentState.REQUIRES_ACTION
    finally:
        await rail.close()


@pytest.mark.parametrize("option", ["secret", "client_id", "webhook_id"])
def test_credentials_in_the_deployment_file_are_refused_with_where_they_belong(paypal_fake, secrets_file, option):
    data = paypal_config(paypal_fake, secrets_file, **{option: "sk-live-in-the-repository"})
    with pytest.raises(ConfigError) as refused:
        settings_from_dict(data, database_url="sqlite://")
    message = str(refused.value)
    assert f"rails.paypal.{option}: " in message and "environment" in message and "secrets_file" in message
    assert "sk-live-in-the-repository" not in message


def test_missing_or_unreadable_credentials_stop_the_build(paypal_fake, tmp_path):
    with pytest.raises(ConfigError, match="no PAYPAL_CLIENT_ID"):
        build({"base_url": paypal_fake.url})
    with pytest.raises(ConfigError, match="cannot read"):
        build({"secrets_file": str(tmp_path / "missing.toml")})
    broken = tmp_path / "broken.toml"
    broken.write_text('PAYPAL_SECRET = "s3cr3t-value\n')
    with pytest.raises(ConfigError, match="is not TOML") as not_toml:
        build({"secrets_file": str(broken)})
    assert "s3cr3t-value" not in str(not_toml.value)
    lowercase = tmp_path / "lowercase.toml"
    lowercase.write_text('client_id = "id"\nsecret = "s3cr3t-value"\n')
    with pytest.raises(ConfigError, match="'client_id'") as unknown:
        build({"secrets_file": str(lowercase)})
    assert "s3cr3t-value" not in str(unknown.value)


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"base_url": "http://api-m.paypal.com"}, "https"),
        ({"base_url": "ftp://paypal"}, "https address"),
        ({"timeout": 0}, "timeout"),
        ({"timeout": "30"}, "timeout"),
        ({"brand_name": ""}, "brand_name"),
        ({"brand_name": "x" * 128}, "brand_name"),
        ({"currencies": "EUR"}, "currencies"),
        ({"landing_page": "LOGIN"}, "unknown option"),
    ],
)
def test_wrong_options_stop_the_build(secrets_file, options, words):
    with pytest.raises(ConfigError, match=words):
        build({"secrets_file": str(secrets_file), **options})


def test_the_defaults_and_the_currencies_paypal_takes(secrets_file):
    live = build({"secrets_file": str(secrets_file), "currencies": ["EUR", "HUF", "KWD", "LETS"]})
    assert live.base_url == "https://api-m.paypal.com" and live.timeout == 30.0
    assert live.takes("EUR") and live.pays("HUF") and not live.takes("KWD") and not live.pays("LETS")  # PayPal lacks them
    every = build({"secrets_file": str(secrets_file), "base_url": "https://api-m.sandbox.paypal.com"})
    assert every.takes("JPY") and every.takes("TWD") and not every.takes("KWD")
    assert build({"secrets_file": str(secrets_file), "base_url": "http://localhost:8000", "timeout": 2.5}).timeout == 2.5


async def test_wrong_credentials_are_refused_not_unknown_and_the_secret_never_shows(paypal_fake, tmp_path):
    wrong = write_secrets(tmp_path / "wrong.toml", paypal_fake.client_id, "not-the-secret-x9")
    rail = build({"base_url": paypal_fake.url, "secrets_file": str(wrong)})
    try:
        with pytest.raises(RailRefused, match="refused the client id and secret") as refused:
            await rail.start_top_up(top_up_request())
    finally:
        await rail.close()
    assert "not-the-secret-x9" not in str(refused.value) and "not-the-secret-x9" not in repr(rail)


async def test_neither_the_secret_nor_a_token_shows_anywhere_in_a_whole_journey(paypal_deployment, paypal_fake, caplog):
    caplog.set_level(logging.DEBUG)
    paypal = paypal_deployment.rails["paypal"]
    fan = register_participant(paypal_deployment, "fan")
    operator = register_participant(paypal_deployment, "operator")
    pending = await pending_top_up(paypal_deployment, fan)
    paypal_fake.approve(pending.rail_reference)
    paypal_fake.fail_next("capture")
    unknown = await refresh_top_up(paypal_deployment, pending.id)
    done = await refresh_top_up(paypal_deployment, pending.id)
    refund = await refund_top_up(paypal_deployment, operator, pending.id, money("2.00"), key="r")
    artist = await earnings(paypal_deployment)
    paid = await withdrawal_to(paypal_deployment, artist)
    (capture_id,) = paypal_fake.captures
    headers, body = paypal_fake.sign_event(WEBHOOK_ID, paypal_fake.event("PAYMENT.CAPTURE.COMPLETED", capture_id))
    assert await receive(paypal_deployment, "paypal", body, headers) == "applied"
    paypal_fake.revoke_tokens()  # a token refused: renewed, and the new one must not show either
    assert (await refresh_withdrawal(paypal_deployment, paid.id)).status == "succeeded"
    assert (unknown.status, done.status, refund.status) == ("unknown", "succeeded", "succeeded")

    tokens = list(paypal_fake.tokens)
    assert paypal_fake.tokens_issued == 2 and tokens
    basic = base64.b64encode(f"{paypal_fake.client_id}:{paypal_fake.secret}".encode()).decode()
    rows = [row_of(paypal_deployment, top_ups, pending.id), row_of(paypal_deployment, withdrawals, paid.id)]
    texts = [caplog.text, repr(paypal), str(paypal), repr(vars(paypal)), *(repr(row) for row in rows)]
    assert any(record.name == "adapters.paypal" for record in caplog.records)  # the client did log its calls
    for text in texts:
        assert paypal_fake.secret not in text and basic not in text
        assert not any(token in text for token in tokens)


# --- event loops ------------------------------------------------------------------------------


@contextmanager
def fake_in_a_thread() -> Iterator[FakePayPal]:
    """The fake served by a loop of its own, so that a synchronous test can call it from loops it makes and ends."""
    from tests.fakes.paypal import FakePayPal  # imported here: pytest_plugins loads (and rewrites) it first

    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    fake = FakePayPal()
    asyncio.run_coroutine_threadsafe(fake.start(), loop).result(timeout=30)
    try:
        yield fake
    finally:
        asyncio.run_coroutine_threadsafe(fake.stop(), loop).result(timeout=30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=30)
        loop.close()


@pytest.mark.filterwarnings(
    "ignore::ResourceWarning"
)  # the first loop ends without closing the rail, as a careless caller's would
def test_the_rail_is_called_from_one_event_loop_after_another(tmp_path):
    with fake_in_a_thread() as fake:
        secrets = write_secrets(tmp_path / "paypal.toml", fake.client_id, fake.secret)
        rail = build({"base_url": fake.url, "currencies": ["EUR"], "secrets_file": str(secrets)})
        request = top_up_request()
        started = asyncio.run(rail.start_top_up(request))  # one command's loop, ended without closing the rail
        fake.approve(started.reference)

        async def then_close() -> Any:
            try:
                return await rail.top_up_state(request, started.reference)
            finally:
                await rail.close()

        done = asyncio.run(then_close())  # the next command's loop
        assert (started.state, done.state) == (PaymentState.REQUIRES_ACTION, PaymentState.SUCCEEDED)
        assert rail._clients == {} and len(fake.captures) == 1


async def test_a_creator_sets_a_paypal_address_and_withdraws_over_http(client, paypal_deployment, paypal_fake):
    from gateway.usecases.identity.tokens import create_access_token

    artist = await earnings(paypal_deployment)
    _, token = create_access_token(paypal_deployment, artist, "t", ["read", "money"])
    auth = {"Authorization": f"Bearer {token}"}
    put = await client.put(
        "/api/v1/me/payout-destinations/paypal", json={"destination": CREATOR, "password": PASSWORD}, headers=auth
    )
    assert put.status == 200, await put.text()
    answer = await client.post(
        "/api/v1/me/withdrawals",
        json={"amount": {"amount": "5.00", "currency": "EUR"}, "rail": "paypal"},
        headers={**auth, "Idempotency-Key": "w"},
    )
    assert answer.status == 201, await answer.text()
    assert (await answer.json())["status"] == "succeeded"
    assert only_item(paypal_fake)["payout_item"]["receiver"] == CREATOR
    assert balance(paypal_deployment, artist, "earnings") == 1500
    ledger_holds(paypal_deployment)
