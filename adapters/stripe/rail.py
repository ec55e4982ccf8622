"""The Stripe rail (issue 10): cards in through PaymentIntents, creators paid out through Connect transfers.

Built as ``StripeRail(name=..., options=...)`` from the ``stripe`` entry point,
it checks its options and reads its secrets, and does nothing else (no
network). It talks to Stripe through ``adapters.stripe.client.StripeApi``
(the official SDK's async client); one client per running event loop, made
on first use and closed by ``close()`` in that loop, since the CLI runs one
loop per command and the server another.

Secrets never come from the deployment file: the secret key and the webhook
signing secret are read from the environment (``STRIPE_SECRET_KEY``,
``STRIPE_WEBHOOK_SECRET``) or, where ``secrets_file`` names one, from a TOML
file (``secret_key``, ``webhook_secret``), which is then the only source.
No ``repr``, ``str``, error or log line of the rail shows either.

How Stripe's objects read in our states:

- A top-up is a PaymentIntent made under our operation id (its
  Idempotency-Key, and ``metadata.operation``). ``requires_payment_method``,
  ``requires_confirmation`` and ``requires_action`` (3-D Secure) are
  ``requires_action``: the funder's browser confirms it with Stripe.js and
  the client secret in ``next_action``. ``processing`` and
  ``requires_capture`` are ``processing``; ``succeeded`` is ``succeeded``
  (with Stripe's fee where it is in the top-up's currency). A declined card
  (``requires_payment_method`` with ``last_payment_error``) is ``failed``
  with the decline in words, and the rail cancels the PaymentIntent, so no
  second card can charge a top-up recorded failed; ``canceled`` is ``failed``.
- After it succeeded: a dispute whose money Stripe took (``needs_response``,
  ``under_review``, the ``appeal_*`` ones, or a status this rail does not
  know) is ``disputed``; ``won``, an inquiry (``warning_*``) or
  ``prevented`` is ``succeeded`` (the money is, or stayed, ours); ``lost`` is
  ``refunded`` (gone for good). A charge refunded in full with at least one
  refund that is not ours (none of our operation ids in its metadata: made
  in the dashboard) is ``refunded``; our own refunds are the refund use
  case's to record, so a charge that only they refunded stays ``succeeded``.
- A payout is a transfer to the creator's Express account
  (``PayoutRequest.destination``), ``succeeded`` once created; reversed in
  full, ``refunded`` (a partial reversal leaves it ``succeeded``).
- A refund is a Stripe refund of the PaymentIntent: ``succeeded``,
  ``pending`` (``processing``), ``failed`` or ``canceled`` (``failed``).

Stripe that does not answer (a timeout, a 5xx, a 409 or 429) raises
``RailUnavailable``: the operation is unknown and asked about again under
the same key. A request Stripe refuses for our own reasons (a bad key, a
bad parameter, our key reused with other parameters) raises ``RailRefused``;
one refused for the payment's own reasons, which Stripe then keeps under
our key (a destination that cannot take transfers, an amount too small, a
refund of a disputed charge), is a ``failed`` outcome with the reason. An
amount Stripe cannot take in its currency (``adapters.stripe.minor``: HUF and
TWD payouts in whole units, a KWD third decimal…) is ``failed`` before
anything is sent.
"""

from __future__ import annotations

import asyncio
import logging
import os
import re
import tomllib
import weakref
from collections import OrderedDict
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import stripe

from adapters.base import Outcome, PayoutRequest, RefundRequest, TopUpRequest, WebhookEvent
from adapters.options import int_option, is_loopback, reject_unknown
from adapters.secrets import Secret
from adapters.states import PaymentState
from adapters.stripe.client import (
    FEE,
    PaymentOutcome,
    StripeApi,
    TransferInfo,
    decline,
    payment_outcome,
    verify_webhook,
)
from adapters.stripe.errors import (
    StripeAmountRefused,
    StripeIdempotencyConflict,
    StripeNotFound,
    StripeRequestRefused,
    StripeSignatureInvalid,
    StripeUnavailable,
)
from adapters.stripe.minor import to_stripe_charge, to_stripe_payout
from currencies import Rate
from gateway.errors import ConfigError, RailRefused, RailUnavailable, WebhookRefused

T = TypeVar("T")
log = logging.getLogger("adapters.stripe")

