"""A thin wrapper around Stripe's official SDK: async only, on aiohttp, in the gateway's terms.

``StripeApi`` calls only the SDK's ``*_async`` methods through
``stripe.AIOHTTPClient``, so the event loop never blocks on Stripe. It takes
and gives exact ``Decimal`` amounts (``adapters.stripe.minor`` converts them,
by Stripe's own table), passes our id of the operation as the idempotency
key and as ``metadata["operation"]``, and answers small frozen records of
what the gateway needs instead of the SDK's objects. Errors become the
gateway's (``adapters.stripe.errors``): unknown (``StripeUnavailable``)
or refused (``StripeRequestRefused``); a declined card is an outcome.

The secret key is given to the SDK and kept nowhere else: no attribute,
``repr`` or error message of this module shows it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from types import TracebackType
from typing import Any, Literal, TypeVar

import aiohttp
import stripe
from stripe.params import (
    AccountCreateParams,
    PaymentIntentCreateParams,
    RefundCreateParams,
    TransferCreateParams,
)

from adapters.stripe.errors import (
    StripeIdempotencyConflict,
    StripeNotFound,
    StripeRailError,
    StripeRequestRefused,
    StripeSignatureInvalid,
    StripeUnavailable,
)
from adapters.stripe.minor import from_stripe, to_stripe_charge, to_stripe_payout
from gateway.errors import ConfigError

T = TypeVar("T")

FEE = "latest_charge.balance_transaction"  # expanded where an intent may have succeeded: Stripe's fee is there

PaymentState = Literal["created", "requires_action", "processing", "succeeded", "failed"]
RefundState = Literal["pending", "succeeded", "failed"]

# What a funder is told when a card is declined, by Stripe's decline_code or code. Lost, stolen
# and fraudulent cards read as a plain decline, as Stripe advises: never tell a fraudster why.
DECLINES = {
    "card_declined": "the card was declined",
    "generic_decline": "the card was declined",
    "do_not_honor": "the card was declined",
    "lost_card": "the card was declined",
    "stolen_card": "the card was declined",
    "fraudulent": "the card was declined",
    "pickup_card": "the card was declined",
    "insufficient_funds": "the card has insufficient funds",
    "card_velocity_exceeded": "the card's limit was exceeded",
    "expired_card": "the card has expired",
    "incorrect_cvc": "the card's security code is incorrect",
    "invalid_cvc": "the card's security code is incorrect",
    "incorrect_number": "the card number is incorrect",
    "invalid_number": "the card number is incorrect",
    "invalid_expiry_month": "the card's expiry date is incorrect",
    "invalid_expiry_year": "the card's expiry date is incorrect",
    "processing_error": "an error occurred while processing the card: try again",
    "authentication_required": "the card's issuer requires authentication (3-D Secure)",
    "payment_intent_authentication_failure": "the card's authentication (3-D Secure) failed",
    "currency_not_supported": "the card does not support this currency",
}


@dataclass(frozen=True)
class PaymentOutcome:
    """Where a PaymentIntent stands, in our states.

    ``client_secret`` is the funder's next step (Stripe.js confirms or
    authenticates with it): given while ``created`` or ``requires_action``,
    and kept out of ``repr``. ``fee`` is Stripe's fee from the charge's
    balance transaction, in that transaction's currency, when Stripe gave one.
    """

    state: PaymentState
    intent_id: str
    amount: Decimal
    currency: str
    operation: str | None  # our id, from metadata["operation"]
    charge_id: str | None = None
    fee: Decimal | None = None
    fee_currency: str | None = None
    failure_code: str | None = None
    failure: str | None = None
    next_action: str | None = None  # Stripe's next_action.type, while requires_action
    client_secret: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class RefundOutcome:
    refund_id: str
    state: RefundState
    amount: Decimal
    currency: str
    payment_intent: str | None
    charge_id: str | None
    operation: str | None
    failure: str | None = None


@dataclass(frozen=True)
class ConnectedAccount:
    account_id: str
    charges_enabled: bool
    payouts_enabled: bool
    details_submitted: bool
    transfers_active: bool  # the transfers capability: a transfer to the account needs it
    country: str | None
    default_currency: str | None
    requirements_due: tuple[str, ...] = ()


@dataclass(frozen=True)
class AccountLink:
    url: str  # where the creator goes to onboard (single use, expires)
    expires_at: int


@dataclass(frozen=True)
class TransferReversal:
    reversal_id: str
    amount: Decimal
    currency: str
    created: int


@dataclass(frozen=True)
class TransferInfo:
    transfer_id: str
    destination: str
    amount: Decimal
    currency: str
    amount_reversed: Decimal
    reversed: bool
    operation: str | None
    reversals: tuple[TransferReversal, ...] = ()
    destination_payment: str | None = None


@dataclass(frozen=True)
class DisputeInfo:
    dispute_id: str
    status: str  # warning_needs_response, needs_response, under_review, won, lost, …
    reason: str
    amount: Decimal
    currency: str
    charge_id: str | None
    payment_intent: str | None


@dataclass(frozen=True)
class WebhookEvent:
    """A webhook whose signature was verified. Fetch the object again before acting: events come late and out of order."""

    event_id: str
    type: str
    created: int
    account: str | None  # the connected account, for a Connect event
    object: dict[str, Any]


class StripeApi:
    """Stripe, for the gateway. One instance per event loop; ``await close()`` (or ``async with``) at the end.

    ``api_base`` points the SDK elsewhere (a test server); ``max_network_retries``
    lets the SDK retry a failed call itself, with the same idempotency key;
    ``timeout`` (seconds) bounds each HTTP request.
    """

    def __init__(
        self,
        api_key: str,
        *,
        api_base: str | None = None,
        max_network_retries: int = 2,
        timeout: float = 30.0,
        stripe_version: str | None = None,
    ) -> None:
        if not isinstance(api_key, str) or not api_key.startswith(("sk_", "rk_")) or len(api_key) < 8:
            raise ConfigError("the Stripe API key must be a secret key (sk_…) or a restricted key (rk_…)")
        self._mode = "live" if "_live_" in api_key else "test"
        self._base = api_base or stripe.DEFAULT_API_BASE
        self._http = stripe.AIOHTTPClient(timeout=aiohttp.ClientTimeout(total=timeout))
        self._client = stripe.StripeClient(
            api_key,
            http_client=self._http,
            base_addresses={"api": self._base, "connect": self._base} if api_base else None,
            max_network_retries=max_network_retries,
            stripe_version=stripe_version,
        )

    def __repr__(self) -> str:
        return f"StripeApi(base={self._base!r}, mode={self._mode!r})"

    async def close(self) -> None:
        await self._http.close_async()  # type: ignore[no-untyped-call]  # the SDK leaves it unannotated

    async def __aenter__(self) -> StripeApi:
        return self

    async def __aexit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        await self.close()

    # PaymentIntents

    async def create_payment_intent(
        self,
        *,
        key: str,
        amount: Decimal,
        currency: str,
        metadata: Mapping[str, str] | None = None,
        payment_method: str | None = None,
    ) -> PaymentOutcome:
        """A PaymentIntent for ``amount``, keyed by our ``key`` (asking twice makes one)."""
        params: PaymentIntentCreateParams = {
            "amount": to_stripe_charge(amount, currency),
            "currency": currency.lower(),
            "metadata": {**(metadata or {}), "operation": key},
        }  # no payment method types: Stripe's default (automatic payment methods), which localstripe also takes
        if payment_method is not None:
            params["payment_method"] = payment_method
        intent = await self._call(self._client.v1.payment_intents.create_async(params, {"idempotency_key": key}))
        return payment_outcome(intent)

    async def confirm_payment_intent(
        self, intent_id: str, *, payment_method: str | None = None, key: str | None = None
    ) -> PaymentOutcome:
        """Confirm the intent (with ``payment_method``, set first); a declined card gives a ``failed`` outcome."""
        if payment_method is not None:
            await self._call(self._client.v1.payment_intents.update_async(intent_id, {"payment_method": payment_method}))
        options: stripe.RequestOptions = {"idempotency_key": f"{key}:confirm"} if key else {}
        try:
            intent = await self._call(
                self._client.v1.payment_intents.confirm_async(intent_id, {"expand": [FEE]}, options), declines=True
            )
        except stripe.CardError:
            return await self.retrieve_payment_intent(intent_id)  # the intent holds the decline, as last_payment_error
        return payment_outcome(intent)

    async def retrieve_payment_intent(self, intent_id: str) -> PaymentOutcome:
        intent = await self._call(self._client.v1.payment_intents.retrieve_async(intent_id, {"expand": [FEE]}))
        return payment_outcome(intent)

    # Refunds

    async def create_refund(
        self,
        *,
        key: str,
        payment_intent: str,
        amount: Decimal | None = None,
        currency: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> RefundOutcome:
        """Refund the intent, whole or ``amount`` of ``currency`` (the intent's), keyed by our ``key``."""
        params: RefundCreateParams = {"payment_intent": payment_intent, "metadata": {**(metadata or {}), "operation": key}}
        if amount is not None:
            if currency is None:
                raise TypeError("a partial refund names its currency")
            params["amount"] = to_stripe_charge(amount, currency)
        refund = await self._call(self._client.v1.refunds.create_async(params, {"idempotency_key": key}))
        return refund_outcome(refund)

    async def retrieve_refund(self, refund_id: str) -> RefundOutcome:
        return refund_outcome(await self._call(self._client.v1.refunds.retrieve_async(refund_id)))

    # Connect

    async def create_express_account(
        self, *, key: str, country: str, email: str | None = None, metadata: Mapping[str, str] | None = None
    ) -> ConnectedAccount:
        """An Express account for a creator, asking for the transfers capability, keyed by our ``key``."""
        params: AccountCreateParams = {
            "type": "express",
            "country": country.upper(),
            "capabilities": {"transfers": {"requested": True}},
            "metadata": {**(metadata or {}), "operation": key},
        }
        if email is not None:
            params["email"] = email
        account = await self._call(self._client.v1.accounts.create_async(params, {"idempotency_key": key}))
        return connected_account(account)

    async def create_account_link(self, *, account: str, refresh_url: str, return_url: str) -> AccountLink:
        """The onboarding page of ``account``: single use, short-lived; ``refresh_url`` should make a new one."""
        link = await self._call(
            self._client.v1.account_links.create_async(
                {"account": account, "refresh_url": refresh_url, "return_url": return_url, "type": "account_onboarding"}
            )
        )
        data = _plain(link)
        return AccountLink(url=_text(data, "url") or "", expires_at=_int(data, "expires_at") or 0)

    async def retrieve_account(self, account_id: str) -> ConnectedAccount:
        return connected_account(await self._call(self._client.v1.accounts.retrieve_async(account_id)))

    async def create_transfer(
        self,
        *,
        key: str,
        destination: str,
        amount: Decimal,
        currency: str,
        metadata: Mapping[str, str] | None = None,
        source_transaction: str | None = None,
        transfer_group: str | None = None,
    ) -> TransferInfo:
        """Move ``amount`` from the platform's balance to a connected account, keyed by our ``key``.

        The amount follows the payout rules (whole HUF and TWD): it is on its
        way to the creator's bank, and a fraction would stay stuck in the account.
        """
        params: TransferCreateParams = {
            "amount": to_stripe_payout(amount, currency),
            "currency": currency.lower(),
            "destination": destination,
            "metadata": {**(metadata or {}), "operation": key},
        }
        if source_transaction is not None:
            params["source_transaction"] = source_transaction
        if transfer_group is not None:
            params["transfer_group"] = transfer_group
        transfer = await self._call(self._client.v1.transfers.create_async(params, {"idempotency_key": key}))
        return transfer_info(transfer)

    async def retrieve_transfer(self, transfer_id: str) -> TransferInfo:
        """The transfer, with its reversals (``amount_reversed``, ``reversed``)."""
        return transfer_info(await self._call(self._client.v1.transfers.retrieve_async(transfer_id)))

    # Disputes

    async def retrieve_dispute(self, dispute_id: str) -> DisputeInfo:
        dispute = _plain(await self._call(self._client.v1.disputes.retrieve_async(dispute_id)))
        currency = _text(dispute, "currency") or ""
        return DisputeInfo(
            dispute_id=str(dispute.get("id")),
            status=_text(dispute, "status") or "",
            reason=_text(dispute, "reason") or "",
            amount=from_stripe(_int(dispute, "amount") or 0, currency),
            currency=currency.upper(),
            charge_id=_id_of(dispute.get("charge")),
            payment_intent=_id_of(dispute.get("payment_intent")),
        )

    async def _call(self, request: Awaitable[T], *, declines: bool = False) -> T:
        """Await one SDK call; its errors become ours (a ``CardError`` passes through where ``declines``)."""
        try:
            return await request
        except stripe.CardError as error:
            if declines:
                raise
            raise translate(error) from error
        except stripe.StripeError as error:
            raise translate(error) from error
        except (TimeoutError, aiohttp.ClientError, OSError) as error:
            raise StripeUnavailable("Stripe's answer was cut off; the outcome is unknown") from error


def translate(error: stripe.StripeError) -> StripeRailError:
    """The gateway's error for one of the SDK's: unknown (retry with the same key) or refused."""
    status = error.http_status
    code = error.code
    said = _said(error)
    if isinstance(error, stripe.APIConnectionError):
        return StripeUnavailable("Stripe could not be reached or did not answer in time; the outcome is unknown")
    if isinstance(error, stripe.RateLimitError):
        return StripeUnavailable("Stripe is limiting the rate of requests (429); the outcome is unknown", http_status=status)
    if isinstance(error, stripe.IdempotencyError):
        return StripeIdempotencyConflict(f"Stripe refused the idempotency key{said}", http_status=status)
    if status is None or status >= 500 or status == 409:
        return StripeUnavailable(f"Stripe answered {status or 'nothing'}; the outcome is unknown", http_status=status)
    if isinstance(error, stripe.AuthenticationError):
        return StripeRequestRefused("Stripe refused the API key (401)", http_status=status)
    if isinstance(error, stripe.PermissionError):
        return StripeRequestRefused(f"the API key may not do this (403){said}", http_status=status)
    param = getattr(error, "param", None)
    if status == 404 or code == "resource_missing":
        return StripeNotFound(f"no such object at Stripe{said}", http_status=status, stripe_code=code, param=param)
    return StripeRequestRefused(f"Stripe refused the request{said}", http_status=status, stripe_code=code, param=param)


def _said(error: stripe.StripeError) -> str:
    """Stripe's own message of the error (never the key: Stripe masks it), after a colon."""
    message = error.user_message if isinstance(error.user_message, str) else None
    return f": {message}" if message else ""


def verify_webhook(payload: bytes | str, sig_header: str | None, secret: str, *, tolerance: int = 300) -> WebhookEvent:
    """The event of a webhook, once its ``Stripe-Signature`` is checked against our endpoint's ``secret``.

    A missing, malformed, wrong or older-than-``tolerance``-seconds signature,
    or a body that is not an event, raises ``StripeSignatureInvalid``.
    """
    if not sig_header:
        raise StripeSignatureInvalid("the webhook has no Stripe-Signature header")
    if not secret:
        raise StripeSignatureInvalid("no webhook secret is configured to check the signature with")
    try:
        event = stripe.Webhook.construct_event(payload, sig_header, secret, tolerance=tolerance)
    except stripe.SignatureVerificationError as error:
        raise StripeSignatureInvalid("the webhook's signature does not match its body, or is too old") from error
    except (ValueError, UnicodeDecodeError) as error:
        raise StripeSignatureInvalid("the webhook's body is not a Stripe event") from error
    plain = _plain(event)
    data = plain.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    return WebhookEvent(
        event_id=str(plain.get("id")),
        type=_text(plain, "type") or "",
        created=_int(plain, "created") or 0,
        account=_text(plain, "account"),
        object=dict(obj) if isinstance(obj, Mapping) else {},
    )


def payment_outcome(intent: stripe.PaymentIntent | Mapping[str, Any]) -> PaymentOutcome:
    """Our state of a PaymentIntent (Stripe's statuses, from the API reference):

    requires_payment_method / requires_confirmation: created (with the client
    secret); a decline leaves requires_payment_method with last_payment_error:
    failed; requires_action: requires_action (the client secret is the next
    step); processing, and requires_capture: processing; succeeded: succeeded
    (with the fee where the balance transaction is there); canceled: failed.
    A status this SDK does not know is not final: processing.
    """
    intent = _plain(intent)
    currency = (_text(intent, "currency") or "").upper()
    metadata = intent.get("metadata")
    charge = intent.get("latest_charge")
    base: dict[str, Any] = {
        "intent_id": str(intent.get("id")),
        "amount": from_stripe(_int(intent, "amount") or 0, currency),
        "currency": currency,
        "operation": metadata.get("operation") if isinstance(metadata, Mapping) else None,
        "charge_id": _id_of(charge),
    }
    status = _text(intent, "status")
    secret = _text(intent, "client_secret")
    error = intent.get("last_payment_error")
    if status == "succeeded":
        fee, fee_currency = _fee(charge)
        return PaymentOutcome("succeeded", fee=fee, fee_currency=fee_currency, **base)
    if status == "requires_action":
        action = intent.get("next_action")
        kind = action.get("type") if isinstance(action, Mapping) else None
        return PaymentOutcome("requires_action", next_action=kind, client_secret=secret, **base)
    if status == "canceled":
        reason = _text(intent, "cancellation_reason")
        return PaymentOutcome(
            "failed", failure_code="canceled", failure="the payment was canceled" + (f" ({reason})" if reason else ""), **base
        )
    if status == "requires_payment_method" and isinstance(error, Mapping):
        code, message = decline(error.get("code"), error.get("decline_code"))
        return PaymentOutcome("failed", failure_code=code, failure=message, **base)
    if status in ("requires_payment_method", "requires_confirmation"):
        return PaymentOutcome("created", client_secret=secret, **base)
    return PaymentOutcome("processing", **base)


def decline(code: object, decline_code: object) -> tuple[str, str]:
    """The code and the funder's message for a declined payment (never Stripe's raw text)."""
    for candidate in (decline_code, code):
        if isinstance(candidate, str) and candidate in DECLINES:
            return candidate, DECLINES[candidate]
    known = next((c for c in (decline_code, code) if isinstance(c, str) and c), "payment_failed")
    return known, "the payment was declined"


def refund_outcome(refund: stripe.Refund | Mapping[str, Any]) -> RefundOutcome:
    refund = _plain(refund)
    currency = (_text(refund, "currency") or "").upper()
    status = _text(refund, "status")
    state: RefundState = "succeeded" if status == "succeeded" else "failed" if status in ("failed", "canceled") else "pending"
    metadata = refund.get("metadata")
    return RefundOutcome(
        refund_id=str(refund.get("id")),
        state=state,
        amount=from_stripe(_int(refund, "amount") or 0, currency),
        currency=currency,
        payment_intent=_id_of(refund.get("payment_intent")),
        charge_id=_id_of(refund.get("charge")),
        operation=metadata.get("operation") if isinstance(metadata, Mapping) else None,
        failure=_text(refund, "failure_reason") if state == "failed" else None,
    )


def connected_account(account: stripe.Account | Mapping[str, Any]) -> ConnectedAccount:
    account = _plain(account)
    capabilities = account.get("capabilities")
    requirements = account.get("requirements")
    due = requirements.get("currently_due") if isinstance(requirements, Mapping) else None
    return ConnectedAccount(
        account_id=str(account.get("id")),
        charges_enabled=account.get("charges_enabled") is True,
        payouts_enabled=account.get("payouts_enabled") is True,
        details_submitted=account.get("details_submitted") is True,
        transfers_active=isinstance(capabilities, Mapping) and capabilities.get("transfers") == "active",
        country=_text(account, "country"),
        default_currency=_text(account, "default_currency"),
        requirements_due=tuple(str(item) for item in due) if isinstance(due, list) else (),
    )


def transfer_info(transfer: stripe.Transfer | Mapping[str, Any]) -> TransferInfo:
    transfer = _plain(transfer)
    currency = (_text(transfer, "currency") or "").upper()
    reversals = transfer.get("reversals")
    listed = reversals.get("data") if isinstance(reversals, Mapping) else None
    metadata = transfer.get("metadata")
    return TransferInfo(
        transfer_id=str(transfer.get("id")),
        destination=_id_of(transfer.get("destination")) or "",
        amount=from_stripe(_int(transfer, "amount") or 0, currency),
        currency=currency,
        amount_reversed=from_stripe(_int(transfer, "amount_reversed") or 0, currency),
        reversed=transfer.get("reversed") is True,
        operation=metadata.get("operation") if isinstance(metadata, Mapping) else None,
        reversals=tuple(
            TransferReversal(
                reversal_id=str(item.get("id")),
                amount=from_stripe(_int(item, "amount") or 0, currency),
                currency=currency,
                created=_int(item, "created") or 0,
            )
            for item in (listed if isinstance(listed, list) else [])
            if isinstance(item, Mapping)
        ),
        destination_payment=_id_of(transfer.get("destination_payment")),
    )


def _fee(charge: object) -> tuple[Decimal | None, str | None]:
    """Stripe's fee on a charge, from its balance transaction when expanded (else unknown)."""
    if not isinstance(charge, Mapping):
        return None, None
    transaction = charge.get("balance_transaction")
    if not isinstance(transaction, Mapping):
        return None, None
    fee, currency = transaction.get("fee"), transaction.get("currency")
    if not isinstance(fee, int) or not isinstance(currency, str):
        return None, None
    return from_stripe(fee, currency), currency.upper()


def _plain(obj: stripe.StripeObject | Mapping[str, Any]) -> Mapping[str, Any]:
    """The SDK's object as plain data (a StripeObject is no dict), or the mapping given."""
    return obj.to_dict() if isinstance(obj, stripe.StripeObject) else obj


def _id_of(value: object) -> str | None:
    """The id of an expandable field: the id itself, or the expanded object's."""
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return str(value["id"])
    return None


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    return value if isinstance(value, str) else None


def _int(obj: Mapping[str, Any], key: str) -> int | None:
    value = obj.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else None
