"""Rails: plugins that move money between the platform and the world outside."""

from adapters.base import Outcome, PayoutRequest, Rail, RefundRequest, TopUpRequest, WebhookEvent, load_rails
from adapters.states import IN_FLIGHT, PaymentState

__all__ = [
    "IN_FLIGHT",
    "Outcome",
    "PaymentState",
    "PayoutRequest",
    "Rail",
    "RefundRequest",
    "TopUpRequest",
    "WebhookEvent",
    "load_rails",
]
