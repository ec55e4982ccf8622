"""The PayPal client against the fake PayPal, over real HTTP on 127.0.0.1.

Tokens (cached, renewed before they expire and once on a 401), orders and
captures with PayPal's fee, replays by PayPal-Request-Id after a 500 or a
timeout (charged once), refunds, payouts with every item outcome, a reused
sender_batch_id, webhook verification, PayPal's minor units, and the secret
kept out of every repr, message and log line. No test waits on the clock: a
timeout is a call the fake holds until the test releases it.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import socket
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING

import aiohttp
import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from adapters.paypal import (
    ITEM_FAILED,
    ITEM_IN_FLIGHT,
    ITEM_STATUSES,
    ITEM_SUCCEEDED,
    PAYPAL_DECIMALS,
    PayoutLine,
    PayPalAmountError,
    PayPalAuthError,
    PayPalClient,
    PayPalDuplicateBatch,
    PayPalError,
    PayPalUnavailable,
    from_paypal,
    to_paypal,
)
from gateway.clock import FixedClock

if TYPE_CHECKING:
    from tests.fakes.paypal import FakePayPal

pytest_plugins = ["tests.fakes.paypal"]  # the paypal_fake fixture

START = datetime(2026, 11, 16, 9, 0, tzinfo=UTC)


@pytest.fixture
def client_clock() -> FixedClock:
    return FixedClock(START)


@pytest.fixture
async def client(paypal_fake: FakePayPal, client_clock: FixedClock):
    async with PayPalClient(paypal_fake.url, paypal_fake.client_id, paypal_fake.secret, clock=client_clock) as client:
        yield client


async def new_order(client: PayPalClient, operation: str = "op-1", amount: str = "10.00", currency: str = "EUR"):
    return await client.create_order(
        f"order-{operation}",
        Decimal(amount),
        currency,
        "https://flattr.example/top-ups/return",
        "https://flattr.example/top-ups/cancel",
        operation,
        "Flattr gateway",
        "en-US",
    )


async def approved_order(
    client: PayPalClient, fake: FakePayPal, operation: str = "op-1", amount: str = "10.00", currency: str = "EUR"
):
    order = await new_order(client, operation, amount, currency)
    fake.approve(order.id)
    return order


# --- minor units ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "text"),
    [
        ("10.5", "EUR", "10.50"),
        ("10", "EUR", "10.00"),
        ("0.01", "USD", "0.01"),
        ("1234567.89", "USD", "1234567.89"),
        ("10.500", "USD", "10.50"),
        ("1000", "JPY", "1000"),
        ("1E+3", "JPY", "1000"),
        ("1000.00", "JPY", "1000"),
        ("5000", "HUF", "5000"),
        ("10.00", "HUF", "10"),
        ("300", "TWD", "300"),
        ("0", "EUR", "0.00"),
    ],
)
def test_amounts_go_to_paypal_at_its_decimals_and_come_back(amount, currency, text):
    assert to_paypal(Decimal(amount), currency) == text
    back = from_paypal(text, currency)
    assert back == Decimal(amount) and isinstance(back, Decimal)
    assert str(back) == text  # at PayPal's number of decimals


@pytest.mark.parametrize(
    ("amount", "currency", "words"),
    [
        ("10.50", "HUF", "HUF"),
        ("1.5", "JPY", "no decimals"),
        ("0.1", "TWD", "no decimals"),
        ("10.505", "EUR", "at most 2 decimals"),
        ("-1.00", "EUR", "not an amount"),
        ("NaN", "EUR", "not an amount"),
        ("1.00", "XTS", "does not take"),
        ("1.00", "KWD", "does not take"),
    ],
)
def test_an_amount_paypal_cannot_take_is_refused_before_any_call(amount, currency, words):
    with pytest.raises(PayPalAmountError) as refused:
        to_paypal(Decimal(amount), currency)
    assert words in str(refused.value)
    assert refused.value.status is None  # nothing was sent


def test_huf_10_50_is_refused_with_a_clear_reason():
    with pytest.raises(PayPalAmountError, match=r"10\.50 HUF cannot be sent to PayPal: PayPal takes no decimals in HUF"):
        to_paypal(Decimal("10.50"), "HUF")


def test_floats_never_pass():
    with pytest.raises(PayPalAmountError, match="never float"):
        to_paypal(10.5, "EUR")  # type: ignore[arg-type]
    with pytest.raises(PayPalAmountError):
        from_paypal(10.5, "EUR")  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("text", "currency"),
    [("10.5.0", "EUR"), ("1e3", "EUR"), ("٣.٠٠", "EUR"), ("10.50", "HUF"), ("1.5", "JPY"), ("", "USD"), ("1.001", "USD")],
)
def test_an_amount_from_paypal_that_is_not_its_decimal_string_is_refused(text, currency):
    with pytest.raises(PayPalAmountError):
        from_paypal(text, currency)


def test_the_table_has_paypals_zero_decimal_currencies():
    assert {code for code, decimals in PAYPAL_DECIMALS.items() if decimals == 0} == {"HUF", "JPY", "TWD"}
    assert {"EUR", "USD", "GBP", "CHF", "SEK", "AUD", "CAD"} <= set(PAYPAL_DECIMALS)


# --- tokens -----------------------------------------------------------------------------------


async def test_the_token_is_cached_and_renewed_shortly_before_it_expires(client, paypal_fake, client_clock):
    order = await new_order(client)
    await client.get_order(order.id)
    await client.get_order(order.id)
    assert paypal_fake.tokens_issued == 1
    client_clock.set(START + timedelta(seconds=paypal_fake.token_lifetime) - timedelta(minutes=6))
    await client.get_order(order.id)
    assert paypal_fake.tokens_issued == 1
    client_clock.set(START + timedelta(seconds=paypal_fake.token_lifetime) - timedelta(minutes=4))  # within the margin
    await client.get_order(order.id)
    assert paypal_fake.tokens_issued == 2
    assert paypal_fake.calls["get_order"] == 4  # no call was refused on the way


async def test_a_401_renews_the_token_once_and_asks_again(client, paypal_fake):
    order = await new_order(client)
    paypal_fake.revoke_tokens()
    assert (await client.get_order(order.id)).id == order.id
    assert paypal_fake.tokens_issued == 2
    assert paypal_fake.calls["get_order"] == 2  # refused once, then answered


async def test_an_expired_token_on_a_v1_route_is_renewed_too(client, paypal_fake):
    await client.create_payout("batch-expiry", [PayoutLine("success@example.com", Decimal("1.00"), "EUR", "item-1")])
    paypal_fake.advance(timedelta(seconds=paypal_fake.token_lifetime))  # PayPal's clock: the token is dead
    batch = await client.create_or_find_payout(
        "batch-expiry", [PayoutLine("success@example.com", Decimal("1.00"), "EUR", "item-1")]
    )
    assert batch.sender_batch_id == "batch-expiry"
    assert paypal_fake.tokens_issued == 2


async def test_a_second_401_is_an_auth_error_not_a_loop(client, paypal_fake):
    order = await new_order(client)
    paypal_fake.fail_next("get_order", 2, status=401)
    with pytest.raises(PayPalAuthError):
        await client.get_order(order.id)
    assert paypal_fake.calls["get_order"] == 2
    assert paypal_fake.tokens_issued == 2


async def test_concurrent_calls_share_one_token_request(client, paypal_fake):
    order = await new_order(client)
    paypal_fake.revoke_tokens()
    client._token = None  # a cold client: every call needs a token at once
    orders = await asyncio.gather(*(client.get_order(order.id) for _ in range(10)))
    assert {found.id for found in orders} == {order.id}
    assert paypal_fake.tokens_issued == 2  # the first, and one for the ten


async def test_wrong_credentials_are_refused_without_showing_the_secret(paypal_fake):
    secret = "s3cr3t-never-shown"
    basic = base64.b64encode(f"{paypal_fake.client_id}:{secret}".encode()).decode()
    async with PayPalClient(paypal_fake.url, paypal_fake.client_id, secret) as client:
        with pytest.raises(PayPalAuthError) as refused:
            await client.get_order("O1")
    assert refused.value.status == 401 and refused.value.name == "invalid_client"
    for text in (str(refused.value), repr(refused.value), repr(client), repr(vars(client)), repr(refused.value.__cause__)):
        assert secret not in text and basic not in text


# --- orders and captures ----------------------------------------------------------------------


async def test_create_approve_capture_with_the_fee(client, paypal_fake):
    order = await new_order(client, "op-7")
    assert order.status == "CREATED" and order.custom_id == "op-7"
    assert (order.amount, order.currency) == (Decimal("10.00"), "EUR")
    assert order.approve_url is not None and order.approve_url.startswith(paypal_fake.url) and order.id in order.approve_url
    sent = paypal_fake.orders[order.id]
    assert sent["intent"] == "CAPTURE"
    assert sent["application_context"] == {
        "landing_page": "NO_PREFERENCE",
        "shipping_preference": "NO_SHIPPING",
        "user_action": "PAY_NOW",
        "return_url": "https://flattr.example/top-ups/return",
        "cancel_url": "https://flattr.example/top-ups/cancel",
        "brand_name": "Flattr gateway",
        "locale": "en-US",
    }

    # the buyer follows the approve link and comes back to our return URL
    async with aiohttp.ClientSession() as browser, browser.get(order.approve_url, allow_redirects=False) as response:
        assert response.status == 302
        assert response.headers["Location"].startswith(f"https://flattr.example/top-ups/return?token={order.id}&PayerID=")
    assert (await client.get_order(order.id)).status == "APPROVED"

    capture = await client.capture_order(order.id, "capture-op-7")
    assert capture.status == "COMPLETED"
    assert (capture.amount, capture.currency) == (Decimal("10.00"), "EUR")
    assert capture.fee == Decimal("0.74")  # 3.49 % of 10.00 and 0.39, at the fake's rates
    assert capture.net == Decimal("9.26")
    assert (capture.custom_id, capture.order_id, capture.order_status) == ("op-7", order.id, "COMPLETED")

    again = await client.get_capture(capture.id)
    assert (again.id, again.status, again.fee, again.order_id) == (capture.id, "COMPLETED", Decimal("0.74"), order.id)
    completed = await client.get_order(order.id)
    assert completed.status == "COMPLETED" and [found.id for found in completed.captures] == [capture.id]
    assert completed.approve_url is None


async def test_an_order_in_yen_has_no_decimals(client, paypal_fake):
    order = await approved_order(client, paypal_fake, "op-jpy", "500", "JPY")
    assert paypal_fake.orders[order.id]["purchase_units"][0]["amount"] == {"currency_code": "JPY", "value": "500"}
    capture = await client.capture_order(order.id, "capture-op-jpy")
    assert (capture.amount, capture.fee) == (Decimal(500), Decimal(57))  # 17.45 + 40, rounded half up


async def test_the_fake_refuses_a_decimal_forint_as_paypal_does(client, paypal_fake):
    """The client refuses 10.50 HUF itself; PayPal (here the fake) would refuse it too."""
    with pytest.raises(PayPalAmountError):
        await new_order(client, "op-huf", "10.50", "HUF")
    assert paypal_fake.calls["create_order"] == 0
    token = await client._access_token()
    body = {"intent": "CAPTURE", "purchase_units": [{"amount": {"currency_code": "HUF", "value": "10.50"}}]}
    headers = {"Authorization": f"Bearer {token.value.reveal()}"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{paypal_fake.url}/v2/checkout/orders", json=body, headers=headers) as response,
    ):
        answer = await response.json()
    assert response.status == 422 and answer["details"][0]["issue"] == "DECIMALS_NOT_SUPPORTED"


async def test_capture_before_approval_is_a_clear_refusal(client, paypal_fake):
    order = await new_order(client)
    with pytest.raises(PayPalError) as refused:
        await client.capture_order(order.id, "capture-op-1")
    error = refused.value
    assert not isinstance(error, PayPalUnavailable)  # refused: nothing happened, nothing is unknown
    assert (error.status, error.name, error.issue) == (422, "UNPROCESSABLE_ENTITY", "ORDER_NOT_APPROVED")
    assert error.debug_id and "ORDER_NOT_APPROVED" in str(error) and "capture order" in str(error)
    assert paypal_fake.captures == {}


async def test_a_second_capture_under_another_request_id_is_refused(client, paypal_fake):
    order = await approved_order(client, paypal_fake)
    await client.capture_order(order.id, "capture-op-1")
    with pytest.raises(PayPalError) as refused:
        await client.capture_order(order.id, "capture-op-1-other")
    assert refused.value.issue == "ORDER_ALREADY_CAPTURED"
    assert len(paypal_fake.captures) == 1


async def test_an_unknown_order_is_not_found(client):
    with pytest.raises(PayPalError) as refused:
        await client.get_order("NOSUCHORDER")
    assert (refused.value.status, refused.value.name, refused.value.issue) == (404, "RESOURCE_NOT_FOUND", "INVALID_RESOURCE_ID")


async def test_the_same_request_id_gives_the_same_order(client, paypal_fake):
    first = await new_order(client, "op-3")
    second = await new_order(client, "op-3")
    assert first.id == second.id and len(paypal_fake.orders) == 1
    paypal_fake.advance(timedelta(hours=6, seconds=1))  # PayPal keeps an order's request id 6 hours
    third = await new_order(client, "op-3")
    assert third.id != first.id


async def test_a_request_id_reused_for_another_operation_is_caught(client, paypal_fake):
    await new_order(client, "op-4")
    with pytest.raises(PayPalError) as refused:
        await client.create_order("order-op-4", Decimal("99.00"), "EUR", "https://r.example/", "https://c.example/", "op-5")
    assert refused.value.name == "REQUEST_ID_REUSED"


# --- replays after a 500 or a timeout ---------------------------------------------------------


@pytest.mark.parametrize("after", [False, True], ids=["500-before-the-work", "500-after-the-work"])
async def test_a_500_then_the_same_request_id_captures_once(client, paypal_fake, after):
    order = await approved_order(client, paypal_fake)
    paypal_fake.fail_next("capture", after=after)
    with pytest.raises(PayPalUnavailable) as unknown:
        await client.capture_order(order.id, "capture-op-1")
    assert unknown.value.status == 500 and unknown.value.name == "INTERNAL_SERVER_ERROR"
    assert len(paypal_fake.captures) == (1 if after else 0)
    capture = await client.capture_order(order.id, "capture-op-1")
    assert list(paypal_fake.captures) == [capture.id]  # charged once
    assert (await client.capture_order(order.id, "capture-op-1")).id == capture.id


async def test_a_500_on_create_order_then_the_same_request_id_makes_one_order(client, paypal_fake):
    paypal_fake.fail_next("create_order", after=True)
    with pytest.raises(PayPalUnavailable):
        await new_order(client, "op-9")
    order = await new_order(client, "op-9")
    assert list(paypal_fake.orders) == [order.id]


async def test_a_timeout_after_the_work_then_the_same_request_id_returns_the_same_capture(client, paypal_fake):
    order = await approved_order(client, paypal_fake)
    hang = paypal_fake.hang_next("capture", after=True)
    client.timeout = 0.2  # only this call: the fake holds it until released, so it always times out
    with pytest.raises(PayPalUnavailable) as unknown:
        await client.capture_order(order.id, "capture-op-1")
    client.timeout = 30.0
    assert unknown.value.name == "TIMEOUT" and unknown.value.status is None
    assert hang.arrived.is_set() and len(paypal_fake.captures) == 1  # PayPal did it; we were not told
    capture = await client.capture_order(order.id, "capture-op-1")  # the first call is still held: a replay
    hang.release()
    await hang.done.wait()
    assert list(paypal_fake.captures) == [capture.id]


async def test_a_timeout_before_the_work_then_the_same_request_id_captures_once(client, paypal_fake):
    order = await approved_order(client, paypal_fake)
    hang = paypal_fake.hang_next("capture")
    client.timeout = 0.2
    with pytest.raises(PayPalUnavailable) as unknown:
        await client.capture_order(order.id, "capture-op-1")
    client.timeout = 30.0
    assert unknown.value.name == "TIMEOUT" and paypal_fake.captures == {}
    with pytest.raises(PayPalUnavailable) as busy:  # PayPal still holds the first request
        await client.capture_order(order.id, "capture-op-1")
    assert busy.value.issue == "PREVIOUS_REQUEST_IN_PROGRESS"
    hang.release()
    await hang.done.wait()  # the first request is done now, though nobody heard its answer
    assert len(paypal_fake.captures) == 1
    capture = await client.capture_order(order.id, "capture-op-1")
    assert list(paypal_fake.captures) == [capture.id]


async def test_unreachable_paypal_is_unknown_not_failed(paypal_fake):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with PayPalClient(f"http://127.0.0.1:{port}", "id", "secret") as client:
        with pytest.raises(PayPalUnavailable) as unknown:
            await client.get_order("O1")
    assert unknown.value.name == "CONNECTION_ERROR"


@pytest.mark.parametrize("status", [502, 503, 429])
async def test_5xx_and_429_are_unknown(client, paypal_fake, status):
    order = await new_order(client)
    paypal_fake.fail_next("get_order", status=status)
    with pytest.raises(PayPalUnavailable) as unknown:
        await client.get_order(order.id)
    assert unknown.value.status == status


# --- refunds ----------------------------------------------------------------------------------


async def test_a_full_refund_once_by_its_request_id(client, paypal_fake):
    order = await approved_order(client, paypal_fake)
    capture = await client.capture_order(order.id, "capture-op-1")
    paypal_fake.fail_next("refund", after=True)
    with pytest.raises(PayPalUnavailable):
        await client.refund_capture(capture.id, "refund-op-1")
    refund = await client.refund_capture(capture.id, "refund-op-1")
    assert (refund.status, refund.amount, refund.currency, refund.capture_id) == (
        "COMPLETED",
        Decimal("10.00"),
        "EUR",
        capture.id,
    )
    assert refund.fee == Decimal("0.35")  # the percentage part of PayPal's fee comes back
    assert list(paypal_fake.refunds) == [refund.id]
    assert (await client.get_capture(capture.id)).status == "REFUNDED"
    assert (await client.get_refund(refund.id)).amount == Decimal("10.00")
    with pytest.raises(PayPalError) as refused:
        await client.refund_capture(capture.id, "refund-op-1-again")
    assert refused.value.issue == "CAPTURE_FULLY_REFUNDED"


async def test_a_partial_refund_and_one_too_many(client, paypal_fake):
    order = await approved_order(client, paypal_fake)
    capture = await client.capture_order(order.id, "capture-op-1")
    refund = await client.refund_capture(capture.id, "refund-part-1", Decimal("4"), "EUR")
    assert refund.amount == Decimal("4.00")
    assert (await client.get_capture(capture.id)).status == "PARTIALLY_REFUNDED"
    with pytest.raises(PayPalError) as refused:
        await client.refund_capture(capture.id, "refund-part-2", Decimal("6.01"), "EUR")
    assert refused.value.issue == "REFUND_AMOUNT_EXCEEDED"
    with pytest.raises(PayPalAmountError):
        await client.refund_capture(capture.id, "refund-part-3", Decimal("6.001"), "EUR")
    with pytest.raises(ValueError, match="currency"):
        await client.refund_capture(capture.id, "refund-part-4", Decimal("1.00"))
    await client.refund_capture(capture.id, "refund-part-5", Decimal("6.00"), "EUR")
    assert (await client.get_capture(capture.id)).status == "REFUNDED"


# --- payouts ----------------------------------------------------------------------------------

OUTCOMES = ["SUCCESS", "UNCLAIMED", "RETURNED", "FAILED", "PENDING", "ONHOLD", "BLOCKED", "DENIED", "REFUNDED", "REVERSED"]


async def test_payouts_with_each_item_outcome(client, paypal_fake):
    lines = [
        PayoutLine(f"{status.lower()}@example.com", Decimal("12.34"), "USD", f"item-{status.lower()}", "Your Flattr earnings")
        for status in OUTCOMES
    ] + [PayoutLine("creator@example.com", Decimal(1500), "JPY", "item-jpy")]
    created = await client.create_payout("batch-1", lines, email_subject="Your Flattr earnings")
    assert created.batch_status == "PENDING" and created.items == () and created.sender_batch_id == "batch-1"

    batch = await client.get_payout_batch(created.payout_batch_id, page_size=4)  # three pages
    assert batch.payout_batch_id == created.payout_batch_id and batch.batch_status == "PROCESSING"  # PENDING, ONHOLD left
    by_sender = {item.sender_item_id: item for item in batch.items}
    assert len(batch.items) == len(lines) == len(by_sender)
    for status in OUTCOMES:
        item = by_sender[f"item-{status.lower()}"]
        assert item.transaction_status == status
        assert (item.amount, item.currency, item.receiver) == (Decimal("12.34"), "USD", f"{status.lower()}@example.com")
        assert item.payout_batch_id == batch.payout_batch_id
        assert status in ITEM_STATUSES
        assert sum(status in kind for kind in (ITEM_SUCCEEDED, ITEM_FAILED, ITEM_IN_FLIGHT)) == 1
        alone = await client.get_payout_item(item.payout_item_id)
        assert (alone.transaction_status, alone.sender_item_id) == (status, item.sender_item_id)
    assert by_sender["item-success"].fee == Decimal("0.25") and by_sender["item-success"].transaction_id
    assert by_sender["item-failed"].fee == Decimal("0.00") and by_sender["item-failed"].error_name == "RECEIVER_ACCOUNT_LOCKED"
    assert by_sender["item-unclaimed"].error_name == "RECEIVER_UNREGISTERED"
    assert (by_sender["item-jpy"].amount, by_sender["item-jpy"].transaction_status) == (Decimal(1500), "SUCCESS")
    assert paypal_fake.batches[batch.payout_batch_id]["sender_batch_header"]["sender_batch_id"] == "batch-1"

    # thirty days on, the unclaimed payment comes back
    unclaimed = by_sender["item-unclaimed"].payout_item_id
    async with aiohttp.ClientSession() as session:
        async with session.post(
            f"{paypal_fake.url}/_test/payouts-item/{unclaimed}/status", json={"transaction_status": "RETURNED"}
        ) as answer:
            assert answer.status == 200
    assert (await client.get_payout_item(unclaimed)).transaction_status == "RETURNED"


async def test_a_reused_sender_batch_id_is_refused_and_the_original_found(client, paypal_fake):
    line = [PayoutLine("creator@example.com", Decimal("5.00"), "EUR", "item-1")]
    first = await client.create_payout("batch-7", line)
    replay = await client.create_payout("batch-7", line)  # the same PayPal-Request-Id: PayPal answers as before
    assert replay.payout_batch_id == first.payout_batch_id and len(paypal_fake.batches) == 1

    paypal_fake.forget_request_ids()  # now only the sender_batch_id stands between us and a second payment
    with pytest.raises(PayPalDuplicateBatch) as refused:
        await client.create_payout("batch-7", line)
    duplicate = refused.value
    assert (duplicate.status, duplicate.name) == (400, "USER_BUSINESS_ERROR")
    assert (duplicate.sender_batch_id, duplicate.payout_batch_id) == ("batch-7", first.payout_batch_id)
    assert "batch-7" in str(duplicate)

    found = await client.create_or_find_payout("batch-7", line)
    assert found.payout_batch_id == first.payout_batch_id and [item.sender_item_id for item in found.items] == ["item-1"]
    assert len(paypal_fake.batches) == 1 and len(paypal_fake.payout_items) == 1


async def test_a_payout_after_a_500_or_a_timeout_is_made_once(client, paypal_fake):
    line = [PayoutLine("creator@example.com", Decimal("5.00"), "EUR", "item-1")]
    paypal_fake.fail_next("create_payout", after=True)
    with pytest.raises(PayPalUnavailable):
        await client.create_payout("batch-8", line)
    batch = await client.create_payout("batch-8", line)
    assert list(paypal_fake.batches) == [batch.payout_batch_id]

    hang = paypal_fake.hang_next("create_payout", after=True)
    client.timeout = 0.2
    with pytest.raises(PayPalUnavailable):
        await client.create_payout("batch-9", line)
    client.timeout = 30.0
    hang.release()
    await hang.done.wait()
    paypal_fake.forget_request_ids()  # the janitor asks days later: only the sender_batch_id is left
    found = await client.create_or_find_payout("batch-9", line)
    assert found.sender_batch_id == "batch-9" and len(paypal_fake.batches) == 2


async def test_the_fake_answers_a_reused_sender_batch_id_as_documented(client, paypal_fake):
    await client.create_payout("batch-10", [PayoutLine("creator@example.com", Decimal("5.00"), "EUR", "item-1")])
    token = await client._access_token()
    body = {
        "sender_batch_header": {"sender_batch_id": "batch-10"},
        "items": [{"recipient_type": "EMAIL", "receiver": "x@example.com", "amount": {"currency": "EUR", "value": "1.00"}}],
    }
    headers = {"Authorization": f"Bearer {token.value.reveal()}", "PayPal-Request-Id": "another-id"}
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{paypal_fake.url}/v1/payments/payouts", json=body, headers=headers) as response,
    ):
        answer = await response.json()
    assert response.status == 400 and answer["name"] == "USER_BUSINESS_ERROR" and answer["debug_id"]
    (detail,) = answer["details"]
    assert (detail["field"], detail["issue"]) == ("SENDER_BATCH_ID", "Batch with given sender_batch_id already exists")
    assert detail["link"][0]["href"].startswith(f"{paypal_fake.url}/v1/payments/payouts/")


async def test_a_payout_in_forint_with_fillér_is_refused_before_sending(client, paypal_fake):
    with pytest.raises(PayPalAmountError, match="HUF"):
        await client.create_payout("batch-huf", [PayoutLine("creator@example.com", Decimal("10.50"), "HUF", "item-1")])
    assert paypal_fake.calls["create_payout"] == 0


# --- webhooks ---------------------------------------------------------------------------------


@pytest.fixture
async def receiver():
    """A webhook endpoint of ours on 127.0.0.1: keeps each request's headers and raw body."""
    received: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append((dict(request.headers), await request.read()))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/paypal/webhook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    try:
        yield str(server.make_url("/paypal/webhook")), received
    finally:
        await server.close()