SECRET_KEY_ENV = "STRIPE_SECRET_KEY"
WEBHOOK_SECRET_ENV = "STRIPE_WEBHOOK_SECRET"
KNOWN = {"api_base", "country", "timeout", "network_retries", "secrets_file", "publishable_key"}
SECRETS_FILE_KEYS = {"secret_key", "webhook_secret"}
DEFAULT_COUNTRY = "FR"  # of the Express accounts made for creators, unless onboarding_link is told another
WEBHOOK_TOLERANCE = 300  # seconds: an older signature is refused (a replay)
REMEMBERED_DISPUTES = 10_000  # dispute ids learned from webhooks, newest kept

# Dispute statuses (docs.stripe.com/api/disputes/object): where the money is while each holds.
DISPUTE_TAKEN = frozenset({"needs_response", "under_review", "appeal_needs_response", "appeal_under_review"})
DISPUTE_OURS = frozenset({"won", "warning_needs_response", "warning_under_review", "warning_closed", "prevented"})
DISPUTE_LOST = "lost"

# Refusals that belong to the payment, not to our setup: Stripe keeps them under our key, so
# asking again gives the same answer, and the payment has failed (its money goes back).
TOP_UP_REFUSALS = frozenset({"amount_too_small", "amount_too_large", "currency_not_supported", "card_declined"})
PAYOUT_REFUSALS = frozenset(
    {"insufficient_capabilities_for_transfer", "account_invalid", "balance_insufficient", "transfers_not_allowed"}
)
REFUND_REFUSALS = frozenset({"charge_already_refunded", "charge_disputed", "amount_too_large", "refund_disputed_payment"})
SECRET_PREFIXES = ("sk_", "rk_", "whsec_")
_COUNTRY = re.compile(r"[A-Z]{2}")
_CURRENCY = re.compile(r"[A-Z]{3}")


@dataclass(frozen=True)
class _Intent:
    """A PaymentIntent as the rail reads it: the wrapper's outcome, and the raw fields it leaves out."""

    outcome: PaymentOutcome
    status: str | None
    last_payment_error: Mapping[str, Any] | None
    charge: Mapping[str, Any]  # the latest charge, expanded with its refunds; {} before any


@dataclass(frozen=True)
class _Dispute:
    dispute_id: str
    status: str
    created: int


class _StripeCalls(StripeApi):
    """``StripeApi`` and the few calls the rail needs beyond it (through the same SDK client and error mapping)."""

    async def intent(self, intent_id: str) -> _Intent:
        """The PaymentIntent with its latest charge expanded (fee, refunds, disputed)."""
        found = await self._call(
            self._client.v1.payment_intents.retrieve_async(intent_id, {"expand": [FEE, "latest_charge.refunds"]})
        )
        plain = found.to_dict()
        charge = plain.get("latest_charge")
        error = plain.get("last_payment_error")
        return _Intent(
            outcome=payment_outcome(plain),
            status=plain.get("status") if isinstance(plain.get("status"), str) else None,
            last_payment_error=error if isinstance(error, Mapping) else None,
            charge=charge if isinstance(charge, Mapping) else {},
        )

    async def cancel_intent(self, intent_id: str, *, key: str) -> None:
        await self._call(self._client.v1.payment_intents.cancel_async(intent_id, {}, {"idempotency_key": key}))

    async def disputes_of(self, intent_id: str) -> list[_Dispute]:
        """Every dispute of the PaymentIntent's charges (a charge is disputed once: usually one)."""
        listed = await self._call(self._client.v1.disputes.list_async({"payment_intent": intent_id, "limit": 100}))
        return [_dispute(item.to_dict()) for item in listed.data]

    async def dispute(self, dispute_id: str) -> _Dispute:
        return _dispute((await self._call(self._client.v1.disputes.retrieve_async(dispute_id))).to_dict())

    async def intent_of_charge(self, charge_id: str) -> str | None:
        charge = (await self._call(self._client.v1.charges.retrieve_async(charge_id))).to_dict()
        return _id_of(charge.get("payment_intent"))


