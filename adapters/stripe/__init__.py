"""Stripe, for the card rail (issue 10): the SDK wrapper, Stripe's minor units, and the errors.

The rail itself comes later and builds on these: ``StripeApi`` (``client``),
``to_stripe_charge``, ``to_stripe_payout`` and ``from_stripe`` (``minor``).
"""

from adapters.stripe.client import (
    AccountLink,
    ConnectedAccount,
    DisputeInfo,
    PaymentOutcome,
    RefundOutcome,
    StripeApi,
    TransferInfo,
    TransferReversal,
    WebhookEvent,
    verify_webhook,
)
from adapters.stripe.errors import (
    StripeAmountRefused,
    StripeIdempotencyConflict,
    StripeNotFound,
    StripeRailError,
    StripeRequestRefused,
    StripeSignatureInvalid,
    StripeUnavailable,
)
from adapters.stripe.minor import from_stripe, to_stripe_charge, to_stripe_payout

__all__ = [
    "AccountLink",
    "ConnectedAccount",
    "DisputeInfo",
    "PaymentOutcome",
    "RefundOutcome",
    "StripeAmountRefused",
    "StripeApi",
    "StripeIdempotencyConflict",
    "StripeNotFound",
    "StripeRailError",
    "StripeRequestRefused",
    "StripeSignatureInvalid",
    "StripeUnavailable",
    "TransferInfo",
    "TransferReversal",
    "WebhookEvent",
    "from_stripe",
    "to_stripe_charge",
    "to_stripe_payout",
    "verify_webhook",
]
