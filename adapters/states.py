"""The states a payment goes through at a provider, in the words every rail answers with.

One vocabulary for money coming in (a top-up) and going out (a payout), so
that one state machine (``gateway.core.states.PAYMENT_MOVES``) rules both.
"""

from __future__ import annotations

from enum import StrEnum


class PaymentState(StrEnum):
    CREATED = "created"  # recorded, the provider not yet asked (or asked, nothing begun there)
    REQUIRES_ACTION = "requires_action"  # the person must act: 3-D Secure, an approval at PayPal
    PROCESSING = "processing"  # the provider has it and has not decided
    UNKNOWN = "unknown"  # the provider did not answer (a timeout, a 5xx): asked again later, never guessed
    SUCCEEDED = "succeeded"  # the money moved
    FAILED = "failed"  # it did not, and never will
    REFUNDED = "refunded"  # moved, then given back (a refund, a reversed transfer, a returned payout)
    DISPUTED = "disputed"  # moved, then contested by the payer's bank


# Still in flight: the janitor (``gateway rails sync``) asks the provider about these.
IN_FLIGHT = frozenset({PaymentState.CREATED, PaymentState.REQUIRES_ACTION, PaymentState.PROCESSING, PaymentState.UNKNOWN})