class StripeRail:
    """Stripe as a rail: see the module's docstring for how its states read in ours."""

    needs_destination = True  # a payout goes to the creator's Connect account (made by ``onboarding_link``)

    def __init__(self, name: str = "stripe", options: Mapping[str, Any] | None = None) -> None:
        options = dict(options or {})
        self.name = name
        _refuse_inline_secrets(name, options)
        reject_unknown(name, options, KNOWN)
        self.currencies = _currencies(name, options.get("currencies", []))
        self.api_base = _api_base(name, options.get("api_base", stripe.DEFAULT_API_BASE))
        self.country = _country(name, options.get("country", DEFAULT_COUNTRY), "country")
        self.timeout = _seconds(name, options.get("timeout", 30), "timeout")
        self.network_retries = int_option(name, options, "network_retries", 2, 0, 5)
        self.publishable_key = _publishable_key(name, options.get("publishable_key"))
        secret_key, webhook_secret = _secrets(name, options.get("secrets_file"))
        self._secret_key = Secret(secret_key)
        self._webhook_secret = Secret(webhook_secret) if webhook_secret else None
        self.mode = "live" if "_live_" in secret_key else "test"
        self._apis: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _StripeCalls] = weakref.WeakKeyDictionary()
        self._disputes: OrderedDict[str, str] = OrderedDict()  # PaymentIntent -> its dispute, as webhooks told

    def __repr__(self) -> str:
        return f"StripeRail({self.name!r}, api_base={self.api_base!r}, mode={self.mode!r})"

    __str__ = __repr__

    def takes(self, currency: str) -> bool:
        return currency in self.currencies

    def pays(self, currency: str) -> bool:
        return currency in self.currencies

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        return None  # Stripe converts at its own rate only when it settles: the deployment's rates rule

    async def close(self) -> None:
        """Close this loop's client; those of loops that are gone are dropped (their connections went with them)."""
        api = self._apis.pop(asyncio.get_running_loop(), None)
        self._forget_closed_loops()
        if api is not None:
            await api.close()

    # top-ups

    async def start_top_up(self, request: TopUpRequest) -> Outcome:
        created = await self._create_intent(request)
        if not isinstance(created, PaymentOutcome):
            return created
        return self._top_up_outcome(created, request.currency)

    async def top_up_state(self, request: TopUpRequest, reference: str | None) -> Outcome:
        if reference is None:  # no answer ever came: ask again under the same key (Stripe replays the first answer)
            created = await self._create_intent(request)
            if not isinstance(created, PaymentOutcome):
                return created
            reference = created.intent_id
        return await self._intent_state(request, reference)

    async def _create_intent(self, request: TopUpRequest) -> PaymentOutcome | Outcome:
        """The PaymentIntent made (or replayed) under our key; a failed ``Outcome`` where Stripe cannot or will not take it."""
        refused = _charge_refusal(request.amount, request.currency)
        if refused is not None:  # nothing sent
            return Outcome(PaymentState.FAILED, error=refused)
        try:
            return await self._api().create_payment_intent(
                key=request.operation, amount=request.amount, currency=request.currency, metadata={"funder": request.funder}
            )
        except StripeRequestRefused as error:
            return self._final_or_raise(error, TOP_UP_REFUSALS)
        except StripeUnavailable as error:
            raise self._unavailable(error) from error

    async def _intent_state(self, request: TopUpRequest, intent_id: str) -> Outcome:
        api = self._api()
        intent = await self._guard(api.intent(intent_id))
        if intent.outcome.state == "failed" and intent.status == "requires_payment_method":
            # Declined: the funder could try another card on this intent, and charge a top-up we record failed.
            try:
                await api.cancel_intent(intent_id, key=f"{request.operation}:cancel")
            except StripeRequestRefused:  # it moved meanwhile (another card went through): read it again
                intent = await self._guard(api.intent(intent_id))
            except StripeUnavailable as error:
                raise self._unavailable(error) from error
        outcome = self._top_up_outcome(intent.outcome, request.currency, intent.last_payment_error)
        if outcome.state != PaymentState.SUCCEEDED:
            return outcome
        after = await self._after_success(api, intent_id, intent.charge)
        return outcome if after is None else Outcome(after, intent_id)

    def _top_up_outcome(self, found: PaymentOutcome, currency: str, last_error: Mapping[str, Any] | None = None) -> Outcome:
        reference = found.intent_id
        if found.state == "succeeded":
            fee = found.fee if found.fee_currency == currency.upper() else None
            if found.fee is not None and fee is None:
                log.info("stripe: the fee of %s is in %s, not %s: not recorded", reference, found.fee_currency, currency)
            return Outcome(PaymentState.SUCCEEDED, reference, fee=fee)
        if found.state in ("created", "requires_action"):
            return Outcome(PaymentState.REQUIRES_ACTION, reference, next_action=self._next_action(found.client_secret))
        if found.state == "processing":
            return Outcome(PaymentState.PROCESSING, reference)
        failure = found.failure or "the payment failed"
        if found.failure_code == "canceled" and last_error is not None:  # canceled after a decline: say the decline
            failure = decline(last_error.get("code"), last_error.get("decline_code"))[1]
        return Outcome(PaymentState.FAILED, reference, error=failure)

    def _next_action(self, client_secret: str | None) -> dict[str, str] | None:
        """What the funder's browser needs to confirm the PaymentIntent with Stripe.js."""
        if client_secret is None:
            return None
        action = {"type": "client_secret", "client_secret": client_secret}
        if self.publishable_key is not None:
            action["publishable_key"] = self.publishable_key
        return action

    async def _after_success(self, api: _StripeCalls, intent_id: str, charge: Mapping[str, Any]) -> PaymentState | None:
        """Where a succeeded payment went since: disputed, won or lost, or refunded outside our refunds (None: still ours)."""
        disputes: list[_Dispute] = []
        known = self._disputes.get(intent_id)
        if known is not None:
            disputes.append(await self._guard(api.dispute(known)))
        elif charge.get("disputed") is True:
            disputes = await self._guard(api.disputes_of(intent_id))
            if not disputes:
                return PaymentState.DISPUTED  # Stripe says disputed and shows none yet: the money is not ours to give
        if disputes:
            latest = max(disputes, key=lambda dispute: dispute.created)
            self._remember_dispute(intent_id, latest.dispute_id)
            if latest.status == DISPUTE_LOST:
                return PaymentState.REFUNDED
            if latest.status in DISPUTE_OURS:
                return None
            if latest.status not in DISPUTE_TAKEN:
                log.warning(
                    "stripe: dispute %s has a status this rail does not know (%r): disputed", latest.dispute_id, latest.status
                )
            return PaymentState.DISPUTED
        if charge.get("refunded") is True and _refunded_outside_ours(charge):
            return PaymentState.REFUNDED
        return None

    # payouts

    async def start_payout(self, request: PayoutRequest) -> Outcome:
        refused = _payout_refusal(request)
        if refused is not None:
            return Outcome(PaymentState.FAILED, error=refused)
        assert request.destination is not None  # checked by _payout_refusal
        try:
            transfer = await self._api().create_transfer(
                key=request.operation,
                destination=request.destination,
                amount=request.amount,
                currency=request.currency,
                metadata={"creator": request.creator},
            )
        except StripeRequestRefused as error:
            if error.details.get("param") == "destination" and not isinstance(error, StripeIdempotencyConflict):
                return Outcome(PaymentState.FAILED, error=f"the creator's Stripe account cannot take this transfer: {error}")
            return self._final_or_raise(error, PAYOUT_REFUSALS)
        except StripeUnavailable as error:
            raise self._unavailable(error) from error
        return _payout_outcome(transfer)

    async def payout_state(self, request: PayoutRequest, reference: str | None) -> Outcome:
        if reference is None:  # no answer ever came: ask again under the same key, then read it as it is now
            started = await self.start_payout(request)
            if started.reference is None:
                return started
            reference = started.reference
        return _payout_outcome(await self._guard(self._api().retrieve_transfer(reference)))

    # refunds

    async def refund(self, request: RefundRequest) -> Outcome:
        """Refund (part of) the PaymentIntent; asked again, the same key gives the same refund, read as it is now."""
        refused = _charge_refusal(request.amount, request.currency)
        if refused is not None:
            return Outcome(PaymentState.FAILED, error=refused)
        api = self._api()
        try:
            made = await api.create_refund(
                key=request.operation, payment_intent=request.payment, amount=request.amount, currency=request.currency
            )
        except StripeRequestRefused as error:
            return self._final_or_raise(error, REFUND_REFUSALS)
        except StripeUnavailable as error:
            raise self._unavailable(error) from error
        if made.state == "pending":  # a replay gives the first answer: where it stands now is Stripe's refund
            made = await self._guard(api.retrieve_refund(made.refund_id))
        if made.state == "succeeded":
            return Outcome(PaymentState.SUCCEEDED, made.refund_id)
        if made.state == "failed":
            return Outcome(PaymentState.FAILED, made.refund_id, error=f"Stripe could not refund it ({made.failure or 'failed'})")
        return Outcome(PaymentState.PROCESSING, made.refund_id)

    # webhooks

    async def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        if self._webhook_secret is None:
            raise WebhookRefused(
                f"rails.{self.name} has no webhook signing secret: set {WEBHOOK_SECRET_ENV}, or webhook_secret in its secrets_file"
            )
        signature = next((value for key, value in headers.items() if key.lower() == "stripe-signature"), None)
        try:
            event = verify_webhook(body, signature, self._webhook_secret.reveal(), tolerance=WEBHOOK_TOLERANCE)
        except StripeSignatureInvalid as error:
            raise WebhookRefused(str(error)) from error
        if event.account is not None:
            return None  # a connected account's own event: nothing of ours
        obj = event.object
        kind = event.type
        if kind.startswith("payment_intent."):
            return WebhookEvent(event.event_id, kind, "top_up", _operation(obj), _id_of(obj.get("id")))
        if kind == "charge.refunded":
            return WebhookEvent(event.event_id, kind, "top_up", _operation(obj), _id_of(obj.get("payment_intent")))
        if kind.startswith("charge.dispute."):
            intent = _id_of(obj.get("payment_intent"))
            charge = _id_of(obj.get("charge"))
            if intent is None and charge is not None:  # an older dispute names only its charge
                intent = await self._guard(self._api().intent_of_charge(charge))
            dispute = _id_of(obj.get("id"))
            if intent is not None and dispute is not None:
                self._remember_dispute(intent, dispute)
            return WebhookEvent(event.event_id, kind, "top_up", None, intent)
        if kind.startswith("transfer."):
            return WebhookEvent(event.event_id, kind, "payout", _operation(obj), _id_of(obj.get("id")))
        return None

    # onboarding (beyond the Rail protocol)

    async def onboarding_link(
        self, creator: str, destination: str | None, return_url: str, refresh_url: str, *, country: str | None = None
    ) -> tuple[str, str]:
        """The creator's Express account (made, keyed by the creator, where ``destination`` is None) and its onboarding page.

        The page is single use and short-lived: ``refresh_url`` should ask for
        a new link. Keep the account id: it is the destination of payouts, and
        Stripe keeps idempotency keys for 24 hours only.
        """
        api = self._api()
        if destination is None:
            made = await self._guard(
                api.create_express_account(
                    key=f"stripe-account:{creator}",
                    country=_country(self.name, country or self.country, "country"),
                    metadata={"creator": creator},
                )
            )
            destination = made.account_id
        link = await self._guard(api.create_account_link(account=destination, refresh_url=refresh_url, return_url=return_url))
        return destination, link.url

    async def destination_ready(self, destination: str) -> bool:
        """Whether the account can be paid: onboarding finished, transfers active and payouts enabled.

        An account Stripe does not know (deleted, or made with the other mode's
        key) cannot be paid: False, and a warning, since it is worth a look.
        """
        try:
            account = await self._api().retrieve_account(destination)
        except StripeNotFound as missing:
            log.warning("stripe: no account %s at Stripe (%s)", destination, missing)
            return False
        except StripeUnavailable as error:
            raise self._unavailable(error) from error
        except StripeRequestRefused as error:
            raise self._refused(error) from error
        return account.payouts_enabled and account.transfers_active

    # plumbing

    def _api(self) -> _StripeCalls:
        """This event loop's client (the SDK's aiohttp session is bound to the loop it was made in)."""
        loop = asyncio.get_running_loop()
        api = self._apis.get(loop)
        if api is None:
            self._forget_closed_loops()
            api = _StripeCalls(
                self._secret_key.reveal(),
                api_base=self.api_base,
                max_network_retries=self.network_retries,
                timeout=self.timeout,
            )
            self._apis[loop] = api
        return api

    def _forget_closed_loops(self) -> None:
        for loop in [loop for loop in self._apis if loop.is_closed()]:
            del self._apis[loop]

    def _remember_dispute(self, intent_id: str, dispute_id: str) -> None:
        self._disputes[intent_id] = dispute_id
        self._disputes.move_to_end(intent_id)
        while len(self._disputes) > REMEMBERED_DISPUTES:
            self._disputes.popitem(last=False)

    async def _guard(self, call: Awaitable[T]) -> T:
        """Stripe's answer; not answering is unknown (``RailUnavailable``), a refusal is ``RailRefused``."""
        try:
            return await call
        except StripeUnavailable as error:
            raise self._unavailable(error) from error
        except StripeRequestRefused as error:
            raise self._refused(error) from error

    def _final_or_raise(self, error: StripeRequestRefused, final: frozenset[str]) -> Outcome:
        """A refusal of the payment itself is its failure; one of ours (a key, a parameter, a bug) is raised."""
        code = error.details.get("stripe_code")
        if isinstance(error, (StripeIdempotencyConflict, StripeNotFound)) or code not in final:
            raise self._refused(error) from error
        return Outcome(PaymentState.FAILED, error=f"Stripe refused it: {error}")

    def _unavailable(self, error: StripeUnavailable) -> RailUnavailable:
        return RailUnavailable(f"{self.name}: {error}")

    def _refused(self, error: StripeRequestRefused) -> RailRefused:
        details = {key: error.details[key] for key in ("stripe_code", "param", "http_status") if error.details.get(key)}
        return RailRefused(f"{self.name}: {error}", **details)


