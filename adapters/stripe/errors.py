"""What can go wrong talking to Stripe, as errors of the gateway's one tree.

The line that matters to the caller is between *unknown* and *refused*:

- ``StripeUnavailable``: Stripe could not be reached, timed out, answered 5xx,
  409 (a request with the same key still running) or 429. The operation may
  or may not have happened: the caller keeps it pending and asks again with
  the same idempotency key; it never marks it failed for this.
- ``StripeRequestRefused`` (and ``StripeNotFound``, ``StripeIdempotencyConflict``):
  Stripe read the request and refused it; asking again the same way is refused again.

A card that is declined is not an error: the PaymentIntent ends ``failed``
with a message (``client.PaymentOutcome``). None of these errors ever
carries the secret key.
"""

from __future__ import annotations

from gateway.errors import GatewayError, ValidationError


class StripeRailError(GatewayError):
    """Base of every error about Stripe."""

    code = "stripe_error"
    status = 502


class StripeUnavailable(StripeRailError):
    """The outcome is unknown: ask again later with the same idempotency key."""

    code = "rail_unavailable"
    status = 503


class StripeRequestRefused(StripeRailError):
    """Stripe read the request and refused it (``stripe_code`` and ``param`` say why, when Stripe said)."""

    code = "stripe_request_refused"


class StripeNotFound(StripeRequestRefused):
    """No such object at Stripe (or none this key may see)."""

    code = "stripe_not_found"


class StripeIdempotencyConflict(StripeRequestRefused):
    """Our idempotency key came back to Stripe with other parameters (or for another endpoint): a bug of ours."""

    code = "stripe_idempotency_conflict"


class StripeSignatureInvalid(StripeRailError):
    """A webhook whose signature is missing, wrong or too old, or whose body is not an event."""

    code = "webhook_signature_invalid"
    status = 400


class StripeAmountRefused(ValidationError):
    """An amount Stripe cannot take as it is in that currency (see ``adapters.stripe.minor``)."""

    code = "amount_not_accepted_by_stripe"
