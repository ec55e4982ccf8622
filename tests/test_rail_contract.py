"""The contract every rail keeps, run against each: the built-in ones and a third party's installed package.

A rail found through the ``gateway.rails`` entry points is built as the
deployment builds it, and asked as the use cases ask it. What is checked is
what the use cases rely on: our operation id is the provider's idempotency
key (asking twice does it once), asking about an operation agrees with what
starting it said, a webhook without a valid signature is refused, options
are checked when the rail is built, and no secret shows.

A provider whose top-ups wait for the funder (an approval at PayPal) says so
(``requires_action``); the harness then plays the funder's part, and the rail
is asked again, as the use cases ask it after the funder comes back.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from importlib.metadata import entry_points
from typing import Any

import pytest

from adapters import IN_FLIGHT, Outcome, PaymentState, PayoutRequest, Rail, RefundRequest, TopUpRequest
from adapters.stripe import StripeApi
from gateway.config import RAILS_ENTRY_POINTS
from gateway.errors import ConfigError, WebhookRefused
from tests.rail_support import SECRET, scripted_options


@dataclass
class Harness:
    """One rail under contract, and what it takes: a currency it moves and one it does not."""

    rail: Rail
    currency: str
    other_currency: str
    secrets: tuple[str, ...] = ()
    destination: str | None = None  # where a payout goes, for a rail that needs one (a PayPal address)
    act: Callable[[Outcome], Awaitable[None]] | None = None  # the funder's part of a top-up that requires it


def build(name: str, options: dict[str, Any]) -> Rail:
    """As ``load_rails`` builds it: the entry point's factory with the rail's table."""
    factory = {entry.name: entry for entry in entry_points(group=RAILS_ENTRY_POINTS)}[name].load()
    return factory(name=name, options=options)


@pytest.fixture(params=["sandbox", "scripted", "paypal", "stripe"])
async def harness(request, tmp_path) -> AsyncIterator[Harness]:
    if request.param == "stripe":
        async with stripe_harness(tmp_path, request.getfixturevalue("monkeypatch")) as made:
            yield made
            await made.rail.close()
        return
    if request.param == "paypal":
        from tests.fakes.paypal import running_fake  # not at the top: the PayPal tests load it as a plugin first

        async with running_fake() as fake:
            made = paypal_harness(fake, tmp_path, request.getfixturevalue("monkeypatch"))
            yield made
            await made.rail.close()
        return
    if request.param == "sandbox":
        yield Harness(build("sandbox", {"currencies": ["EUR"]}), "EUR", "USD")
        return
    request.getfixturevalue("scripted_rail_path")
    yield Harness(build("scripted", scripted_options(tmp_path / "provider", ["EUR"])), "EUR", "USD", secrets=(SECRET,))


def paypal_harness(fake: Any, tmp_path: Any, monkeypatch: Any) -> Harness:
    """PayPal against the fake PayPal; the funder approves the order there."""
    for variable in ("PAYPAL_CLIENT_ID", "PAYPAL_SECRET", "PAYPAL_WEBHOOK_ID"):
        monkeypatch.delenv(variable, raising=False)
    secrets = tmp_path / "paypal.toml"
    secrets.write_text(f'PAYPAL_CLIENT_ID = "{fake.client_id}"\nPAYPAL_SECRET = "{fake.secret}"\nPAYPAL_WEBHOOK_ID = "WH-1"\n')

    async def approve(outcome: Outcome) -> None:
        fake.approve(outcome.reference)

    rail = build("paypal", {"base_url": fake.url, "currencies": ["EUR"], "secrets_file": str(secrets)})
    return Harness(rail, "EUR", "USD", secrets=(fake.secret,), destination="creator@example.com", act=approve)


STRIPE_KEY = "sk_test_contract_" + "k" * 16  # localstripe and the fake take any sk_ key
STRIPE_WEBHOOK_SECRET = "whsec_contract_" + "w" * 16


@contextlib.asynccontextmanager
async def stripe_harness(tmp_path: Any, monkeypatch: Any) -> AsyncIterator[Harness]:
    """Stripe against localstripe and the fake in front of it: a payout goes to an onboarded Express account, and a
    card top-up succeeds once the funder's browser confirms it with Stripe.js (here: the SDK, with card 4242)."""
    from tests.fakes.localstripe import running_localstripe
    from tests.fakes.stripe_connect import running_fake

    secrets = tmp_path / "stripe.toml"
    secrets.write_text(f'secret_key = "{STRIPE_KEY}"\nwebhook_secret = "{STRIPE_WEBHOOK_SECRET}"\n')
    async with running_localstripe(monkeypatch) as localstripe, running_fake(localstripe.url) as fake:
        async with StripeApi(STRIPE_KEY, api_base=fake.url, max_network_retries=0) as browser:
            account = await browser.create_express_account(key="contract-artist", country="FR")
            fake.onboard(account.account_id)  # the creator finished Stripe's onboarding

            async def confirm(outcome: Outcome) -> None:
                async with localstripe.session.post(
                    f"{localstripe.url}/v1/payment_methods",
                    data={"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2030"}
                    | {"card[cvc]": "123"},
                    headers={"Authorization": f"Bearer {STRIPE_KEY}"},
                ) as response:
                    assert response.status == 200, await response.text()
                    method = (await response.json())["id"]
                await browser.confirm_payment_intent(str(outcome.reference), payment_method=method)

            options = {"api_base": fake.url, "currencies": ["EUR"], "secrets_file": str(secrets), "network_retries": 0}
            rail = build("stripe", options)
            yield Harness(rail, "EUR", "USD", (STRIPE_KEY, STRIPE_WEBHOOK_SECRET), account.account_id, confirm)