# reading Stripe's objects


def _payout_outcome(transfer: TransferInfo) -> Outcome:
    """A transfer created is a payout paid; reversed in full, it came back."""
    if transfer.reversed or (transfer.amount > 0 and transfer.amount_reversed >= transfer.amount):
        return Outcome(PaymentState.REFUNDED, transfer.transfer_id, error="the transfer was reversed")
    return Outcome(PaymentState.SUCCEEDED, transfer.transfer_id)


def _refunded_outside_ours(charge: Mapping[str, Any]) -> bool:
    """Whether a refund of the charge was made outside the gateway (no operation of ours in its metadata)."""
    refunds = charge.get("refunds")
    listed = refunds.get("data") if isinstance(refunds, Mapping) else None
    if not isinstance(listed, list):
        return True  # Stripe did not list them: a refund we cannot see as ours is not ours
    return any(isinstance(item, Mapping) and _operation(item) is None for item in listed)


def _dispute(plain: Mapping[str, Any]) -> _Dispute:
    status, created = plain.get("status"), plain.get("created")
    return _Dispute(
        dispute_id=str(plain.get("id")),
        status=status if isinstance(status, str) else "",
        created=created if isinstance(created, int) else 0,
    )


def _operation(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    operation = metadata.get("operation") if isinstance(metadata, Mapping) else None
    return operation if isinstance(operation, str) and operation else None


def _id_of(value: object) -> str | None:
    if isinstance(value, str) and value:
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _charge_refusal(amount: Decimal, currency: str) -> str | None:
    """Why Stripe cannot take ``amount`` as a charge or refund (None: it can), before anything is sent."""
    try:
        to_stripe_charge(amount, currency)
    except StripeAmountRefused as error:
        return str(error)
    return None


def _payout_refusal(request: PayoutRequest) -> str | None:
    try:
        to_stripe_payout(request.amount, request.currency)
    except StripeAmountRefused as error:
        return str(error)
    if not request.destination:
        return "no Stripe account to pay: the creator has not connected one yet (onboarding)"
    if not request.destination.startswith("acct_"):
        return "the destination is not a Stripe account id (acct_…)"
    return None


# options


def _refuse_inline_secrets(rail: str, options: Mapping[str, Any]) -> None:
    """A secret in the deployment file ends up in a repository: refuse it, and say where it goes."""
    where = (
        f"set {SECRET_KEY_ENV} and {WEBHOOK_SECRET_ENV} in the environment, or put secret_key and webhook_secret "
        f"in a TOML file named by rails.{rail}.secrets_file"
    )
    for key, value in options.items():
        inline_name = key != "secrets_file" and ("secret" in key.lower() or key.lower() in ("api_key", "key", "password"))
        inline_value = isinstance(value, str) and value.startswith(SECRET_PREFIXES)
        if inline_name or inline_value:
            raise ConfigError(f"rails.{rail}.{key}: secrets never go in the deployment file: {where}")


def _currencies(rail: str, codes: object) -> frozenset[str]:
    if not isinstance(codes, list) or not all(isinstance(code, str) for code in codes):
        raise ConfigError(f'rails.{rail}.currencies: expected a list of currency codes such as ["EUR"]')
    for code in codes:
        if not _CURRENCY.fullmatch(code):
            raise ConfigError(f"rails.{rail}.currencies: Stripe moves ISO 4217 currencies only, not {code!r}")
    return frozenset(codes)


def _api_base(rail: str, raw: object) -> str:
    """Stripe's address, or a test server's: https, or http on this machine only (the key goes with every request)."""
    if not isinstance(raw, str):
        raise ConfigError(f"rails.{rail}.api_base: expected an address such as https://api.stripe.com")
    parts = urlsplit(raw)
    host = parts.hostname or ""
    if parts.scheme == "https" and host:
        return raw.rstrip("/")
    if parts.scheme == "http" and is_loopback(host):
        return raw.rstrip("/")
    raise ConfigError(f"rails.{rail}.api_base: expected an https address (or http on 127.0.0.1 for a test server), got {raw!r}")


def _country(rail: str, raw: object, key: str) -> str:
    if not isinstance(raw, str) or not _COUNTRY.fullmatch(raw):
        raise ConfigError(f'rails.{rail}.{key}: expected a two-letter country code such as "FR", got {raw!r}')
    return raw


def _seconds(rail: str, raw: object, key: str) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or not 0 < raw <= 300:
        raise ConfigError(f"rails.{rail}.{key}: expected a number of seconds above 0, at most 300, got {raw!r}")
    return float(raw)


def _publishable_key(rail: str, raw: object) -> str | None:
    if raw is None:
        return None
    if not isinstance(raw, str) or not raw.startswith("pk_"):
        raise ConfigError(f"rails.{rail}.publishable_key: expected Stripe's publishable key (pk_…)")
    return raw


def _secrets(rail: str, secrets_file: object) -> tuple[str, str | None]:
    """The secret key and the webhook secret: from ``secrets_file`` where one is named, else from the environment."""
    if secrets_file is not None:
        if not isinstance(secrets_file, str) or not secrets_file:
            raise ConfigError(f"rails.{rail}.secrets_file: expected the path of a TOML file")
        secret_key, webhook_secret = _read_secrets_file(rail, Path(secrets_file))
        source = f"the secrets file {secrets_file}"
    else:
        secret_key, webhook_secret = os.environ.get(SECRET_KEY_ENV) or None, os.environ.get(WEBHOOK_SECRET_ENV) or None
        source = f"the environment ({SECRET_KEY_ENV}, {WEBHOOK_SECRET_ENV})"
    if secret_key is None:
        raise ConfigError(
            f"rails.{rail}: no Stripe secret key: set {SECRET_KEY_ENV} in the environment, "
            f"or secret_key in a TOML file named by rails.{rail}.secrets_file"
        )
    if secret_key.startswith("pk_"):
        raise ConfigError(f"rails.{rail}: the secret key from {source} is a publishable key (pk_…): use the secret key (sk_…)")
    if not secret_key.startswith(("sk_", "rk_")) or len(secret_key) < 8:
        raise ConfigError(
            f"rails.{rail}: the secret key from {source} is not a Stripe secret key (sk_…) or restricted key (rk_…)"
        )
    if webhook_secret is not None and not webhook_secret.startswith("whsec_"):
        raise ConfigError(f"rails.{rail}: the webhook secret from {source} is not a Stripe signing secret (whsec_…)")
    return secret_key, webhook_secret


def _read_secrets_file(rail: str, path: Path) -> tuple[str | None, str | None]:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise ConfigError(f"rails.{rail}.secrets_file: cannot read {path} ({error.strerror or 'unreadable'})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError):
        raise ConfigError(f"rails.{rail}.secrets_file: {path} is not a TOML file") from None  # its text may hold a secret
    unknown = sorted(set(data) - SECRETS_FILE_KEYS)
    if unknown:
        raise ConfigError(f"rails.{rail}.secrets_file: {path} has {unknown[0]!r}; it takes only secret_key and webhook_secret")
    values = []
    for key in ("secret_key", "webhook_secret"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise ConfigError(f"rails.{rail}.secrets_file: {key} in {path} must be a string")
        values.append(value or None)
    return values[0], values[1]