async def test_a_webhook_the_fake_sent_verifies_and_a_tampered_one_does_not(client, paypal_fake, receiver):
    url, received = receiver
    order = await approved_order(client, paypal_fake)
    capture = await client.capture_order(order.id, "capture-op-1")
    status, event, _ = await paypal_fake.send_webhook(url, "WH1", "PAYMENT.CAPTURE.COMPLETED", resource_id=capture.id)
    assert status == 200 and event["resource"]["id"] == capture.id
    ((headers, body),) = received

    assert await client.verify_webhook_signature("WH1", headers, body) is True
    assert (
        await client.verify_webhook_signature("WH1", {key.lower(): value for key, value in headers.items()}, body.decode())
        is True
    )
    assert await client.verify_webhook_signature("WH2", headers, body) is False  # another webhook's
    tampered = body.replace(b'"value": "10.00"', b'"value": "1000.00"')
    assert tampered != body
    assert await client.verify_webhook_signature("WH1", headers, tampered) is False
    forged = {**headers, "PAYPAL-TRANSMISSION-SIG": base64.b64encode(b"forged").decode()}
    assert await client.verify_webhook_signature("WH1", forged, body) is False
    assert paypal_fake.calls["verify_webhook"] == 5


async def test_a_webhook_without_its_headers_or_a_json_body_is_not_asked_about(client, paypal_fake, receiver):
    url, received = receiver
    await paypal_fake.send_webhook(url, "WH1", "CHECKOUT.ORDER.APPROVED", resource={"id": "O1", "status": "APPROVED"})
    ((headers, body),) = received
    lacking = {key: value for key, value in headers.items() if key.upper() != "PAYPAL-TRANSMISSION-SIG"}
    assert await client.verify_webhook_signature("WH1", lacking, body) is False
    assert await client.verify_webhook_signature("WH1", headers, b"not json") is False
    assert await client.verify_webhook_signature("WH1", headers, b"[1, 2]") is False
    assert paypal_fake.calls["verify_webhook"] == 0


