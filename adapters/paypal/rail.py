"""The PayPal rail: top-ups through Orders v2, payouts through Payouts v1, refunds, verified webhooks.

Top-ups. ``start_top_up`` creates an order (``intent=CAPTURE``) under our
operation id as ``PayPal-Request-Id`` and ``custom_id``, and answers
``requires_action`` with the approve link; the funder approves at PayPal and
comes back. Asking again (the funder's refresh, a webhook, the janitor) reads
the order and captures an approved one, under ``<operation>:capture``, so a
capture whose answer was lost is asked for again under the same id and made
once. The order's id stays the top-up's reference: a refund finds its capture
in the order.

==============================================  ==================================
PayPal                                          us
==============================================  ==================================
order CREATED, SAVED, PAYER_ACTION_REQUIRED     requires_action (the approve link)
order APPROVED                                  captured now, then as the capture
capture COMPLETED, PARTIALLY_REFUNDED           succeeded, with PayPal's fee
capture PENDING                                 processing
capture REFUNDED, REVERSED                      refunded
capture DECLINED, FAILED; order VOIDED          failed
capture refused for the buyer's reasons         failed (``INSTRUMENT_DECLINED``, ...)
order unknown to PayPal (404)                   failed (an order never approved expires)
==============================================  ==================================

Payouts. One batch per withdrawal, ``sender_batch_id`` and ``sender_item_id``
our operation id, to the creator's PayPal address (``destination``). The
batch's id is the reference; once the item was seen paid the reference ends
with ``:paid`` (as the sandbox's ends with how it ended), because PayPal's
item says what it is now, not what it was, and the same news means two
things: an item RETURNED after SUCCESS is money that came back after it was
paid (``refunded``: the use case returns it to earnings at the recorded
rate), and one RETURNED while unclaimed never left (``failed``: the
reservation is voided).

==============================================  ==================================
payout item                                     us
==============================================  ==================================
SUCCESS                                         succeeded
PENDING, ONHOLD, UNCLAIMED                      processing (UNCLAIMED with a note)
FAILED, RETURNED, BLOCKED, DENIED, REFUNDED,    failed, or refunded where it was
REVERSED                                        seen paid before
==============================================  ==================================

UNCLAIMED is not final: PayPal keeps the money 30 days for a receiver who
has no account yet, and pays them if they open one; giving it back to the
creator's earnings then would pay twice. It becomes RETURNED (failed, back to
earnings) if they never claim it.

A payout whose answer never came has no reference: it is made again with
``create_or_find_payout``, which PayPal answers with the first batch within 30
days. Past that window PayPal would make a second payout, so the rail answers
``unknown`` for a person to look at; the window is counted by the request's
``age`` (since the withdrawal was recorded).

Refunds are made on the capture of the order the top-up names, under the
refund's operation id. Webhooks are verified by PayPal
(``verify-webhook-signature``) and taken as hints naming a payment.

Errors. PayPal not answering (a timeout, a 5xx, a 429, a request still in
progress) is ``RailUnavailable``: the operation is unknown and asked about
again. PayPal refusing our request (the credentials, a bad request) is
``RailRefused``. A refusal that concerns the payment itself (the buyer's
instrument declined, the receiver's address refused, a refund PayPal will not
make) is a ``failed`` outcome with PayPal's reason. An amount PayPal cannot
represent (10.50 HUF: PayPal takes no decimals in HUF, JPY and TWD) is a
``failed`` outcome before anything is sent.

Credentials never come from the deployment file: ``PAYPAL_CLIENT_ID``,
``PAYPAL_SECRET`` and ``PAYPAL_WEBHOOK_ID`` are read from the TOML file named
by ``secrets_file``, else from the environment. The secret shows nowhere.

A rail may be called from several event loops over its life (the CLI runs
one per command): it keeps one client, with its aiohttp session and token,
per running loop, and ``close()`` closes them.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tomllib
from collections.abc import Mapping
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from adapters.base import Outcome, PayoutRequest, RefundRequest, Subject, TopUpRequest, WebhookEvent
from adapters.options import is_loopback, reject_unknown
from adapters.paypal.client import LIVE_URL, SENDER_BATCH_ID_WINDOW, PayPalClient
from adapters.paypal.errors import PayPalAmountError, PayPalAuthError, PayPalDuplicateBatch, PayPalError, PayPalUnavailable
from adapters.paypal.minor import PAYPAL_DECIMALS, to_paypal
from adapters.paypal.models import (
    ITEM_FAILED,
    ITEM_IN_FLIGHT,
    ITEM_SUCCEEDED,
    Capture,
    Order,
    PayoutBatch,
    PayoutItem,
    PayoutLine,
    link,
)
from adapters.secrets import Secret
from adapters.states import PaymentState
from currencies import Rate
from gateway.clock import Clock, SystemClock
from gateway.errors import ConfigError, GatewayError, RailRefused, RailUnavailable, WebhookRefused

log = logging.getLogger("adapters.paypal")

OPTIONS = {"base_url", "secrets_file", "brand_name", "timeout"}
# The credentials, by the name they have in the environment and in the secrets file.
CLIENT_ID, SECRET, WEBHOOK_ID = "PAYPAL_CLIENT_ID", "PAYPAL_SECRET", "PAYPAL_WEBHOOK_ID"
CREDENTIALS = {"client_id": CLIENT_ID, "secret": SECRET, "webhook_id": WEBHOOK_ID}  # option -> where it belongs

DEFAULT_TIMEOUT = 30.0
MAX_TIMEOUT = 300.0
MAX_BRAND_NAME = 127  # PayPal's limit on application_context.brand_name

CAPTURE = ":capture"  # our capture's PayPal-Request-Id: the top-up's operation id and this
DECLINED = ":declined"  # the end of a top-up's reference whose capture PayPal declined: never captured again
PAID = ":paid"  # the end of a payout's reference once its item was seen paid
# PayPal-Request-Id and sender_batch_id are kept 30 days; a day's margin for clocks and PayPal's own counting.
PAYOUT_WINDOW = SENDER_BATCH_ID_WINDOW - timedelta(days=1)

ORDER_AWAITS_BUYER = frozenset({"CREATED", "SAVED", "PAYER_ACTION_REQUIRED"})
CAPTURE_SUCCEEDED = frozenset({"COMPLETED", "PARTIALLY_REFUNDED"})
CAPTURE_GIVEN_BACK = frozenset({"REFUNDED", "REVERSED"})
CAPTURE_FAILED = frozenset({"DECLINED", "FAILED"})
# Capture refusals about the buyer's payment, not our request: the top-up fails, with PayPal's reason.
BUYER_ISSUES = frozenset(
    {
        "INSTRUMENT_DECLINED",
        "PAYER_ACCOUNT_LOCKED_OR_CLOSED",
        "PAYER_ACCOUNT_RESTRICTED",
        "PAYER_CANNOT_PAY",
        "TRANSACTION_REFUSED",
        "COMPLIANCE_VIOLATION",
        "MAX_NUMBER_OF_PAYMENT_ATTEMPTS_EXCEEDED",
        "ORDER_EXPIRED",
        "ORDER_VOIDED",
    }
)
REFUND_DONE, REFUND_PENDING, REFUND_FAILED = "COMPLETED", "PENDING", frozenset({"FAILED", "CANCELLED"})


class PayPalRail:
    """PayPal, built as ``PayPalRail(name=..., options=...)`` from the ``[rails.paypal]`` table.

    ``clock`` tells the payout window's time (and the client's token renewal);
    the deployment builds the rail without one, and it reads the system's.
    """

    needs_destination = True  # a payout goes to the creator's PayPal address (``payout_destinations``)

    def __init__(self, name: str = "paypal", options: Mapping[str, Any] | None = None, *, clock: Clock | None = None) -> None:
        options = options or {}
        for option, variable in CREDENTIALS.items():
            if option in options:
                raise ConfigError(
                    f"rails.{name}.{option}: PayPal's credentials never go in the deployment file: set {variable} in "
                    f"the environment, or in the TOML file named by rails.{name}.secrets_file"
                )
        reject_unknown(name, options, OPTIONS)
        self.name = name
        self.base_url = _base_url(name, options.get("base_url", LIVE_URL))
        self.timeout = _timeout(name, options.get("timeout", DEFAULT_TIMEOUT))
        self.brand_name = _brand_name(name, options.get("brand_name"))
        configured = options.get("currencies", list(PAYPAL_DECIMALS))
        if not isinstance(configured, list) or not all(isinstance(code, str) for code in configured):
            raise ConfigError(f'rails.{name}.currencies: expected a list of currency codes such as ["EUR"]')
        self.currencies = frozenset(configured) & frozenset(PAYPAL_DECIMALS)  # those PayPal takes
        found = _credentials(name, options.get("secrets_file"))
        client_id, secret = found.get(CLIENT_ID), found.get(SECRET)
        if client_id is None or secret is None:
            missing = CLIENT_ID if client_id is None else SECRET
            raise ConfigError(
                f"rails.{name}: no {missing}: set it in the environment, or in the TOML file named by rails.{name}.secrets_file"
            )
        self.client_id = client_id
        self._secret = Secret(secret)
        self.webhook_id = found.get(WEBHOOK_ID)  # without it, no webhook can be verified: all are refused
        self._clock: Clock = clock or SystemClock()
        self._clients: dict[asyncio.AbstractEventLoop, PayPalClient] = {}

    def __repr__(self) -> str:
        return f"PayPalRail(name={self.name!r}, base_url={self.base_url!r}, client_id={self.client_id!r})"

    def takes(self, currency: str) -> bool:
        return currency in self.currencies

    def pays(self, currency: str) -> bool:
        return currency in self.currencies

    def rate(self, base: str, quote: str, on: date) -> Rate | None:
        return None  # PayPal converts only inside its own account: the deployment's rates apply

    async def close(self) -> None:
        clients, self._clients = self._clients, {}
        current = asyncio.get_running_loop()
        for loop, client in clients.items():
            if loop is current:
                await client.close()
            elif loop.is_running():  # another thread's loop: its session is closed there
                asyncio.run_coroutine_threadsafe(client.close(), loop)

    # --- top-ups ---------------------------------------------------------------------------

    async def start_top_up(self, request: TopUpRequest) -> Outcome:
        refused = _unpayable(request.amount, request.currency)
        if refused is not None:
            return Outcome(PaymentState.FAILED, error=refused)
        return await self._order_outcome(request, await self._create_order(request))

    async def top_up_state(self, request: TopUpRequest, reference: str | None) -> Outcome:
        if reference is None:  # no answer ever came: the same request id gives back the order made then, if any
            refused = _unpayable(request.amount, request.currency)
            if refused is not None:
                return Outcome(PaymentState.FAILED, error=refused)
            created = await self._create_order(request)
            return await self._order_outcome(request, await self._refetched(created.id))
        order_id, mark = _marked(reference)
        if mark == DECLINED:  # PayPal declined the buyer's payment: the order is never captured again
            return Outcome(
                PaymentState.FAILED, reference, error="PayPal declined the buyer's payment: a new top-up can pay another way"
            )
        try:
            order = await self._order(order_id)
        except PayPalError as error:
            if error.status == 404:
                return Outcome(
                    PaymentState.FAILED, order_id, error=f"PayPal no longer knows order {order_id}: it expired unapproved"
                )
            raise _rail_error(error) from None
        return await self._order_outcome(request, order)

    async def _create_order(self, request: TopUpRequest) -> Order:
        try:
            return await self._client().create_order(
                request.operation,
                request.amount,
                request.currency,
                request.return_url,
                request.return_url,  # cancelled or not, the funder comes back to the top-up's page, which asks again
                request.operation,
                self.brand_name,
                description=f"Top-up for {request.funder}"[:127],
            )
        except PayPalError as error:
            raise _rail_error(error) from None

    async def _order(self, order_id: str) -> Order:
        """The order; a PayPalError is left to the caller (a 404 means something there)."""
        try:
            return await self._client().get_order(order_id)
        except PayPalUnavailable as error:
            raise _rail_error(error) from None

    async def _order_outcome(self, request: TopUpRequest, order: Order) -> Outcome:
        if order.status in ORDER_AWAITS_BUYER:
            return _awaiting(order)
        if order.status == "APPROVED":
            return await self._capture(request, order)
        if order.status == "COMPLETED":
            return await self._completed(order)
        if order.status == "VOIDED":
            return Outcome(PaymentState.FAILED, order.id, error="PayPal voided the order: it was never paid")
        raise RailUnavailable(
            f"{self.name}: order {order.id} is {order.status!r}, which this rail cannot read; asked again later"
        )

    async def _capture(self, request: TopUpRequest, order: Order) -> Outcome:
        try:
            capture = await self._client().capture_order(order.id, request.operation + CAPTURE)
        except PayPalUnavailable as error:
            raise _rail_error(error) from None
        except PayPalError as error:
            if error.issue == "ORDER_ALREADY_CAPTURED":  # captured before, its answer lost: read it
                return await self._completed(await self._refetched(order.id))
            if error.issue in ("ORDER_NOT_APPROVED", "PAYER_ACTION_REQUIRED"):
                return _awaiting(order)
            if error.issue in BUYER_ISSUES:
                log.info("PayPal declined the capture of order %s (%s)", order.id, error.issue)
                return Outcome(
                    PaymentState.FAILED,
                    order.id + DECLINED,
                    error=f"PayPal declined the buyer's payment ({error.issue}; debug_id {error.debug_id})",
                )
            raise _rail_error(error) from None
        return _capture_outcome(order.id, capture)

    async def _refetched(self, order_id: str) -> Order:
        try:
            return await self._order(order_id)
        except PayPalError as error:
            raise _rail_error(error) from None

    async def _completed(self, order: Order) -> Outcome:
        """A captured order: the capture as PayPal has it now (refunded since, say)."""
        if not order.captures:
            raise RailUnavailable(f"{self.name}: order {order.id} is completed but PayPal shows no capture; asked again later")
        try:
            capture = await self._client().get_capture(order.captures[0].id)
        except PayPalError as error:
            raise _rail_error(error) from None
        return _capture_outcome(order.id, capture)

    # --- payouts ---------------------------------------------------------------------------

    async def start_payout(self, request: PayoutRequest) -> Outcome:
        refused = _unpayable_payout(request)
        if refused is not None:
            return refused
        return await self._make_or_find_payout(request)

    async def payout_state(self, request: PayoutRequest, reference: str | None) -> Outcome:
        if reference is None:
            refused = _unpayable_payout(request)
            if refused is not None:
                return refused
            return await self._make_or_find_payout(request)
        batch_id, mark = _marked(reference)
        try:
            batch = await self._client().get_payout_batch(batch_id)
        except PayPalError as error:
            raise _rail_error(error) from None
        return self._payout_outcome(request, batch, paid=mark == PAID)

    async def _make_or_find_payout(self, request: PayoutRequest) -> Outcome:
        """Make the payout, or find the one made under its id before: only while PayPal remembers the id."""
        if request.age is not None and request.age >= PAYOUT_WINDOW:
            return Outcome(
                PaymentState.UNKNOWN,
                error=(
                    f"PayPal forgets a payout's id after {SENDER_BATCH_ID_WINDOW.days} days and would pay again: "
                    f"look for sender_batch_id {request.operation} in the PayPal account"
                ),
            )
        assert request.destination is not None  # _unpayable_payout saw to it
        line = PayoutLine(
            request.destination, request.amount, request.currency, request.operation, f"Earnings of {request.creator}"
        )
        subject = f"Your earnings from {self.brand_name}" if self.brand_name else None
        client = self._client()
        try:
            batch = await client.create_or_find_payout(request.operation, [line], email_subject=subject)
        except PayPalDuplicateBatch as error:  # made before, and PayPal does not say which batch it is
            return Outcome(
                PaymentState.UNKNOWN,
                error=f"PayPal says a payout {request.operation} exists but does not link it ({error.debug_id}): look for it",
            )
        except PayPalUnavailable as error:
            raise _rail_error(error) from None
        except PayPalError as error:
            if _about_the_receiver(error):
                return Outcome(
                    PaymentState.FAILED, error=f"PayPal refused the receiver's address ({error.name}: {error.message})"
                )
            raise _rail_error(error) from None
        if not batch.items:  # a batch just made: PayPal answers with its id only
            try:
                batch = await client.get_payout_batch(batch.payout_batch_id)
            except PayPalUnavailable:
                return Outcome(PaymentState.PROCESSING, batch.payout_batch_id)  # made: its outcome is asked for later
            except PayPalError as error:
                raise _rail_error(error) from None
        return self._payout_outcome(request, batch, paid=False)

    def _payout_outcome(self, request: PayoutRequest, batch: PayoutBatch, *, paid: bool) -> Outcome:
        reference = batch.payout_batch_id + (PAID if paid else "")
        item = next((item for item in batch.items if item.sender_item_id == request.operation), None)
        if item is None:
            if batch.batch_status in ("DENIED", "CANCELED"):
                state = PaymentState.REFUNDED if paid else PaymentState.FAILED
                return Outcome(state, reference, error=f"PayPal {batch.batch_status.lower()} the payout batch")
            return Outcome(PaymentState.PROCESSING, reference)
        _same_payout(self.name, request, batch, item)
        status = item.transaction_status or ""
        if status in ITEM_SUCCEEDED:
            return Outcome(PaymentState.SUCCEEDED, batch.payout_batch_id + PAID)
        reason = f" ({item.error_name}: {item.error_message})" if item.error_name else ""
        if status in ITEM_FAILED:
            state = PaymentState.REFUNDED if paid else PaymentState.FAILED
            return Outcome(state, reference, error=f"PayPal: the payout was {status.lower()}{reason}")
        if status == "UNCLAIMED":
            note = "the receiver has no PayPal account yet: PayPal keeps the payout for them 30 days, then returns it"
            return Outcome(PaymentState.PROCESSING, reference, error=note)
        if status not in ITEM_IN_FLIGHT:
            log.warning("PayPal payout item %s has the status %r, which this rail cannot read", item.payout_item_id, status)
        return Outcome(PaymentState.PROCESSING, reference)

    # --- refunds ---------------------------------------------------------------------------

    async def refund(self, request: RefundRequest) -> Outcome:
        refused = _unpayable(request.amount, request.currency)
        if refused is not None:
            return Outcome(PaymentState.FAILED, error=refused)
        order_id, _ = _marked(request.payment)
        client = self._client()
        try:
            order = await client.get_order(order_id)
        except PayPalError as error:
            raise _rail_error(error) from None
        if not order.captures:
            raise RailRefused(f"{self.name}: order {order_id} has no capture to refund")
        try:
            given = await client.refund_capture(order.captures[0].id, request.operation, request.amount, request.currency)
        except PayPalUnavailable as error:
            raise _rail_error(error) from None
        except PayPalError as error:
            if error.status == 422:  # PayPal will not make this refund (refunded already, too much, too late)
                return Outcome(
                    PaymentState.FAILED, error=f"PayPal refused the refund ({error.issue or error.name}: {error.message})"
                )
            raise _rail_error(error) from None
        if given.status == REFUND_DONE:
            return Outcome(PaymentState.SUCCEEDED, given.id)
        if given.status == REFUND_PENDING:
            return Outcome(PaymentState.PROCESSING, given.id)
        if given.status in REFUND_FAILED:
            return Outcome(PaymentState.FAILED, given.id, error=f"PayPal: the refund is {given.status.lower()}")
        raise RailUnavailable(f"{self.name}: refund {given.id} is {given.status!r}, which this rail cannot read")

    # --- webhooks --------------------------------------------------------------------------

    async def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent | None:
        if self.webhook_id is None:
            raise WebhookRefused(f"{self.name}: no {WEBHOOK_ID} is configured, so no webhook can be verified")
        try:
            verified = await self._client().verify_webhook_signature(self.webhook_id, headers, body)
        except PayPalError as error:
            raise _rail_error(error) from None
        if not verified:
            raise WebhookRefused(f"{self.name}: PayPal does not vouch for this webhook (its signature, headers or webhook id)")
        event = json.loads(body)  # verified: PayPal sent it, and it is a JSON object
        event_id, event_type, resource = event.get("id"), event.get("event_type"), event.get("resource")
        if not isinstance(event_id, str) or not isinstance(event_type, str) or not isinstance(resource, Mapping):
            raise WebhookRefused(f"{self.name}: a PayPal event without an id, a type or a resource")
        found = await self._named(event_type, resource)
        if found is None:
            return None
        subject, operation, reference = found
        return WebhookEvent(event_id, event_type, subject, operation, reference)

    async def _named(self, event_type: str, resource: Mapping[str, Any]) -> tuple[Subject, str | None, str | None] | None:
        """The payment an event is news of: (subject, our operation id, PayPal's reference), or None for no payment of ours."""
        if event_type.startswith("CHECKOUT.ORDER."):
            unit = _first(resource.get("purchase_units"))
            return "top_up", _text(unit.get("custom_id")), _text(resource.get("id"))
        if event_type.startswith("PAYMENT.CAPTURE."):
            return ("top_up", *await self._capture_news(resource))
        if event_type.startswith("PAYMENT.PAYOUTS-ITEM."):
            inner = resource.get("payout_item")
            sender = _text(inner.get("sender_item_id")) if isinstance(inner, Mapping) else None
            return "payout", sender or _text(resource.get("sender_item_id")), _text(resource.get("payout_batch_id"))
        if event_type.startswith("PAYMENT.PAYOUTSBATCH."):
            header = resource.get("batch_header")
            header = header if isinstance(header, Mapping) else {}
            sender = header.get("sender_batch_header")
            operation = _text(sender.get("sender_batch_id")) if isinstance(sender, Mapping) else None
            return "payout", operation, _text(header.get("payout_batch_id"))
        if event_type.startswith("CUSTOMER.DISPUTE."):
            disputed = _first(resource.get("disputed_transactions"))
            operation = _text(disputed.get("custom")) or _text(disputed.get("custom_id"))
            capture_id = _text(disputed.get("seller_transaction_id"))
            if capture_id is None:
                return "top_up", operation, None
            found, order_id = await self._capture_ids(capture_id)
            return "top_up", operation or found, order_id
        return None

    async def _capture_news(self, resource: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(operation, order id) of a capture event: its resource is the capture, or a refund of it."""
        up = link(resource, "up") or ""
        if "/v2/payments/captures/" in up:  # a refund or a reversal: news of the capture it gave back
            return await self._capture_ids(_last_segment(up))
        related = resource.get("supplementary_data")
        related = related.get("related_ids") if isinstance(related, Mapping) else None
        order_id = _text(related.get("order_id")) if isinstance(related, Mapping) else None
        if order_id is None and "/v2/checkout/orders/" in up:
            order_id = _last_segment(up)
        return _text(resource.get("custom_id")), order_id

    async def _capture_ids(self, capture_id: str) -> tuple[str | None, str | None]:
        """(operation, order id) of a capture, asked of PayPal; (None, None) for one it does not know."""
        try:
            capture = await self._client().get_capture(capture_id)
        except PayPalError as error:
            if error.status == 404 and not isinstance(error, PayPalUnavailable):  # not a capture of this account's
                return None, None
            raise _rail_error(error) from None  # unknown now: the webhook is refused for now, and PayPal sends it again
        return capture.custom_id, capture.order_id

    # --- the client, one per event loop ----------------------------------------------------

    def _client(self) -> PayPalClient:
        loop = asyncio.get_running_loop()
        client = self._clients.get(loop)
        if client is None:
            for gone in [other for other in self._clients if other.is_closed()]:
                del self._clients[gone]  # a loop that ended without closing us: its connections ended with it
            client = PayPalClient(self.base_url, self.client_id, self._secret.reveal(), timeout=self.timeout, clock=self._clock)
            self._clients[loop] = client
        return client


# --- outcomes ----------------------------------------------------------------------------------


def _awaiting(order: Order) -> Outcome:
    action = {"type": "redirect", "url": order.approve_url} if order.approve_url else None
    return Outcome(PaymentState.REQUIRES_ACTION, order.id, next_action=action)


def _capture_outcome(order_id: str, capture: Capture) -> Outcome:
    if capture.status in CAPTURE_SUCCEEDED:
        return Outcome(PaymentState.SUCCEEDED, order_id, fee=capture.fee)
    if capture.status == "PENDING":
        return Outcome(PaymentState.PROCESSING, order_id)
    if capture.status in CAPTURE_GIVEN_BACK:
        return Outcome(PaymentState.REFUNDED, order_id)
    if capture.status in CAPTURE_FAILED:
        return Outcome(PaymentState.FAILED, order_id, error=f"PayPal: the capture was {capture.status.lower()}")
    raise RailUnavailable(f"paypal: capture {capture.id} is {capture.status!r}, which this rail cannot read; asked again later")


def _unpayable(amount: Decimal, currency: str) -> str | None:
    """Why PayPal cannot take ``amount`` (10.50 HUF), before anything is sent; None where it can."""
    try:
        to_paypal(amount, currency)
    except PayPalAmountError as error:
        return error.message
    return None


def _unpayable_payout(request: PayoutRequest) -> Outcome | None:
    if not request.destination:
        return Outcome(PaymentState.FAILED, error="no PayPal address to pay: the creator has not given one")
    refused = _unpayable(request.amount, request.currency)
    return Outcome(PaymentState.FAILED, error=refused) if refused is not None else None


def _same_payout(rail: str, request: PayoutRequest, batch: PayoutBatch, item: PayoutItem) -> None:
    """PayPal's item under our id pays what we asked: else the id was used by another (a second deployment, a reset database)."""
    mismatch = (
        (item.amount is not None and item.amount != request.amount)
        or (item.currency is not None and item.currency != request.currency)
        or (
            item.receiver is not None and request.destination is not None and item.receiver.lower() != request.destination.lower()
        )
    )
    if mismatch:
        raise RailRefused(
            f"{rail}: PayPal's batch {batch.payout_batch_id} under {request.operation} pays another amount or receiver: "
            "was this id used by another deployment on the same PayPal account?"
        )


def _about_the_receiver(error: PayPalError) -> bool:
    """A payout refused for its receiver's address (the creator's to fix), not for our request."""
    for detail in error.details:
        if "receiver" in str(detail.get("field", "")).lower():
            return True
    return False


def _rail_error(error: PayPalError) -> GatewayError:
    """PayPal's error as the use cases read it: unknown (ask again later) or refused (a person must look)."""
    if isinstance(error, PayPalUnavailable):
        return RailUnavailable(f"paypal: {error}")
    if isinstance(error, PayPalAuthError):
        return RailRefused(f"paypal: PayPal refused the client id and secret ({error})")
    return RailRefused(f"paypal: {error}")


# --- options -----------------------------------------------------------------------------------


def _base_url(rail: str, value: Any) -> str:
    """PayPal's address: https, or plain http to this machine only (a test server), never the credentials in clear."""
    parts = urlsplit(value) if isinstance(value, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"rails.{rail}.base_url: expected an https address such as {LIVE_URL!r}, got {value!r}")
    if parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ConfigError(f"rails.{rail}.base_url: PayPal is reached over https (plain http only to this machine)")
    return str(value).rstrip("/")


def _timeout(rail: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal) or not 0 < value <= MAX_TIMEOUT:
        raise ConfigError(f"rails.{rail}.timeout: expected seconds, more than 0 and at most {MAX_TIMEOUT:g}, got {value!r}")
    return float(value)


def _brand_name(rail: str, value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_BRAND_NAME:
        raise ConfigError(f"rails.{rail}.brand_name: expected a name of 1 to {MAX_BRAND_NAME} characters")
    return value


def _credentials(rail: str, secrets_file: Any) -> dict[str, str]:
    """The credentials: each from the secrets file where it has it, else from the environment."""
    found = _secrets_file(rail, secrets_file) if secrets_file is not None else {}
    for variable in CREDENTIALS.values():
        if variable not in found and os.environ.get(variable):
            found[variable] = os.environ[variable]
    return found


def _secrets_file(rail: str, value: Any) -> dict[str, str]:
    key = f"rails.{rail}.secrets_file"
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{key}: expected the path of a TOML file")
    path = Path(value).expanduser()
    try:
        with path.open("rb") as file:
            data = tomllib.load(file)
    except OSError as error:
        raise ConfigError(f"{key}: cannot read {path} ({error.strerror or type(error).__name__})") from None
    except tomllib.TOMLDecodeError as error:  # its message names a line and a column, never a value
        raise ConfigError(f"{key}: {path} is not TOML ({error})") from None
    known = set(CREDENTIALS.values())
    found: dict[str, str] = {}
    for name, secret in data.items():
        if name not in known:
            raise ConfigError(f"{key}: {path} has {name!r}; it may hold {', '.join(sorted(known))}")
        if not isinstance(secret, str) or not secret:
            raise ConfigError(f"{key}: {name} in {path} must be a non-empty string")
        found[name] = secret
    return found


# --- reading -----------------------------------------------------------------------------------


def _marked(reference: str) -> tuple[str, str | None]:
    """A reference and the mark at its end (``:declined``, ``:paid``), if any: PayPal's ids have no colon."""
    for mark in (DECLINED, PAID):
        if reference.endswith(mark):
            return reference[: -len(mark)], mark
    return reference, None


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _first(value: Any) -> Mapping[str, Any]:
    return value[0] if isinstance(value, list) and value and isinstance(value[0], Mapping) else {}


def _last_segment(href: str) -> str:
    return urlsplit(href).path.rstrip("/").rsplit("/", 1)[-1]