def top_up_request(harness: Harness, operation: str = "top_up:1", amount: str = "10.00") -> TopUpRequest:
    return TopUpRequest(operation, "fan", Decimal(amount), harness.currency, "http://127.0.0.1:9/top-ups/1/return")


def payout_request(harness: Harness, operation: str = "withdrawal:1") -> PayoutRequest:
    return PayoutRequest(operation, "artist", Decimal("4.00"), harness.currency, destination=harness.destination)


def is_answer(outcome: Outcome) -> bool:
    return isinstance(outcome.state, PaymentState) and (outcome.state in IN_FLIGHT or outcome.reference is not None)


def test_it_moves_the_currencies_it_is_given_and_no_other(harness):
    assert harness.rail.takes(harness.currency) and harness.rail.pays(harness.currency)
    assert not harness.rail.takes(harness.other_currency) and not harness.rail.pays(harness.other_currency)


def test_an_unknown_option_stops_the_build(harness):
    with pytest.raises(ConfigError, match="no_such_option"):
        type(harness.rail)(name=harness.rail.name, options={"no_such_option": 1})


async def test_a_top_up_started_twice_under_one_id_is_one_operation(harness):
    request = top_up_request(harness)
    first = await harness.rail.start_top_up(request)
    again = await harness.rail.start_top_up(request)
    assert is_answer(first) and (again.state, again.reference) == (first.state, first.reference)
    asked = await harness.rail.top_up_state(request, first.reference)
    assert (asked.state, asked.reference) == (first.state, first.reference)


async def test_a_payout_started_twice_under_one_id_is_one_operation(harness):
    request = payout_request(harness)
    first = await harness.rail.start_payout(request)
    again = await harness.rail.start_payout(request)
    assert is_answer(first) and (again.state, again.reference) == (first.state, first.reference)
    asked = await harness.rail.payout_state(request, first.reference)
    assert (asked.state, asked.reference) == (first.state, first.reference)


async def test_a_succeeded_top_up_can_be_refunded(harness):
    request = top_up_request(harness, "top_up:2")
    paid = await harness.rail.start_top_up(request)
    if paid.state == PaymentState.REQUIRES_ACTION and harness.act is not None:
        await harness.act(paid)  # the funder approves, comes back, and the rail is asked again
        paid = await harness.rail.top_up_state(request, paid.reference)
    assert paid.state == PaymentState.SUCCEEDED and paid.reference is not None
    refund = await harness.rail.refund(RefundRequest("refund:2:1", paid.reference, Decimal("3.00"), harness.currency))
    assert refund.state in (PaymentState.SUCCEEDED, PaymentState.PROCESSING)


@pytest.mark.parametrize("body", [b"", b"{}", b'{"id": "evt_1", "type": "x"}', b"\xff\xfe not json"])
async def test_a_webhook_without_a_valid_signature_is_refused(harness, body):
    with pytest.raises(WebhookRefused):
        await harness.rail.parse_webhook(body, {"Content-Type": "application/json"})


async def test_no_secret_shows_and_closing_twice_is_harmless(harness):
    for secret in harness.secrets:
        assert secret not in repr(harness.rail)
    await harness.rail.close()
    await harness.rail.close()


def test_a_rate_is_the_providers_or_none(harness):
    rate = harness.rail.rate(harness.currency, "USD", date(2026, 10, 30))
    assert rate is None or (rate.base, rate.quote) == (harness.currency, "USD")
