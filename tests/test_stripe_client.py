"""The Stripe wrapper (adapters.stripe) with the real SDK over real HTTP: localstripe for payments, the fake for Connect.

The SDK talks to the fake (tests/fakes/stripe_connect.py), which answers
Connect, transfers and disputes itself and forwards the rest to localstripe
(tests/fakes/localstripe.py), both on 127.0.0.1. Webhooks are delivered when
a test asks (``deliver_webhooks``), so no test waits on a clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from decimal import Decimal

import aiohttp
import pytest
import stripe
from aiohttp import web

from adapters.stripe import (
    StripeAmountRefused,
    StripeApi,
    StripeIdempotencyConflict,
    StripeNotFound,
    StripeRequestRefused,
    StripeSignatureInvalid,
    StripeUnavailable,
    from_stripe,
    to_stripe_charge,
    to_stripe_payout,
    verify_webhook,
)
from adapters.stripe.client import payment_outcome, translate
from gateway.errors import ConfigError
from tests.fakes.localstripe import API_KEY
from tests.fakes.stripe_connect import StripeStack, card, sign

pytest_plugins = ("tests.fakes.stripe_connect",)  # the fixtures stripe_stack and stripe_fake

VISA = "4242424242424242"
THREE_D_SECURE = "4000002500003155"
DECLINED = "4000000000000002"
INSUFFICIENT_FUNDS = "4000000000009995"


@pytest.fixture
async def api(stripe_stack: StripeStack) -> AsyncIterator[StripeApi]:
    async with StripeApi(API_KEY, api_base=stripe_stack.url, max_network_retries=0, timeout=10) as client:
        yield client


@dataclass
class Receiver:
    """A webhook endpoint of ours on 127.0.0.1: what it received, as (body, Stripe-Signature)."""

    url: str
    received: list[tuple[bytes, str | None]] = field(default_factory=list)


@contextlib.asynccontextmanager
async def webhook_receiver() -> AsyncIterator[Receiver]:
    receiver = Receiver(url="")

    async def hook(request: web.Request) -> web.Response:
        receiver.received.append((await request.read(), request.headers.get("Stripe-Signature")))
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/stripe", hook)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    receiver.url = f"http://{host}:{port}/stripe"
    try:
        yield receiver
    finally:
        await runner.cleanup()


async def onboarded_account(api: StripeApi, stack: StripeStack, key: str = "acct-op-1") -> str:
    account = await api.create_express_account(key=key, country="FR", email="creator@example.org")
    stack.fake.onboard(account.account_id)
    return account.account_id


async def fake_post(stack: StripeStack, path: str, data: dict[str, str]) -> dict[str, object]:
    async with stack.localstripe.session.post(stack.url + path, data=data) as response:
        assert response.status == 200, await response.text()
        answer: dict[str, object] = await response.json()
        return answer


# Minor units, by Stripe's table


@pytest.mark.parametrize(
    ("amount", "currency", "charge", "payout"),
    [
        ("2.25", "EUR", 225, 225),
        ("10", "USD", 1000, 1000),
        ("0.01", "usd", 1, 1),
        ("500", "JPY", 500, 500),
        ("10.45", "HUF", 1045, None),  # two-decimal for charges, whole forints for payouts
        ("10", "HUF", 1000, 1000),
        ("99.90", "TWD", 9990, None),
        ("100", "TWD", 10000, 10000),
        ("5", "ISK", 500, 500),  # two-decimal in the API, whole krónur only
        ("5.120", "KWD", 5120, 5120),
        ("1500", "UGX", 150000, 150000),  # likewise, though Stripe's zero-decimal list names it too
    ],
)
def test_minor_units_both_ways(amount, currency, charge, payout):
    assert to_stripe_charge(Decimal(amount), currency) == charge
    assert from_stripe(charge, currency) == Decimal(amount)
    if payout is None:
        with pytest.raises(StripeAmountRefused, match="pays out whole"):
            to_stripe_payout(Decimal(amount), currency)
    else:
        assert to_stripe_payout(Decimal(amount), currency) == payout
        assert from_stripe(payout, currency) == Decimal(amount)


def test_back_from_stripe_is_exact_with_the_currencys_places():
    assert str(from_stripe(1045, "HUF")) == "10.45"
    assert str(from_stripe(500, "JPY")) == "500"
    assert str(from_stripe(5120, "KWD")) == "5.120"
    assert str(from_stripe(0, "EUR")) == "0.00"


@pytest.mark.parametrize(
    ("amount", "currency", "why"),
    [
        ("2.255", "EUR", "to 2 decimal"),
        ("500.5", "JPY", "to 0 decimal"),
        ("5.50", "ISK", "whole ISK only"),
        ("1500.50", "UGX", "whole UGX only"),
        ("5.125", "KWD", "third digit must be 0"),
        ("0", "EUR", "positive"),
        ("-1", "EUR", "positive"),
        ("NaN", "EUR", "not an amount"),
        ("1", "EURO", "not a currency code"),
        ("1e20", "EUR", "larger than any amount"),
    ],
)
def test_what_stripe_cannot_take_is_refused_never_rounded(amount, currency, why):
    with pytest.raises(StripeAmountRefused, match=why) as refused:
        to_stripe_charge(Decimal(amount), currency)
    assert refused.value.code == "amount_not_accepted_by_stripe"


def test_a_float_is_no_amount():
    with pytest.raises(TypeError, match="never a float"):
        to_stripe_charge(2.25, "EUR")  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        from_stripe(2.0, "EUR")  # type: ignore[arg-type]


# Mapping, without a server


def intent(status: str, **fields: object) -> dict[str, object]:
    return {"id": "pi_1", "object": "payment_intent", "amount": 1045, "currency": "huf", "status": status, **fields}


@pytest.mark.parametrize(
    ("status", "state"),
    [
        ("requires_payment_method", "created"),
        ("requires_confirmation", "created"),
        ("requires_action", "requires_action"),
        ("processing", "processing"),
        ("requires_capture", "processing"),
        ("succeeded", "succeeded"),
        ("canceled", "failed"),
        ("a_status_of_2030", "processing"),
    ],
)
def test_each_status_of_stripe_has_one_state_of_ours(status, state):
    outcome = payment_outcome(intent(status, client_secret="pi_1_secret_x", metadata={"operation": "op-1"}))
    assert outcome.state == state
    assert (outcome.intent_id, outcome.amount, outcome.currency, outcome.operation) == ("pi_1", Decimal("10.45"), "HUF", "op-1")
    assert "secret" not in repr(outcome)


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (
            {"code": "card_declined", "decline_code": "insufficient_funds"},
            "insufficient_funds",
            "the card has insufficient funds",
        ),
        ({"code": "expired_card", "decline_code": "expired_card"}, "expired_card", "the card has expired"),
        ({"code": "card_declined", "decline_code": "stolen_card"}, "stolen_card", "the card was declined"),
        ({"code": "card_declined"}, "card_declined", "the card was declined"),
        ({"code": "something_new"}, "something_new", "the payment was declined"),
    ],
)
def test_a_decline_is_a_failure_with_a_clear_message(error, code, message):
    outcome = payment_outcome(intent("requires_payment_method", last_payment_error={**error, "message": "raw text"}))
    assert (outcome.state, outcome.failure_code, outcome.failure) == ("failed", code, message)


def test_the_fee_comes_from_the_balance_transaction_when_expanded():
    expanded = {"id": "ch_1", "balance_transaction": {"id": "txn_1", "fee": 59, "currency": "eur"}}
    outcome = payment_outcome(intent("succeeded", latest_charge=expanded))
    assert (outcome.charge_id, outcome.fee, outcome.fee_currency) == ("ch_1", Decimal("0.59"), "EUR")
    bare = payment_outcome(intent("succeeded", latest_charge="ch_1"))
    assert (bare.charge_id, bare.fee, bare.fee_currency) == ("ch_1", None, None)


@pytest.mark.parametrize(
    ("error", "kind"),
    [
        (stripe.APIConnectionError("connection reset"), StripeUnavailable),
        (stripe.APIError("boom", http_status=500), StripeUnavailable),
        (stripe.APIError("boom", http_status=503), StripeUnavailable),
        (stripe.APIError("same key in flight", http_status=409), StripeUnavailable),
        (stripe.RateLimitError("slow down", http_status=429), StripeUnavailable),
        (stripe.IdempotencyError("other parameters", http_status=400), StripeIdempotencyConflict),
        (stripe.InvalidRequestError("No such transfer", "id", code="resource_missing", http_status=404), StripeNotFound),
        (stripe.InvalidRequestError("Invalid currency", "currency", http_status=400), StripeRequestRefused),
        (stripe.AuthenticationError("Invalid API Key provided: sk_test_****cret", http_status=401), StripeRequestRefused),
    ],
)
def test_sdk_errors_become_unknown_or_refused(error, kind):
    translated = translate(error)
    assert type(translated) is kind
    assert "sk_" not in str(translated)


def test_the_secret_key_is_never_shown():
    secret = "sk_test_" + "s3cr3t" * 5
    api = StripeApi(secret, api_base="http://127.0.0.1:9")
    assert "s3cr3t" not in repr(api) and "s3cr3t" not in repr(vars(api))
    assert repr(api) == "StripeApi(base='http://127.0.0.1:9', mode='test')"
    with pytest.raises(ConfigError) as refused:
        StripeApi("pk_test_" + "s3cr3t" * 5)
    assert "s3cr3t" not in str(refused.value)


def test_a_webhook_with_a_bad_or_missing_signature_is_refused():
    payload = json.dumps({"id": "evt_1", "object": "event", "type": "transfer.reversed", "data": {"object": {}}}).encode()
    good = sign(payload, "whsec_right")
    assert verify_webhook(payload, good, "whsec_right").event_id == "evt_1"
    for header, secret, body in [
        (sign(payload, "whsec_wrong"), "whsec_right", payload),  # another endpoint's secret
        (good, "whsec_right", payload.replace(b"evt_1", b"evt_2")),  # a body changed on the way
        (sign(payload, "whsec_right", timestamp=1_000_000_000), "whsec_right", payload),  # replayed years later
        ("t=1,v1=", "whsec_right", payload),
        (None, "whsec_right", payload),
        ("", "whsec_right", payload),
        (good, "", payload),
    ]:
        with pytest.raises(StripeSignatureInvalid):
            verify_webhook(body, header, secret)
    not_json = b"not json"
    with pytest.raises(StripeSignatureInvalid, match="not a Stripe event"):
        verify_webhook(not_json, sign(not_json, "whsec_right"), "whsec_right")


# PaymentIntents on localstripe


async def test_a_payment_with_4242_succeeds_once_per_key(api, stripe_stack):
    created = await api.create_payment_intent(key="topup-1", amount=Decimal("12.34"), currency="EUR")
    assert (created.state, created.amount, created.currency, created.operation) == ("created", Decimal("12.34"), "EUR", "topup-1")
    assert created.client_secret  # the funder's browser confirms with it
    again = await api.create_payment_intent(key="topup-1", amount=Decimal("12.34"), currency="EUR")
    assert again.intent_id == created.intent_id  # the same key makes one intent

    paid = await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, VISA))
    assert (paid.state, paid.amount, paid.failure) == ("succeeded", Decimal("12.34"), None)
    assert paid.charge_id and paid.charge_id.startswith("ch_")
    assert (paid.fee, paid.fee_currency) == (Decimal("0.00"), "EUR")  # localstripe charges no fee
    assert await api.retrieve_payment_intent(created.intent_id) == paid


async def test_a_3d_secure_card_waits_for_the_funder_then_succeeds(api, stripe_stack):
    created = await api.create_payment_intent(key="topup-3ds", amount=Decimal("20.00"), currency="USD")
    waiting = await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, THREE_D_SECURE))
    assert (waiting.state, waiting.next_action) == ("requires_action", "use_stripe_sdk")
    assert waiting.client_secret == created.client_secret

    await stripe_stack.localstripe.authenticate(waiting.intent_id, waiting.client_secret, success=True)
    assert (await api.retrieve_payment_intent(waiting.intent_id)).state == "succeeded"


async def test_a_failed_3d_secure_fails_the_payment(api, stripe_stack):
    created = await api.create_payment_intent(key="topup-3ds-no", amount=Decimal("20.00"), currency="USD")
    waiting = await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, THREE_D_SECURE))
    await stripe_stack.localstripe.authenticate(waiting.intent_id, waiting.client_secret, success=False)
    failed = await api.retrieve_payment_intent(waiting.intent_id)
    assert (failed.state, failed.failure_code) == ("failed", "payment_intent_authentication_failure")
    assert failed.failure == "the card's authentication (3-D Secure) failed"


@pytest.mark.parametrize(
    ("number", "code", "message"),
    [
        (DECLINED, "generic_decline", "the card was declined"),
        (INSUFFICIENT_FUNDS, "insufficient_funds", "the card has insufficient funds"),
    ],
)
async def test_a_declined_card_is_a_clear_failure(api, stripe_stack, number, code, message):
    created = await api.create_payment_intent(key=f"topup-{number}", amount=Decimal("5.00"), currency="EUR")
    failed = await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, number))
    assert (failed.state, failed.failure_code, failed.failure) == ("failed", code, message)
    assert failed.intent_id == created.intent_id


async def test_a_refund_once_per_key(api, stripe_stack):
    created = await api.create_payment_intent(key="topup-r", amount=Decimal("1500"), currency="JPY")
    await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, VISA))
    refund = await api.create_refund(key="refund-1", payment_intent=created.intent_id, amount=Decimal("500"), currency="JPY")
    assert (refund.state, refund.amount, refund.currency, refund.operation) == ("succeeded", Decimal("500"), "JPY", "refund-1")
    assert refund.payment_intent == created.intent_id
    assert (
        await api.create_refund(key="refund-1", payment_intent=created.intent_id, amount=Decimal("500"), currency="JPY")
    ) == refund
    assert await api.retrieve_refund(refund.refund_id) == refund


async def test_unknown_objects_are_not_found(api):
    with pytest.raises(StripeNotFound):
        await api.retrieve_payment_intent("pi_none")
    with pytest.raises(StripeNotFound):
        await api.retrieve_transfer("tr_none")


# Connect, transfers, disputes on the fake


async def test_an_express_account_onboards_through_its_link_then_receives_a_transfer(api, stripe_stack):
    account = await api.create_express_account(key="creator-7", country="DE", email="creator@example.org")
    assert (account.charges_enabled, account.payouts_enabled, account.transfers_active) == (False, False, False)
    assert account.default_currency == "eur" and account.requirements_due

    link = await api.create_account_link(
        account=account.account_id,
        refresh_url="https://gateway.test/stripe/refresh",
        return_url="https://gateway.test/stripe/done",
    )
    assert link.url.startswith(stripe_stack.url)
    session = stripe_stack.localstripe.session
    async with session.get(link.url, allow_redirects=False) as visit:  # the creator fills Stripe's forms
        assert (visit.status, visit.headers["Location"]) == (302, "https://gateway.test/stripe/done")
    async with session.get(link.url, allow_redirects=False) as again:  # a link is used once
        assert again.headers["Location"] == "https://gateway.test/stripe/refresh"
    ready = await api.retrieve_account(account.account_id)
    assert (ready.charges_enabled, ready.payouts_enabled, ready.transfers_active, ready.requirements_due) == (
        True,
        True,
        True,
        (),
    )

    transfer = await api.create_transfer(
        key="withdrawal-1", destination=account.account_id, amount=Decimal("7.50"), currency="EUR", metadata={"creator": "7"}
    )
    assert (transfer.amount, transfer.currency, transfer.destination, transfer.operation) == (
        Decimal("7.50"),
        "EUR",
        account.account_id,
        "withdrawal-1",
    )
    assert transfer.transfer_id.startswith("tr_") and transfer.destination_payment
    assert await api.retrieve_transfer(transfer.transfer_id) == transfer


async def test_a_transfer_to_an_account_not_onboarded_is_refused(api):
    account = await api.create_express_account(key="creator-8", country="FR")
    with pytest.raises(StripeRequestRefused) as refused:
        await api.create_transfer(key="withdrawal-8", destination=account.account_id, amount=Decimal("5"), currency="EUR")
    assert refused.value.details["stripe_code"] == "insufficient_capabilities_for_transfer"
    with pytest.raises(StripeAmountRefused):  # a payout of a fraction of a forint never reaches Stripe
        await api.create_transfer(key="withdrawal-9", destination=account.account_id, amount=Decimal("10.45"), currency="HUF")


async def test_a_transfer_reversal_arrives_as_a_signed_webhook(api, stripe_stack):
    fake = stripe_stack.fake
    destination = await onboarded_account(api, stripe_stack)
    transfer = await api.create_transfer(key="withdrawal-2", destination=destination, amount=Decimal("10.00"), currency="EUR")
    async with webhook_receiver() as receiver:
        secret = fake.add_webhook(receiver.url, events=["transfer.reversed"])
        await fake_post(stripe_stack, f"/_fake/transfers/{transfer.transfer_id}/reverse", {"amount": "400"})
        deliveries = await fake.deliver_webhooks()
        assert [(d.type, d.status) for d in deliveries] == [("transfer.reversed", 200)]
        [(body, header)] = receiver.received

    event = verify_webhook(body, header, secret)
    assert (event.type, event.object["id"], event.object["amount_reversed"]) == ("transfer.reversed", transfer.transfer_id, 400)
    with pytest.raises(StripeSignatureInvalid):
        verify_webhook(body, header, "whsec_another_endpoint")
    reread = await api.retrieve_transfer(transfer.transfer_id)  # events come late and out of order: read again
    assert (reread.amount_reversed, reread.reversed, [r.amount for r in reread.reversals]) == (
        Decimal("4.00"),
        False,
        [Decimal("4.00")],
    )


async def test_a_dispute_arrives_as_a_signed_webhook(api, stripe_stack):
    fake = stripe_stack.fake
    created = await api.create_payment_intent(key="topup-d", amount=Decimal("30.00"), currency="EUR")
    paid = await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, VISA))
    async with webhook_receiver() as receiver:
        secret = fake.add_webhook(receiver.url)
        dispute = await fake_post(stripe_stack, "/_fake/disputes", {"payment_intent": paid.intent_id, "reason": "fraudulent"})
        await fake.deliver_webhooks()
        events = [verify_webhook(body, header, secret) for body, header in receiver.received]

    assert [e.type for e in events] == ["charge.dispute.created"]
    assert events[0].object["id"] == dispute["id"]
    found = await api.retrieve_dispute(str(dispute["id"]))
    assert (found.status, found.reason, found.amount, found.currency) == ("needs_response", "fraudulent", Decimal("30.00"), "EUR")
    assert (found.charge_id, found.payment_intent) == (paid.charge_id, paid.intent_id)


async def test_localstripes_events_go_out_signed_too(api, stripe_stack):
    async with webhook_receiver() as receiver:
        secret = stripe_stack.fake.add_webhook(receiver.url, events=["payment_intent.succeeded"])
        created = await api.create_payment_intent(key="topup-e", amount=Decimal("3.00"), currency="EUR")
        await api.confirm_payment_intent(created.intent_id, payment_method=await card(stripe_stack, VISA))
        await stripe_stack.fake.deliver_webhooks()
        [event] = [verify_webhook(body, header, secret) for body, header in receiver.received]
    assert (event.type, event.object["id"], event.object["metadata"]) == (
        "payment_intent.succeeded",
        created.intent_id,
        {"operation": "topup-e"},
    )


# Idempotency and faults


async def test_our_key_with_other_parameters_is_refused(api, stripe_stack):
    destination = await onboarded_account(api, stripe_stack)
    await api.create_transfer(key="withdrawal-3", destination=destination, amount=Decimal("5.00"), currency="EUR")
    with pytest.raises(StripeIdempotencyConflict, match="same parameters"):
        await api.create_transfer(key="withdrawal-3", destination=destination, amount=Decimal("6.00"), currency="EUR")
    assert len(stripe_stack.fake.transfers) == 1


async def test_after_an_injected_500_a_retry_with_the_same_key_makes_one_transfer(api, stripe_stack):
    fake = stripe_stack.fake
    destination = await onboarded_account(api, stripe_stack)
    fake.faults.fail("POST /v1/transfers", times=1)
    with pytest.raises(StripeUnavailable):  # unknown, never failed: the caller asks again
        await api.create_transfer(key="withdrawal-4", destination=destination, amount=Decimal("5.00"), currency="EUR")
    transfer = await api.create_transfer(key="withdrawal-4", destination=destination, amount=Decimal("5.00"), currency="EUR")
    assert list(fake.transfers) == [transfer.transfer_id]
    assert [(r.status, r.idempotency_key) for r in fake.requests if r.path == "/v1/transfers"] == [
        (500, "withdrawal-4"),
        (200, "withdrawal-4"),
    ]


async def test_the_sdk_retries_an_injected_500_itself_with_the_same_key(stripe_stack, monkeypatch):
    monkeypatch.setattr(stripe.HTTPClient, "INITIAL_DELAY", 0)  # no back-off wait in a test
    fake = stripe_stack.fake
    async with StripeApi(API_KEY, api_base=stripe_stack.url, max_network_retries=2) as api:
        destination = await onboarded_account(api, stripe_stack)
        fake.faults.fail("POST /v1/transfers", times=2)
        transfer = await api.create_transfer(key="withdrawal-5", destination=destination, amount=Decimal("5.00"), currency="EUR")
    assert list(fake.transfers) == [transfer.transfer_id]
    assert [r.status for r in fake.requests if r.path == "/v1/transfers"] == [500, 500, 200]


async def test_a_lost_answer_is_unknown_and_the_retry_replays_it(api, stripe_stack):
    fake = stripe_stack.fake
    destination = await onboarded_account(api, stripe_stack)
    release = fake.faults.hang("POST /v1/transfers", executed=True)  # Stripe did it; the answer never comes
    async with StripeApi(API_KEY, api_base=stripe_stack.url, max_network_retries=0, timeout=0.2) as impatient:
        with pytest.raises(StripeUnavailable):  # held until released: the timeout always comes first
            await impatient.create_transfer(key="withdrawal-6", destination=destination, amount=Decimal("5.00"), currency="EUR")
    transfer = await api.create_transfer(key="withdrawal-6", destination=destination, amount=Decimal("5.00"), currency="EUR")
    release.set()
    assert list(fake.transfers) == [transfer.transfer_id]
    retry = next(r for r in fake.requests if r.path == "/v1/transfers")  # the held one is logged once released, if ever
    assert (retry.status, retry.replayed) == (200, True)


async def test_a_retry_while_the_first_request_still_runs_is_unknown_too(api, stripe_stack):
    fake = stripe_stack.fake
    destination = await onboarded_account(api, stripe_stack)
    release = fake.faults.hang("POST /v1/transfers", executed=False)  # held before it runs
    async with StripeApi(API_KEY, api_base=stripe_stack.url, max_network_retries=0, timeout=0.2) as impatient:
        with pytest.raises(StripeUnavailable):
            await impatient.create_transfer(key="withdrawal-7", destination=destination, amount=Decimal("5.00"), currency="EUR")
    with pytest.raises(StripeUnavailable):  # the first still runs: Stripe answers 409
        await api.create_transfer(key="withdrawal-7", destination=destination, amount=Decimal("5.00"), currency="EUR")
    assert [r.status for r in fake.requests if r.path == "/v1/transfers"] == [409]
    release.set()
    deadline = asyncio.get_running_loop().time() + 10
    while not fake.transfers:  # the held request runs once released
        assert asyncio.get_running_loop().time() < deadline, "the released request never ran"
        await asyncio.sleep(0.01)
    transfer = await api.create_transfer(key="withdrawal-7", destination=destination, amount=Decimal("5.00"), currency="EUR")
    assert list(fake.transfers) == [transfer.transfer_id]


async def test_the_fake_answers_stripes_errors_for_what_it_does_not_know(stripe_fake):
    async with StripeApi(API_KEY, api_base=stripe_fake.url, max_network_retries=0) as api:
        with pytest.raises(StripeNotFound):
            await api.retrieve_account("acct_none")
        with pytest.raises(StripeNotFound):  # no upstream here: localstripe's routes are unknown
            await api.retrieve_payment_intent("pi_1")
    async with StripeApi("sk_test_unknown_to_nobody", api_base=stripe_fake.url) as api:
        assert (await api.create_express_account(key="k", country="FR")).account_id.startswith("acct_")
    async with aiohttp.ClientSession() as session, session.get(f"{stripe_fake.url}/v1/accounts/acct_1") as response:
        assert response.status == 401
        assert (await response.json())["error"]["type"] == "invalid_request_error"