async def test_webhooks_through_the_fakes_test_endpoint(client, paypal_fake, receiver):
    url, received = receiver
    created = await client.create_payout("batch-wh", [PayoutLine("unclaimed@example.com", Decimal("3.00"), "EUR", "item-1")])
    item_id = (await client.get_payout_batch(created.payout_batch_id)).items[0].payout_item_id
    request = {"url": url, "webhook_id": "WH9", "event_type": "PAYMENT.PAYOUTS-ITEM.UNCLAIMED", "resource_id": item_id}
    async with aiohttp.ClientSession() as session, session.post(f"{paypal_fake.url}/_test/webhooks", json=request) as response:
        answer = await response.json()
    assert answer["delivery_status"] == 200 and answer["event"]["resource_type"] == "payouts_item"
    ((headers, body),) = received
    assert await client.verify_webhook_signature("WH9", headers, body) is True


# --- secrets ----------------------------------------------------------------------------------


async def test_the_secret_and_tokens_stay_out_of_repr_errors_and_logs(client, paypal_fake, caplog):
    caplog.set_level(logging.DEBUG, logger="adapters.paypal")
    order = await new_order(client)
    with pytest.raises(PayPalError) as refused:
        await client.capture_order(order.id, "capture-op-1")
    paypal_fake.fail_next("get_order")
    with pytest.raises(PayPalUnavailable) as unknown:
        await client.get_order(order.id)
    tokens = list(paypal_fake.tokens)
    basic = base64.b64encode(f"{paypal_fake.client_id}:{paypal_fake.secret}".encode()).decode()
    texts = [
        repr(client),
        str(client),
        repr(vars(client)),
        str(refused.value),
        repr(refused.value),
        str(unknown.value),
        caplog.text,
    ]
    assert caplog.records  # the client does log its calls
    for text in texts:
        assert paypal_fake.secret not in text and basic not in text
        assert not any(token in text for token in tokens)
    assert repr(client) == f"PayPalClient(base_url={paypal_fake.url!r}, client_id={paypal_fake.client_id!r})"
